"""Issue #13, the engine as a resource: a run with engine spark loads the demo through the DuckDB loader, publishes
the raw tables to Spark and builds the dbt feature models there, all as real Dagster materialisations.

Run with `make test-spark` (needs Java 17). The steps start and stop their own SparkSessions (and JVMs), as they
do in a real run, where dbt's JVM and the steps' never share the Derby metastore.
"""

from __future__ import annotations

import dagster as dg
import pytest

from tests.conftest import AS_OF, load_defs, query
from tests.spark.conftest import require_pyspark

pytestmark = pytest.mark.spark

CUSTOMERS = 1_000
WIDE = dg.AssetKey(["marts", "customer_features_wide"])


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory, dbt_manifest):
    """demo_exports -> raw_exports -> dbt_features with the engine resource set to spark, in temp folders; then
    what Spark holds, read in a session of the test's own once the run is over."""
    require_pyspark()
    from orchestration.defs.automation.jobs import DEMO, FEATURES, RAW
    from orchestration.lib.spark import step_session
    from orchestration.lib.warnings import quiet_library_warnings

    quiet_library_warnings()  # a module fixture runs before the per-test autouse filter
    root = tmp_path_factory.mktemp("engine")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROSEG_WAREHOUSE", str(root / "warehouse.duckdb"))
        mp.setenv("MICROSEG_SPARK_DIR", str(root / "spark"))
        mp.setenv("MICROSEG_DEMO", "1")
        mp.delenv("MICROSEG_ENGINE", raising=False)  # the run config chooses it, as the launchpad would
        mp.delenv("MICROSEG_LANDING", raising=False)
        mp.delenv("MICROSEG_INBOX", raising=False)
        defs = load_defs()
        selection = (DEMO | RAW | FEATURES).resolve(defs.resolve_asset_graph())
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            asset_selection=list(selection),
            run_config={"ops": {"demo_exports": {"config": {"n_customers": CUSTOMERS, "seed": 42,
                                                            "reference_date": AS_OF}}},
                        "resources": {"analysis": {"config": {"as_of_date": AS_OF}},
                                      "engine": {"config": {"engine": "spark"}}}},
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        with step_session() as spark:
            in_spark = {
                "features": {r[0] for r in spark.sql(f"select customer_id from {'.'.join(WIDE.path)}").collect()},
                "excluded": {r[0] for r in spark.sql("select customer_id from marts.customer_exclusions").collect()},
                "raw_customers": spark.sql("select count(*) from raw.customers").first()[0],
            }
    return root / "warehouse.duckdb", result, in_spark


def materialization(result, key: dg.AssetKey):
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata


def test_spark_features_hold_every_customer_duckdb_loaded(spark_run):
    warehouse, _, in_spark = spark_run
    loaded = set(query(warehouse, "select distinct customer_id from raw.customers")["customer_id"])
    (raw_rows,) = query(warehouse, "select count(*) as n from raw.customers")["n"]
    assert in_spark["raw_customers"] == raw_rows  # the loader's table, row for row
    features, excluded = in_spark["features"], in_spark["excluded"]
    assert len(features) == CUSTOMERS  # the demo's real customers: its planted test accounts are excluded
    # every loaded customer has features or a recorded reason for none, never both
    assert loaded <= features | excluded and features <= loaded and not features & excluded


def test_the_engine_shows_in_the_materialisations(spark_run):
    warehouse, result, in_spark = spark_run
    for table in ("customers", "orders", "order_items"):
        raw = materialization(result, dg.AssetKey(["raw", table]))
        assert raw["engine"].value == "spark" and raw["spark_table"].value == f"raw.{table}"
        assert raw["spark_rows"].value == raw["dagster/row_count"].value > 0  # what DuckDB loaded is in Spark
    wide = materialization(result, WIDE)
    assert wide["engine"].value == "spark" and wide["dagster/row_count"].value == len(in_spark["features"])
    assert "built in full on Spark" in wide["feature_build"].value  # DuckDB's bookkeeping left out, and said so
    staging = materialization(result, dg.AssetKey(["staging", "stg_shop__orders"]))
    assert staging["staging_build"].value == "table: rebuilt in full on Spark"
    # the features were not built in DuckDB: its warehouse has the load area only
    schemas = set(query(warehouse, "select distinct table_schema from information_schema.tables")["table_schema"])
    assert "marts" not in schemas and "raw" in schemas
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)  # the dbt tests ran on Spark as asset checks
