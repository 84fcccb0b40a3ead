"""One SparkSession for the test session (the spark extra and Java 17: `make test-spark`)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A local[2] session with the dbt profile's settings, its warehouse and metastore in a temp folder;
    dbt-spark's session method in this process gets the same session (getOrCreate)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        pytest.fail("pyspark is not installed: `make test-spark` syncs the spark extra (and installs Java 17)")
    from orchestration.lib.settings import SPARK_DIR_ENV
    from orchestration.lib.spark import spark_session

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SPARK_DIR_ENV, str(tmp_path_factory.mktemp("spark")))
        session = spark_session()
        yield session
        session.stop()
