"""The Spark target's settings and SQL dialect, without Spark (the equivalence test runs Spark: make test-spark)."""

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
