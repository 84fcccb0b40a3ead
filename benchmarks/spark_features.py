"""The Spark engine beside DuckDB on one machine: the dbt feature build and the scoring SELECT.

    .venv/bin/python benchmarks/spark_features.py --customers 100000   (the spark extra and Java 17: make test-spark)

1. The demo retailer at N customers through `refresh_features` (demo -> raw -> dbt on DuckDB) in a scratch
   warehouse under --workdir, as the pipeline loads it.
2. **DuckDB**: `dbt build` of the feature models and their tests (what the dbt_features asset selects), timed.
3. **Spark local[2]**: the same raw tables exported to Parquet and registered (timed), then the same
   `dbt build --target spark` in this process, timed.
4. One model fitted on a bounded sample of the DuckDB features; its scoring SELECT written as a table on each
   engine, timed.

Prints figures; asserts nothing. On a shared machine they are inflated (and Spark's JVM start is counted once).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
AS_OF = "2026-06-30"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "bench_spark")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = workdir / "warehouse.duckdb"
    for stale in (warehouse, warehouse.with_suffix(".published.duckdb")):
        stale.unlink(missing_ok=True)
    os.environ.update({"MICROSEG_WAREHOUSE": str(warehouse), "MICROSEG_DEMO": "1",
                       "MICROSEG_SPARK_DIR": str(workdir / "spark"), "DAGSTER_HOME": str(workdir / "dagster_home")})
    for name in ("MICROSEG_LANDING", "MICROSEG_INBOX"):
        os.environ.pop(name, None)
    (workdir / "dagster_home").mkdir(exist_ok=True)

    import dagster as dg
    import duckdb

    from ml.scoring_sql import scoring_sql
    from ml.segmentation import SegmentationConfig, fit_segments, model_tables
    from orchestration.defs.transform.assets import SEGMENT_MARTS
    from orchestration.definitions import defs
    from orchestration.lib.dbt import dbt_executable
    from orchestration.lib.settings import DBT_PROJECT_DIR
    from orchestration.lib.spark import load_raw_into_spark, run_dbt, spark_session
    from orchestration.lib.warnings import quiet_library_warnings

    quiet_library_warnings()
    started = time.perf_counter()
    result = defs().resolve_job_def("refresh_features").execute_in_process(
        run_config={"ops": {"demo_exports": {"config": {"n_customers": args.customers, "seed": 42,
                                                        "reference_date": AS_OF}}},
                    "resources": {"analysis": {"config": {"as_of_date": AS_OF}}}},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    if not result.success:
        sys.exit("refresh_features failed: see the log above")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        raw_rows = sum(con.execute(f"select count(*) from raw.{t}").fetchone()[0]
                       for t in ("customers", "orders", "order_items", "products", "web_events", "marketing_touches"))
    print(f"demo at {args.customers:,} customers loaded and featured on DuckDB through Dagster: "
          f"{time.perf_counter() - started:.1f} s, {raw_rows:,} raw rows")

    build = ["build", "--vars", f"{{as_of_date: '{AS_OF}'}}", "--exclude", SEGMENT_MARTS, "--quiet"]
    figures = {}
    clock = time.perf_counter()
    subprocess.run([dbt_executable(), *build, "--target-path", str(workdir / "dbt_duckdb" / "target"),
                    "--log-path", str(workdir / "dbt_duckdb" / "logs")], cwd=DBT_PROJECT_DIR, check=True)
    figures["dbt build, DuckDB"] = time.perf_counter() - clock

    clock = time.perf_counter()
    spark = spark_session()
    figures["Spark session start (JVM)"] = time.perf_counter() - clock
    clock = time.perf_counter()
    load_raw_into_spark(warehouse, spark)
    figures["raw tables DuckDB -> Parquet -> Spark"] = time.perf_counter() - clock
    clock = time.perf_counter()
    run_dbt(build, workdir / "dbt_spark")
    figures["dbt build, Spark local[2]"] = time.perf_counter() - clock

    with duckdb.connect(str(warehouse), read_only=True) as con:
        sample = con.execute("select * from (select * from marts.customer_features_wide using sample "
                             "reservoir(20000 rows) repeatable (42)) order by customer_id").df()
    fitted = fit_segments(sample, SegmentationConfig(macro_k_min=4, macro_k_max=7, micro_k_max=4, bootstrap_rounds=2))
    scaling, centroids = model_tables(fitted)
    features = "marts.customer_features_wide"
    clock = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create or replace table main.bench_scores as {scoring_sql(scaling, centroids, features)}")
        (scored,) = con.execute("select count(*) from main.bench_scores").fetchone()
    figures["scoring SELECT -> table, DuckDB"] = time.perf_counter() - clock
    clock = time.perf_counter()
    spark.sql("drop table if exists marts.bench_scores")
    spark.sql(f"create table marts.bench_scores using parquet as "
              f"{scoring_sql(scaling, centroids, features, dialect='spark')}")
    spark_scored = spark.sql("select count(*) from marts.bench_scores").first()[0]
    figures["scoring SELECT -> table, Spark local[2]"] = time.perf_counter() - clock
    spark.stop()

    print(f"\n{args.customers:,} customers ({scored:,} scored on DuckDB, {spark_scored:,} on Spark; "
          f"{os.cpu_count()} cores):")
    for name, seconds in figures.items():
        print(f"  {name:<42} {seconds:7.1f} s")
    print("  ratio dbt build Spark/DuckDB: "
          f"{figures['dbt build, Spark local[2]'] / figures['dbt build, DuckDB']:.1f}x; scoring: "
          f"{figures['scoring SELECT -> table, Spark local[2]'] / figures['scoring SELECT -> table, DuckDB']:.1f}x")


if __name__ == "__main__":
    main()
