"""The engine resource without Spark: its value and where a bad one is refused, every step able to run on Spark, and a
run on Spark holding a step that cannot refused before anything runs (the Spark runs themselves: tests/spark,
make test-spark)."""

import sys

import dagster as dg
import pytest

from orchestration.defs.resources import ComputeEngine
from tests.conftest import load_defs


def test_the_engine_comes_from_the_resource_else_the_environment_else_duckdb(monkeypatch):
    monkeypatch.delenv("MICROSEG_ENGINE", raising=False)
    assert ComputeEngine().engine == "duckdb"
    monkeypatch.setenv("MICROSEG_ENGINE", " Spark ")
    assert ComputeEngine().engine == "spark" and ComputeEngine().on_spark
    assert ComputeEngine(engine="duckdb").engine == "duckdb"  # the run's config wins over the environment


def test_a_bad_engine_is_refused_naming_where_it_was_set_and_the_engines(monkeypatch):
    with pytest.raises(ValueError, match=r"resources\.engine\.config\.engine must be one of duckdb, spark, not 'sparky'"):
        ComputeEngine(engine="sparky")
    monkeypatch.setenv("MICROSEG_ENGINE", "postgres")
    with pytest.raises(Exception) as failed:
        load_defs()  # the code location does not load with it, rather than run on an engine nobody chose
    causes, error = [], failed.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__ or error.__context__
    assert "$MICROSEG_ENGINE must be one of duckdb, spark, not 'postgres'" in causes  # what `dg dev` shows, last


def test_spark_without_java_is_refused_saying_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no java on it
    ComputeEngine(engine="duckdb").require_ready()  # DuckDB needs neither
    with pytest.raises(dg.Failure, match="The engine spark needs .*Java 17"):
        ComputeEngine(engine="spark").require_ready()


def _full_pipeline(tmp_path, monkeypatch, engine: str, job: str = "full_pipeline"):
    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("MICROSEG_DEMO", "0")
    monkeypatch.delenv("MICROSEG_ENGINE", raising=False)
    monkeypatch.delenv("MICROSEG_SOURCES", raising=False)
    monkeypatch.setenv("MICROSEG_LANDING", str(tmp_path / "landing"))
    return load_defs().resolve_job_def(job).execute_in_process(
        run_config={"resources": {"engine": {"config": {"engine": engine}}}},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def test_every_step_of_the_code_location_runs_on_spark(monkeypatch):
    from orchestration.lib.engine import SPARK_STEPS

    monkeypatch.setenv("MICROSEG_DEMO", "1")
    graph = load_defs().resolve_asset_graph()
    steps = {graph.get(key).assets_def.op.name for key in graph.materializable_asset_keys}
    assert steps == SPARK_STEPS  # a renamed step, or one without a Spark path, would be refused on Spark


def test_a_run_on_spark_holding_a_step_not_built_there_is_refused_before_anything_runs():
    from orchestration.lib.engine import refuse_run_reading_duckdb

    ran = []

    @dg.asset(name="raw_exports")  # a step that runs on Spark, first in its run
    def first(context: dg.AssetExecutionContext):
        refuse_run_reading_duckdb(context, "spark")
        ran.append("raw_exports")

    @dg.asset(deps=[first])
    def step_without_spark():
        ran.append("step_without_spark")

    result = dg.materialize([first, step_without_spark], raise_on_error=False,
                            instance=dg.DagsterInstance.ephemeral())
    assert not result.success and ran == []
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert failure.step_key == "raw_exports"
    assert message.startswith("This run builds its features on Spark, but step_without_spark do not run on Spark")
    assert "raw_exports" not in message.split(" do not run")[0]
    refuse_run_reading_duckdb(None, "duckdb")  # on DuckDB there is nothing to refuse
    assert "pyspark" not in sys.modules  # refused without starting Spark


def test_a_bad_engine_in_the_run_config_fails_the_run_naming_the_engines(tmp_path, monkeypatch):
    result = _full_pipeline(tmp_path, monkeypatch, "sparky")
    assert not result.success
    errors = " ".join(str(e.event_specific_data.error) for e in result.all_events
                      if e.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE)
    assert "must be one of duckdb, spark, not 'sparky'" in errors
