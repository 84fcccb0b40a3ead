"""The Spark target's settings and SQL dialect, without Spark (the equivalence test runs Spark: make test-spark)."""

import pytest

from ml.scoring_sql import quote_identifier, sql_string
from orchestration.lib.spark import spark_settings


def test_spark_session_settings_come_from_the_dbt_profile_with_the_folder_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROSEG_SPARK_DIR", "scratch/spark")  # relative: from the repo root, like every path
    settings = spark_settings()
    assert settings["spark.master"] == "local[2]" and settings["spark.ui.enabled"] == "false"
    warehouse = settings["spark.sql.warehouse.dir"]
    assert warehouse.startswith("/") and warehouse.endswith("scratch/spark/warehouse")
    assert f"databaseName={warehouse.removesuffix('/warehouse')}/metastore_db" in \
        settings["spark.hadoop.javax.jdo.option.ConnectionURL"]


def test_identifiers_and_strings_are_quoted_for_each_dialect():
    assert quote_identifier('odd "name"') == '"odd ""name"""'
    assert quote_identifier("share_men`s", "spark") == "`share_men``s`"
    assert sql_string("men's") == "'men''s'"
    # Spark: '' would be two adjacent literals and \ an escape
    assert sql_string("men's \\ wear", "spark") == "'men\\'s \\\\ wear'"


def _warehouse(path, customers: int):
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(f"create table raw.customers as select range as customer_id from range({customers})")
        con.execute("create table raw._loads as select 'demo' as source, 1 as rows")


def test_raw_tables_are_exported_to_parquet_and_a_failed_export_keeps_the_previous_one(tmp_path):
    import duckdb

    from orchestration.lib.spark import replace_raw_export

    warehouse, folder = tmp_path / "w.duckdb", tmp_path / "raw"
    _warehouse(warehouse, 3)
    exports = replace_raw_export(warehouse, folder)
    # every declared raw table the load area has (an audit table it never created is not invented)
    assert {e.table: e.rows for e in exports} == {"customers": 3, "_loads": 1}
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from read_parquet('{folder}/customers/*.parquet')").fetchone()[0] == 3
    # the next export fails (the warehouse is gone): the files Spark's raw tables read are still the last good ones
    warehouse.unlink()
    with pytest.raises(duckdb.Error):
        replace_raw_export(warehouse, folder)
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from read_parquet('{folder}/customers/*.parquet')").fetchone()[0] == 3


def test_spark_raw_tables_that_are_not_the_load_areas_are_named(tmp_path):
    import duckdb

    from orchestration.lib.spark import replace_raw_export, stale_raw_tables

    warehouse, folder = tmp_path / "w.duckdb", tmp_path / "raw"
    _warehouse(warehouse, 3)
    replace_raw_export(warehouse, folder)
    assert stale_raw_tables(warehouse, folder) == []
    with duckdb.connect(str(warehouse)) as con:  # a load since the export: Spark would build yesterday's features
        con.execute("insert into raw.customers values (3)")
        con.execute("create table raw._quarantine as select 'customers' as entity")
    assert stale_raw_tables(warehouse, folder) == [
        "raw._quarantine: 1 row in DuckDB, not exported (" + str(folder / "_quarantine" / "data.parquet") + ")",
        "raw.customers: 4 rows in DuckDB, 3 in Spark"]
