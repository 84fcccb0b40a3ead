"""`python -m orchestration.cli summary`: what the last run left in the warehouse;
`python -m orchestration.cli report`: build the segment report from it (as the report asset does);
`python -m orchestration.cli preflight`: before a launch from the terminal, fail runs whose process died and
free the pool slots they hold (`make run` and `make ui` call it).

Read-only and short-lived: it opens the warehouse, reads, and closes it.
"""

from __future__ import annotations

import argparse
import os
import sys

import duckdb

from orchestration.lib.settings import reports_path, snapshot_path, warehouse_path
from orchestration.lib.warehouse import connect, has_table

TRY_SQL = [
    ("Customers by region and age band",
     "select region, age_band, count(*) as customers, round(avg(net_revenue), 2) as avg_net_revenue\n"
     "  from marts.customer_features group by all order by customers desc limit 10;"),
    ("What cleaning did",
     "select raw_table, rule, action, affected_rows from marts.data_quality_report order by raw_table, action;"),
]


def _segment_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    if not has_table(con, "segments", "segment_profiles"):
        return []
    df = con.execute(
        "select level, segment_id, segment_name, customers, round(share_of_customers * 100, 1) as pct_customers, "
        "round(share_of_revenue * 100, 1) as pct_revenue, round(budget_share * 100, 1) as pct_budget "
        "from segments.segment_profiles where level = 'macro' order by customers desc"
    ).df()
    (n_micro,) = con.execute("select count(*) from segments.segment_profiles where level = 'micro'").fetchone()
    return ["", f"Segments: {len(df)} macro, {n_micro} micro (segments.segment_profiles)", df.to_string(index=False)]


def _audience_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The latest audience export: its folder and, per audience, segment sizes = exported + everyone left out."""
    if not has_table(con, "audiences", "exports"):
        return []
    export_id, folder = con.execute("select export_id, folder from audiences.exports "
                                    "order by created_at desc limit 1").fetchone()
    rows = con.execute("""select audience, sum(segment_size), sum(exported), sum(holdout), sum(no_consent),
                                 sum(invalid_key), sum(withheld)
                          from audiences.export_counts where export_id = ? group by 1 order by 1""",
                       [export_id]).fetchall()
    return ["", f"Audience export {folder} (audiences.export_counts):"] + [
        f"  {a:<12} {n:>10,} = {e:,} exported + {h:,} holdout + {c:,} no consent + {i:,} invalid key + "
        f"{w:,} withheld" for a, n, e, h, c, i, w in rows]


def summary() -> int:
    from orchestration.lib.dbt import raw_tables, staging_model_of  # dagster-dbt: not for the preflight

    path = warehouse_path()
    if not path.exists():
        print(f"No warehouse at {path}. Run `make run` first.", file=sys.stderr)
        return 1
    with connect(read_only=True, path=path) as con:
        if not has_table(con, "marts", "customer_features"):
            print(f"{path} has no marts.customer_features yet: the last run did not finish.", file=sys.stderr)
            return 1
        lines = ["", "microseg warehouse", "=" * 18, f"File: {path}", "", "Rows raw -> staging (duplicates removed):"]
        for raw in raw_tables():
            stg = staging_model_of(raw)
            (n_raw,) = con.execute(f"select count(*) from raw.{raw}").fetchone()
            (n_stg,) = con.execute(f"select count(*) from staging.{stg}").fetchone()
            lines.append(f"  raw.{raw:<18} {n_raw:>12,}  ->  staging.{stg:<24} {n_stg:>12,}")
        (n_feat,) = con.execute("select count(*) from marts.customer_features").fetchone()
        excluded = con.execute("select reason, count(*) from marts.customer_exclusions group by 1 order by 2 desc"
                               ).fetchall()
        n_excl = sum(n for _, n in excluded)
        lines += [f"  customers {n_feat + n_excl:,} = {n_feat:,} with features (marts.customer_features) "
                  f"+ {n_excl:,} excluded (marts.customer_exclusions)"]
        lines += [f"    {n:>10,}  {reason}" for reason, n in excluded]
        if has_table(con, "raw", "_loads"):
            files, read, loaded, duplicate, quarantined, conflicting = con.execute(
                "select count(*), sum(coalesce(rows_read, rows)), sum(rows), sum(coalesce(rows_duplicate, 0)), "
                "sum(coalesce(rows_quarantined, 0)), sum(coalesce(rows_conflicting, 0)) from raw._loads").fetchone()
            lines.append(f"  {files} file loads (raw._loads): {read or 0:,} rows read = {loaded or 0:,} loaded "
                         f"+ {duplicate or 0:,} duplicate + {quarantined or 0:,} quarantined (raw._quarantine)"
                         + (f"; {conflicting:,} keys replaced by a newer export (raw._conflicts)" if conflicting else ""))
        # one line per action (the rules behind each are one query away: the "What cleaning did" SQL below)
        dq = con.execute(
            "select action, count(*) as rules, sum(affected_rows) as rows_affected, "
            "string_agg(distinct raw_table, ', ' order by raw_table) as tables "
            "from marts.data_quality_report where affected_rows > 0 group by action order by action"
        ).df()
        lines += ["", "Cleaning (marts.data_quality_report):"]
        lines += [f"  {r.action:<26} {int(r.rows_affected):>10,} rows by {int(r.rules)} rule(s) in {r.tables}"
                  for r in dq.itertuples()]
        lines += _segment_lines(con)
        lines += _audience_lines(con)
    lines += ["", "Query it: `make sql` opens a read-only DuckDB shell on the published snapshot "
              f"({snapshot_path()}). Try:"]
    for title, sql in TRY_SQL:
        lines += [f"  -- {title}", "  " + sql.replace("\n", "\n  ")]
    print("\n".join(lines))
    return 0


def report() -> int:
    from orchestration.defs.report.render import build_report  # matplotlib only when a report is asked for
    from orchestration.lib.sql_warehouse import DuckDBWarehouse

    path = warehouse_path()
    if not path.exists():
        print(f"No warehouse at {path}. Run `make run` first.", file=sys.stderr)
        return 1
    try:
        page, data, seconds = build_report(DuckDBWarehouse(path), reports_path())
    except ValueError as error:
        print(f"No report: {error}.", file=sys.stderr)
        return 1
    print(f"Segment report ({len(data.profiles)} segments) in {seconds:.1f} s: {page}")
    for missing in data.missing:
        print(f"  not in it: {missing}")
    return 0


def preflight() -> int:
    """One line saying which dead runs were failed and whose slots were freed (the instance in DAGSTER_HOME)."""
    import dagster as dg

    from orchestration.lib.run_health import clean_up_dead_runs

    if not os.environ.get("DAGSTER_HOME"):  # runs without one leave no run history behind to clean
        print("Preflight: DAGSTER_HOME is not set, so there is no run history to check (make run sets it).")
        return 0
    with dg.DagsterInstance.get() as instance:
        print(clean_up_dead_runs(instance).line())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="microseg", description=__doc__)
    parser.add_argument("command", choices=["summary", "report", "preflight"], help="what to do")
    args = parser.parse_args(argv)
    return {"summary": summary, "report": report, "preflight": preflight}[args.command]()


if __name__ == "__main__":
    raise SystemExit(main())
