"""Issue #13, the engine as a resource: a run with engine spark loads the demo through the DuckDB loader, publishes
the raw tables to Spark and builds the dbt feature models there, all as real Dagster materialisations (the run
itself: tests/spark/conftest.py ``feature_runs``). Run with `make test-spark` (needs Java 17).
"""

from __future__ import annotations

import dagster as dg
import pytest

from tests.conftest import query
from tests.spark.conftest import CUSTOMERS

pytestmark = pytest.mark.spark

WIDE = dg.AssetKey(["marts", "customer_features_wide"])


def materialization(result, key: dg.AssetKey):
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata


def ids(spark, table: str) -> set[int]:
    return {r[0] for r in spark.sql(f"select customer_id from {table}").collect()}


def test_spark_features_hold_every_customer_duckdb_loaded(feature_runs, spark):
    loaded = set(query(feature_runs.warehouse, "select distinct customer_id from raw.customers")["customer_id"])
    (raw_rows,) = query(feature_runs.warehouse, "select count(*) as n from raw.customers")["n"]
    assert spark.sql("select count(*) from raw.customers").first()[0] == raw_rows  # the loader's table, row for row
    features, excluded = ids(spark, "marts.customer_features_wide"), ids(spark, "marts.customer_exclusions")
    assert len(features) == CUSTOMERS  # the demo's real customers: its planted test accounts are excluded
    # every loaded customer has features or a recorded reason for none, never both
    assert loaded <= features | excluded and features <= loaded and not features & excluded


def test_the_engine_shows_in_the_materialisations(feature_runs):
    result = feature_runs.on_spark
    for table in ("customers", "orders", "order_items"):
        raw = materialization(result, dg.AssetKey(["raw", table]))
        assert raw["engine"].value == "spark" and raw["spark_table"].value == f"raw.{table}"
        assert raw["spark_rows"].value == raw["dagster/row_count"].value > 0  # what DuckDB loaded is in Spark
    wide = materialization(result, WIDE)
    assert wide["engine"].value == "spark" and wide["dagster/table_name"].value == "marts.customer_features_wide"
    assert wide["dagster/row_count"].value == CUSTOMERS
    assert "built in full on Spark" in wide["feature_build"].value  # DuckDB's bookkeeping left out, and said so
    staging = materialization(result, dg.AssetKey(["staging", "stg_shop__orders"]))
    assert staging["staging_build"].value == "table: rebuilt in full on Spark"
    # the Spark run built no features in DuckDB: the file held the load area only, until the DuckDB run
    schemas = feature_runs.duckdb_schemas_after_spark
    assert "raw" in schemas and "marts" not in schemas
    assert materialization(feature_runs.on_duckdb, WIDE)["engine"].value == "duckdb"
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 100 and all(c.passed for c in checks)  # the dbt tests ran on Spark as asset checks
