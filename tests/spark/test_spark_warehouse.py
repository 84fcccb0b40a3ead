"""Spark's side of the steps' SQL sessions (orchestration/lib/sql_warehouse.py): the chunked read hands every row
over exactly once and leaves no work table; a publish appends to a history table an earlier version made, adding
the columns it lacks; a failed publish leaves the published tables as they were. `make test-spark`."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tests.spark.conftest import require_pyspark

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """A local[2] session on a Spark folder and metastore of its own: these tests need no pipeline run."""
    require_pyspark()
    from orchestration.lib.settings import SPARK_DIR_ENV
    from orchestration.lib.spark import spark_session, stop_spark

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SPARK_DIR_ENV, str(tmp_path_factory.mktemp("spark-warehouse")))
        session = spark_session()
        yield session
        stop_spark(session)


def test_a_chunked_read_hands_over_every_row_once_and_leaves_no_work_table(spark):
    from orchestration.lib.sql_warehouse import CHUNK_SCHEMA, SparkSqlSession

    session = SparkSqlSession(spark)
    customers = 2_000
    chunks = list(session.chunks(f"select id as customer_id, id * 2 as twice from range({customers})", rows=300))
    ids = pd.concat(chunks)["customer_id"]
    assert len(chunks) >= 5 and max(len(c) for c in chunks) < customers  # never the whole result at once
    assert len(ids) == ids.nunique() == customers
    assert (pd.concat(chunks)["twice"] == pd.concat(chunks)["customer_id"] * 2).all()
    assert list(chunks[0].columns) == ["customer_id", "twice"]  # the bucket is not a column of the result
    assert spark.sql(f"show tables in {CHUNK_SCHEMA}").count() == 0


def test_a_publish_appends_to_an_older_history_table_adding_its_new_columns_and_leaving_others_null(spark):
    from orchestration.lib.sql_warehouse import SparkWarehouse

    spark.sql("create database if not exists scratch")
    spark.sql("drop table if exists scratch.history")
    # completed_at: a mark another step sets later (as dbt_segment_marts does on scoring_runs)
    spark.sql("create table scratch.history (run_id string, customers bigint, completed_at timestamp) using parquet")
    spark.sql("insert into scratch.history values ('old', 10, timestamp'2026-06-30 12:00:00')")
    row = pd.DataFrame([{"run_id": "new", "customers": 12, "engine": "spark", "as_of_date": dt.date(2026, 3, 1)}])
    with SparkWarehouse(spark).publishing("scratch") as publish:
        publish.frames(replace={"latest": row[["run_id"]]}, append={"history": row})
    history = spark.sql("select * from scratch.history order by run_id").toPandas()
    assert list(history.columns) == ["run_id", "customers", "completed_at", "engine", "as_of_date"]
    assert history["run_id"].tolist() == ["new", "old"] and history["customers"].tolist() == [12, 10]
    assert pd.isna(history["completed_at"].iloc[0]) and history["completed_at"].iloc[1] == pd.Timestamp("2026-06-30 12:00")
    assert history["engine"].tolist()[0] == "spark" and pd.isna(history["engine"].tolist()[1])
    assert dict(spark.table("scratch.history").dtypes)["as_of_date"] == "date"  # a date, not its text
    assert spark.sql("select run_id from scratch.latest").first()[0] == "new"


def test_a_failed_publish_leaves_the_published_tables_as_they_were(spark):
    from orchestration.lib.sql_warehouse import SparkWarehouse

    spark.sql("create database if not exists scratch")
    spark.sql("drop table if exists scratch.result")
    spark.sql("create table scratch.result using parquet as select 'published' as state")
    with pytest.raises(RuntimeError, match="the fit broke"):
        with SparkWarehouse(spark).publishing("scratch") as publish:
            publish.table_as("result", "select 'half-written' as state")
            raise RuntimeError("the fit broke")
    assert spark.sql("select state from scratch.result").first()[0] == "published"
    assert not [t for t in spark.catalog.listTables("scratch") if t.name.endswith("__next")]
