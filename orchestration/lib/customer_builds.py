"""Whether the per-customer intermediate models may rebuild only the customers whose raw rows changed. The one
place that decides what dbt cannot see.

Those models (dbt_project/macros/customer_builds.sql) recompute, on DuckDB, every customer with a raw row loaded
since their last build and replace that customer's rows: equal to a full rebuild while each customer's rows
depend on that customer's raw rows alone and nothing the last build read went away. dbt checks what it can (the
code fingerprint passed here as the var ``customer_fingerprints``, the as-of date (a later one also rebuilds the
customers whose orders or dates its move reaches; an earlier one, every customer), the feature columns). This
module checks raw against each model's record before dbt runs: a raw row the last build read that is gone (an
export replaced, rows deleted), a row written outside the loader, or a changed product list (a product's
category or price rank moves any customer's mix) means every customer is rebuilt, so the record is forgotten.

A new day touches a fraction of the customers (at 1M customers a day's rows reach 18% of them), so a daily
build recomputes that fraction of these models, also when the day moves the as-of date (the default: the last
transaction date).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.lib.dbt import manifest
from orchestration.lib.settings import DBT_PROJECT_DIR
from orchestration.lib.staging_builds import BUILDS, code_fingerprint, raw_since, unlabelled_rows
from orchestration.lib.warehouse import has_table

STRATEGY = "changed_customers"  # the incremental strategy of these models


def _customer_nodes() -> dict[str, dict]:
    """The models rebuilt customer by customer (their incremental strategy is changed_customers), by unique id."""
    return {uid: n for uid, n in manifest()["nodes"].items()
            if n["resource_type"] == "model" and n["config"].get("incremental_strategy") == STRATEGY}


def customer_models() -> list[str]:
    return sorted(n["name"] for n in _customer_nodes().values())


def _raw_tables(record: tuple) -> list[str]:
    """The raw tables a model's last build counted (the record's raw_table: the macro customer_raw_tables and
    products, which move everyone), so that the macro is their one home."""
    return record[4].split(", ")


def customer_fingerprints() -> dict[str, str]:
    """Per model, a hash of its SQL, of every model upstream of it and of the macros they use, and of the project's
    vars (dbt_project.yml): any change to what a customer's rows are computed from means every customer again."""
    nodes = manifest()["nodes"]
    project = (DBT_PROJECT_DIR / "dbt_project.yml").read_text()
    prints = {}
    for uid, node in _customer_nodes().items():
        todo, upstream = [uid], set()
        while todo:
            parent = todo.pop()
            if parent not in upstream and parent in nodes:
                upstream.add(parent)
                todo += nodes[parent]["depends_on"]["nodes"]
        prints[node["name"]] = code_fingerprint(sorted(upstream), prefix=project)
    return prints


@dataclass(frozen=True)
class CustomerPlan:
    models: tuple[str, ...]
    new_rows: int  # raw rows loaded since the oldest of the models' last builds
    rebuild_all_because: str | None  # set: every customer is rebuilt, and why
    first_build: bool = False
    as_of_moved: tuple[str, str] | None = None  # (from, to): the customers its move reaches are rebuilt too

    def summary(self) -> str:
        if self.first_build:
            return "customer features: first build (every customer)"
        if self.rebuild_all_because:
            return f"customer features: every customer rebuilt ({self.rebuild_all_because})"
        moved = (f" and those whose orders or dates the as-of date's move from {self.as_of_moved[0]} to "
                 f"{self.as_of_moved[1]} reaches" if self.as_of_moved else "")
        if not self.new_rows and not moved:
            return f"customer features: no raw row loaded since the last build, no customer to rebuild " \
                   f"({len(self.models)} models)"
        return (f"customer features: only the customers of the {self.new_rows:,} raw rows loaded since the last "
                f"build{moved} are rebuilt ({len(self.models)} models)")

    def describe(self) -> str:
        """For each model's metadata."""
        return self.summary().removeprefix("customer features: ")


def plan_customers(con: duckdb.DuckDBPyConnection, dbt_vars: dict, staging_full_refresh: bool,
                   finds_changed: bool = True) -> CustomerPlan:
    """Compare raw with what each customer model's last build read (and its code and as-of date with this build's).
    ``finds_changed``: the build includes the changed-customer and changed-order lists (a subset selected without
    them rebuilds all)."""
    models = tuple(customer_models())
    records = {}
    if has_table(con, *BUILDS):
        records = {r[0]: r[1:] for r in con.execute(
            f"select model, loaded_through, raw_rows, code_fingerprint, cast(as_of_date as varchar), raw_table "
            f"from {'.'.join(BUILDS)} where model in ({', '.join('?' * len(models))})", list(models)).fetchall()}
    if not any(has_table(con, n["schema"], n["name"]) for n in _customer_nodes().values()):
        return CustomerPlan(models, 0, None, first_build=True)
    oldest = min((r[0] for r in records.values() if r[0] is not None), default=None)
    tables = sorted({table for record in records.values() for table in _raw_tables(record)})
    new_rows = sum(raw_since(con, table, oldest)[1] for table in tables if has_table(con, "raw", table))
    why = ("int_customers__changed or int_orders__changed is not in this build's selection" if not finds_changed else
           _rebuild_all_because(con, models, records, dbt_vars, staging_full_refresh))
    built_as_of, as_of = min((r[3] for r in records.values()), default=None), dbt_vars.get("as_of_date")
    moved = (built_as_of, as_of) if not why and built_as_of and as_of and built_as_of < as_of else None
    return CustomerPlan(models, new_rows, why, as_of_moved=moved)


def _rebuild_all_because(con, models, records, dbt_vars, staging_full_refresh) -> str | None:
    if staging_full_refresh:
        return "staging is refreshed in full"
    missing = [m for m in models if m not in records]
    if missing:
        return f"no record of the last build of {', '.join(missing)}"
    fingerprints = dbt_vars.get("customer_fingerprints", {})
    changed = [m for m in models if records[m][2] != fingerprints.get(m)]
    if changed:
        return f"the code or vars of {', '.join(changed)} changed since the last build"
    as_of = dbt_vars.get("as_of_date")
    later = sorted({records[m][3] for m in models if as_of is None or records[m][3] > as_of})
    if later:  # a later as-of date is brought forward customer by customer (macros/windows.sql), an earlier is not
        return f"the as-of date moved back from {', '.join(later)} to {as_of}"
    counted = {}  # the models' records usually share one watermark: raw is counted once for it
    for model in models:
        loaded_through, raw_rows = records[model][0], records[model][1]
        read = 0
        for table in _raw_tables(records[model]):
            if (table, loaded_through) not in counted:
                counted[table, loaded_through] = raw_since(con, table, loaded_through)
            kept, new, unlabelled, replaced = counted[table, loaded_through]
            if unlabelled:
                return unlabelled_rows(table, unlabelled)
            if table == "products" and new:
                return f"raw.products changed since the last build ({new:,} rows loaded: a product's category or " \
                       "price rank can move any customer)"
            read += kept + replaced
        if read != raw_rows:
            return f"raw rows {model}'s last build read are no longer there ({raw_rows - read:,} of {raw_rows:,})"
    return None


def forget_customer_builds(con: duckdb.DuckDBPyConnection, models: tuple[str, ...]) -> None:
    """Every customer is rebuilt next: without its record a model recomputes all of them (and deletes the rest)."""
    if has_table(con, *BUILDS) and models:
        con.execute(f"delete from {'.'.join(BUILDS)} where model in ({', '.join('?' * len(models))})", list(models))
