"""Issue #13, what a run on Spark leaves for people: the audience exports from Spark's segment marts (the same
audiences as DuckDB's), the segment report read from Spark's tables, and the published snapshot step, which on
Spark copies nothing and lists the tables analysts query there (the runs: tests/spark/conftest.py).
`make test-spark-pipeline` (needs Java 17)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from tests.conftest import query
from tests.spark.test_engine_equivalence import like, spark_frame

pytestmark = pytest.mark.spark_pipeline


def _metadata(result: dg.ExecuteInProcessResult, key: list[str]) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_the_report_of_a_spark_run_has_a_card_per_segment_read_from_spark(runs, spark):
    report = _metadata(runs.rescored_on_spark, ["report", "segment_report"])
    (segments,) = spark.sql("select count(*) from segments.segment_profiles").first()
    (latest,) = spark.sql("select result_id from segments.scoring_runs order by scored_at desc limit 1").first()
    assert report["segments"] == segments >= 5 and report["report_id"] == latest  # Spark's latest result
    page = (runs.warehouse.parent / "reports" / latest / "index.html").read_text()
    assert page.count("data-segment-id=") == segments
    for (name,) in spark.sql("select segment_name from segments.segment_profiles").collect():
        assert name.replace("&", "&amp;") in page
    # the segment marts built on Spark: two results to compare, so the migrations are on the page
    assert "migrations" not in report["not_in_report"] and "migration-chart" in page


def test_the_snapshot_of_a_spark_run_lists_sparks_published_tables_and_copies_nothing(runs, spark):
    snapshot = _metadata(runs.rescored_on_spark, ["snapshot", "published_warehouse"])
    assert snapshot["engine"] == "spark" and snapshot["copy"].startswith("none")
    (scores,) = spark.sql("select count(*) from segments.customer_scores").first()
    listed = dict(tuple(cell.strip() for cell in line.strip("|").split("|"))
                  for line in snapshot["published_tables"].splitlines()[2:])
    assert listed["segments.customer_scores"] == str(scores) and "marts.customer_features_wide" in listed
    assert snapshot["tables"] == len(listed) >= 10
    assert not (runs.warehouse.parent / "warehouse.published.duckdb").exists()  # no DuckDB copy of Spark's tables


COUNTS = ("select segment_id, audience, segment_size, exported, holdout, no_consent, invalid_key, withheld "
          "from audiences.export_counts where export_id = (select export_id from audiences.exports "
          "order by created_at limit 1) order by segment_id, audience")


def test_the_audiences_of_a_spark_run_are_duckdbs_from_the_same_customers(runs, spark):
    duck = query(runs.warehouse, COUNTS)
    on_spark = like(spark_frame(spark, COUNTS), duck)
    assert len(duck) >= 20 and duck["exported"].sum() > 0
    pd.testing.assert_frame_equal(on_spark, duck)  # every segment's audiences counted alike, first export each
    exports = spark_frame(spark, "select export_id, folder, files, first_export from audiences.exports "
                                 "order by created_at")
    assert exports["first_export"].tolist() == [True, False]  # the daily path's export has deltas to the first
    for folder, files in zip(exports["folder"], exports["files"]):
        manifest = json.loads((Path(folder) / "manifest.json").read_text())
        assert len(manifest["files"]) == files and all((Path(folder) / f["file"]).exists() for f in manifest["files"])
    (members,) = spark.sql("select count(*) from audiences.export_members").first()
    assert members == duck.loc[duck["audience"] == "crm", "exported"].sum()
