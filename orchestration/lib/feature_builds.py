"""Whether the feature build would read exactly what its last complete build read: then it has nothing to do.

The daily path often finds nothing new (the inbox sensor's run already built the day's files). The features are
then those of the last complete build, to the digit: same raw tables, same load ledger, same vars (the as-of date
among them) and the same dbt code. A fingerprint of those inputs is recorded after a build that succeeded in
full, and cleared when any dbt build of feature models starts (by Dagster or by hand), so a failed or partial
build never leaves one behind.
"""

from __future__ import annotations

import hashlib
import json

import duckdb

from orchestration.lib.dbt import manifest
from orchestration.lib.settings import DBT_PROJECT_DIR
from orchestration.lib.warehouse import has_table

RECORD = "staging._feature_builds"


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, dbt_vars: dict) -> str:
    """Hash of what a feature build reads: every raw table's row count and newest load, the vars and the code."""
    parts = [json.dumps(dbt_vars, sort_keys=True), (DBT_PROJECT_DIR / "dbt_project.yml").read_text()]
    m = manifest()
    parts += sorted(f"{uid}:{n['checksum']['checksum']}" for uid, n in m["nodes"].items() if "checksum" in n)
    parts += sorted(f"{uid}:{hashlib.sha256(x['macro_sql'].encode()).hexdigest()}" for uid, x in m["macros"].items())
    tables = con.execute("select table_name, list(column_name) from information_schema.columns "
                         "where table_schema = 'raw' group by 1 order by 1").fetchall()
    for table, columns in tables:
        newest = next((c for c in ("_loaded_at", "loaded_at") if c in columns), None)
        (rows, last) = con.execute(f'select count(*), {f"max({newest})" if newest else "null"} from raw."{table}"'
                                   ).fetchone()
        parts.append(f"raw.{table}:{rows}:{last}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def last_complete_build(con: duckdb.DuckDBPyConnection, fingerprint: str, models: list[tuple[str, str]]) -> str | None:
    """The Dagster run whose complete build read these same inputs, if every model it built is still there."""
    if not has_table(con, *RECORD.split(".")):
        return None
    row = con.execute(f"select dagster_run_id from {RECORD} where fingerprint = ?", [fingerprint]).fetchone()
    if row is None or not all(has_table(con, schema, name) for schema, name in models):
        return None
    return row[0]


def record_complete_build(con: duckdb.DuckDBPyConnection, fingerprint: str, run_id: str) -> None:
    """After a build that succeeded in full. Any dbt invocation that builds feature models clears it first
    (on-run-start, macro forget_feature_build): a build by hand, or one that fails, leaves no record."""
    con.execute(f"create table if not exists {RECORD} (fingerprint varchar, dagster_run_id varchar, built_at timestamp)")
    con.execute(f"delete from {RECORD}")
    con.execute(f"insert into {RECORD} values (?, ?, now())", [fingerprint, run_id])
