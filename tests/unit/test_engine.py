"""The engine resource without Spark: its value and where a bad one is refused, and a run on Spark that holds steps
not built there yet refused before anything is loaded (the Spark runs themselves: tests/spark, make test-spark)."""

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


def test_a_run_on_spark_with_steps_not_built_there_is_refused_before_loading(tmp_path, monkeypatch):
    result = _full_pipeline(tmp_path, monkeypatch, "spark")
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.user_failure_data.description
    assert failure.step_key == "raw_exports"  # the first step, before the loader ran
    assert "This run builds its features on Spark, but " in message
    assert "segment_exports" in message
    # those run on Spark
    assert "raw_exports" not in message and "dbt_features" not in message and "customer_segmentation" not in message
    assert "customer_scores" not in message and "snapshot" not in message and "report" not in message
    assert "dbt_segment_marts" not in message
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing loaded, nothing written
    assert "pyspark" not in sys.modules  # refused without starting Spark


def test_a_step_not_built_on_spark_refuses_itself_on_spark_only():
    from orchestration.lib.engine import refuse_on_spark

    refuse_on_spark("duckdb", "customer_segmentation")
    with pytest.raises(dg.Failure, match="customer_segmentation on Spark is not built yet: it would read DuckDB's "
                                         "tables, not the features built in Spark"):
        refuse_on_spark("spark", "customer_segmentation")


def test_a_refit_on_spark_is_refused_before_it_segments_when_its_job_holds_steps_not_built_there(tmp_path,
                                                                                               monkeypatch):
    # segment_customers exports the audiences after the segmentation, which do not run on Spark yet: the refit is
    # refused at its first step, before reading anything or starting Spark
    result = _full_pipeline(tmp_path, monkeypatch, "spark", job="segment_customers")
    assert not result.success
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert [f.step_key for f in failures] == ["customer_segmentation"]
    message = failures[0].step_failure_data.user_failure_data.description
    assert "This run builds its features on Spark, but " in message and "segment_exports" in message
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert "pyspark" not in sys.modules


def test_the_steps_that_run_on_spark_are_steps_of_the_code_location(monkeypatch):
    from orchestration.lib.engine import SPARK_STEPS

    monkeypatch.setenv("MICROSEG_DEMO", "1")
    job = load_defs().resolve_job_def("full_pipeline")
    assert SPARK_STEPS <= {node.name for node in job.nodes}  # a renamed step would be refused on Spark


def test_a_bad_engine_in_the_run_config_fails_the_run_naming_the_engines(tmp_path, monkeypatch):
    result = _full_pipeline(tmp_path, monkeypatch, "sparky")
    assert not result.success
    errors = " ".join(str(e.event_specific_data.error) for e in result.all_events
                      if e.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE)
    assert "must be one of duckdb, spark, not 'sparky'" in errors
