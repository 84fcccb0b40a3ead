"""One SparkSession per test module (the spark extra and Java 17: `make test-spark`)."""

from __future__ import annotations

import pytest


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("pyspark is not installed: `make test-spark` syncs the spark extra (and installs Java 17)")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """A local[2] session with the dbt profile's settings, its warehouse and metastore in a temp folder;
    dbt-spark's session method in this process gets the same session (getOrCreate). Stopped with its JVM at the
    module's end: a module that runs the pipeline's steps starts (and stops) sessions of its own."""
    require_pyspark()
    from orchestration.lib.settings import SPARK_DIR_ENV
    from orchestration.lib.spark import spark_session, stop_spark

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SPARK_DIR_ENV, str(tmp_path_factory.mktemp("spark")))
        session = spark_session()
        yield session
        stop_spark(session)
