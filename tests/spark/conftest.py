"""The demo through Dagster on both engines, once per test session, and a SparkSession on what Spark holds
(the spark extra and Java 17). Two suites: `make test-spark` (marker ``spark``) checks the engines' equivalence
on the features alone (``feature_runs``: raw tables and dbt features on each engine); `make test-spark-pipeline`
(marker ``spark_pipeline``) runs every asset on Spark and the daily path there (``runs``)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import AS_OF, load_defs, query

CUSTOMERS = 2_000


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("pyspark is not installed: `make test-spark` syncs the spark extra (and installs Java 17)")


@dataclass(frozen=True)
class FeatureRuns:
    warehouse: Path  # the one DuckDB file both runs loaded (and the second one built features in)
    spark_dir: Path
    on_spark: dg.ExecuteInProcessResult  # the demo, raw tables and dbt features, engine spark
    duckdb_schemas_after_spark: frozenset[str]  # what the Spark run left in the DuckDB file
    on_duckdb: dg.ExecuteInProcessResult  # raw tables and dbt features, engine duckdb, on the same export files


@dataclass(frozen=True)
class Runs:
    warehouse: Path  # the one DuckDB file both runs loaded (and the second one built features in)
    spark_dir: Path
    on_spark: dg.ExecuteInProcessResult  # every asset (full_pipeline's selection), engine spark
    rescored_on_spark: dg.ExecuteInProcessResult  # the daily path on Spark after it, of the same features: scores,
    # segment marts, audiences, report, snapshot
    duckdb_schemas_after_spark: frozenset[str]  # what the Spark runs left in the DuckDB file
    on_duckdb: dg.ExecuteInProcessResult  # the same steps but the demo, engine duckdb, on the same export files


def _materialise(defs: dg.Definitions, selection: dg.AssetSelection, engine: str, ops: dict | None = None):
    keys = list(selection.resolve(defs.resolve_asset_graph()))
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=keys,
        run_config={"ops": ops or {}, "resources": {"analysis": {"config": {"as_of_date": AS_OF}},
                                                    "engine": {"config": {"engine": engine}}}},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


@contextmanager
def _engine_environment(root: Path):
    """The runs' environment: a temp warehouse and Spark folder, the demo on, the engine left to the run config
    (as the launchpad would set it); loads the definitions in it."""
    from orchestration.lib.settings import DEMO_ENV, ENGINE_ENV, INBOX_ENV, LANDING_ENV, SPARK_DIR_ENV, WAREHOUSE_ENV
    from orchestration.lib.warnings import quiet_library_warnings

    quiet_library_warnings()  # a session fixture runs before the per-test autouse filter
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(WAREHOUSE_ENV, str(root / "warehouse.duckdb"))
        mp.setenv(SPARK_DIR_ENV, str(root / "spark"))
        mp.setenv(DEMO_ENV, "1")
        for unset in (ENGINE_ENV, LANDING_ENV, INBOX_ENV):
            mp.delenv(unset, raising=False)
        yield load_defs()


def _schemas(warehouse: Path) -> frozenset[str]:
    return frozenset(query(warehouse, "select distinct table_schema from information_schema.tables")["table_schema"])


DEMO_CONFIG = {"demo_exports": {"config": {"n_customers": CUSTOMERS, "seed": 42, "reference_date": AS_OF}}}


@pytest.fixture(scope="session")
def feature_runs(tmp_path_factory, dbt_manifest) -> FeatureRuns:
    """The demo retailer's raw tables and dbt features through real Dagster materialisations into one temp
    warehouse: with engine spark (DuckDB's loader, the raw tables published to Spark, dbt's spark target), then
    with engine duckdb, whose load finds the same export files unchanged: both engines build their features from
    the same raw tables. Each Spark step starts and stops its own Spark session and JVM, as in a real run."""
    require_pyspark()
    from orchestration.defs.automation.jobs import DEMO, FEATURES, RAW

    root = tmp_path_factory.mktemp("features")
    with _engine_environment(root) as defs:
        on_spark = _materialise(defs, DEMO | RAW | FEATURES, "spark", DEMO_CONFIG)
        assert on_spark.success, [e.message for e in on_spark.all_events if e.is_failure]
        schemas = _schemas(root / "warehouse.duckdb")
        on_duckdb = _materialise(defs, RAW | FEATURES, "duckdb")
        assert on_duckdb.success, [e.message for e in on_duckdb.all_events if e.is_failure]
    return FeatureRuns(root / "warehouse.duckdb", root / "spark", on_spark, schemas, on_duckdb)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, dbt_manifest) -> Runs:
    """The demo retailer through real Dagster materialisations into one temp warehouse: first every asset with the
    engine resource set to spark (DuckDB's loader, the raw tables published to Spark, dbt's spark target, the
    segmentation, scoring, audiences and report from Spark's tables), then the daily path on Spark after it, then
    the raw, feature, segmentation, scoring, segment-mart and audience assets again with engine duckdb. The second load finds the same export files unchanged, so both
    engines build their features from the same raw tables. Each run's steps start and stop their own Spark
    sessions and JVMs, as in a real run (dbt's JVM and a step's never share the Derby metastore)."""
    require_pyspark()
    from orchestration.defs.automation.jobs import AUDIENCES, FEATURES, RAW, REPORT, SEGMENT_MARTS, SNAPSHOT
    from orchestration.defs.scoring.assets import customer_scores
    from orchestration.defs.segmentation.assets import customer_segmentation

    root = tmp_path_factory.mktemp("engines")
    warehouse = root / "warehouse.duckdb"
    with _engine_environment(root) as defs:
        scores = dg.AssetSelection.assets(customer_scores)
        segments = dg.AssetSelection.assets(customer_segmentation) | scores
        on_spark = _materialise(defs, dg.AssetSelection.all(), "spark", DEMO_CONFIG)
        assert on_spark.success, [e.message for e in on_spark.all_events if e.is_failure]
        rescored = _materialise(defs, scores | SEGMENT_MARTS | AUDIENCES | REPORT | SNAPSHOT, "spark")
        assert rescored.success, [e.message for e in rescored.all_events if e.is_failure]
        schemas = _schemas(warehouse)
        on_duckdb = _materialise(defs, RAW | FEATURES | segments | SEGMENT_MARTS | AUDIENCES, "duckdb")
        assert on_duckdb.success, [e.message for e in on_duckdb.all_events if e.is_failure]
    return Runs(warehouse, root / "spark", on_spark, rescored, schemas, on_duckdb)


@pytest.fixture(scope="module")
def spark(request):
    """A local[2] session on the Spark folder and metastore of the runs the module reads (``runs`` for a
    ``spark_pipeline`` module, else ``feature_runs``), started once the runs are over and stopped after each
    module: a module whose Dagster steps start their own JVMs (``RUNS_SPARK_STEPS``) runs after the others, as
    the Derby metastore admits one JVM at a time (tests/conftest.py orders them)."""
    from orchestration.lib.settings import SPARK_DIR_ENV
    from orchestration.lib.spark import spark_session, stop_spark

    pipeline = request.node.get_closest_marker("spark_pipeline") is not None
    spark_dir = request.getfixturevalue("runs" if pipeline else "feature_runs").spark_dir
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SPARK_DIR_ENV, str(spark_dir))
        session = spark_session()
        yield session
        stop_spark(session)
