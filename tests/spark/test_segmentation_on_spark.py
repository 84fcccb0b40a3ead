"""Issue #13, the segmentation on Spark: the same customer_segmentation asset, run with engine spark, fits on a
sample read from Spark's features, assigns, profiles and explains every customer in Spark SQL and publishes
segments.* in Spark; run with engine duckdb on the same raw tables it gives every customer the same segment and
the same profiles (the runs: tests/spark/conftest.py). `make test-spark-pipeline` (needs Java 17).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from tests.conftest import query
from tests.spark.conftest import CUSTOMERS
from tests.spark.test_engine_equivalence import TOLERANCE, like, spark_frame

pytestmark = pytest.mark.spark_pipeline

SEGMENTS = "select customer_id, macro_segment_id, segment_id, segment_name, distance from segments.customer_segments " \
           "order by customer_id"
PROFILES = "select * from segments.segment_profiles order by level, segment_id"


def _seconds(result) -> float:
    """The segmentation's own seconds per step, summed (its metadata on segmentation_runs)."""
    (event,) = [e for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(["segments", "segmentation_runs"])]
    return sum(event.materialization.metadata["seconds_per_step"].value.values())


def test_spark_segments_every_customer_of_its_features_once(runs, spark):
    features = {r[0] for r in spark.sql("select customer_id from marts.customer_features_wide").collect()}
    rows, distinct = spark.sql("select count(*), count(distinct customer_id) from segments.customer_segments").first()
    assert rows == distinct == len(features) == CUSTOMERS
    segmented = {r[0] for r in spark.sql("select customer_id from segments.customer_segments").collect()}
    assert segmented == features
    (engine,) = spark.sql("select engine from segments.segmentation_runs").first()
    assert engine == "spark"
    assert query(runs.warehouse, "select engine from segments.segmentation_runs")["engine"].tolist() == ["duckdb"]
    # every customer explained on Spark too, and no work table left behind
    assert spark.sql("select count(distinct customer_id) from segments.customer_explanations").first()[0] > 0
    assert spark.sql("show tables in segmentation_work").count() == 0
    assert not [t for t in spark.catalog.listTables("segments") if t.name.endswith("__next")]
    # the Spark run published nothing in DuckDB: its segments are the DuckDB run's
    assert "segments" not in runs.duckdb_schemas_after_spark
    segmentation = [e for e in runs.on_spark.get_asset_materialization_events()
                    if e.asset_key == dg.AssetKey(["segments", "customer_segments"])]
    assert segmentation[0].materialization.metadata["dagster/row_count"].value == CUSTOMERS


def test_every_customer_gets_the_same_segment_from_either_engines_segmentation(runs, spark):
    duck = query(runs.warehouse, SEGMENTS)
    on_spark = like(spark_frame(spark, SEGMENTS), duck)
    assert on_spark["customer_id"].tolist() == duck["customer_id"].tolist()
    assert duck["segment_id"].nunique() >= 4
    for column in ("macro_segment_id", "segment_id", "segment_name"):
        moved = int((duck[column] != on_spark[column]).sum())
        assert moved == 0, f"{moved} customers get another {column} on Spark"
    largest = float((duck["distance"] - on_spark["distance"]).abs().max())
    print(f"\nSegmentation on each engine ({len(duck):,} customers): every segment the same; largest distance "
          f"difference {largest:.2g}; seconds duckdb {_seconds(runs.on_duckdb):.1f}, "
          f"spark {_seconds(runs.on_spark):.1f}")
    assert largest <= TOLERANCE


def test_either_engines_segmentation_publishes_the_same_profiles(runs, spark):
    duck = query(runs.warehouse, PROFILES).drop(columns=["run_id"])
    on_spark = like(spark_frame(spark, PROFILES), query(runs.warehouse, PROFILES)).drop(columns=["run_id"])
    assert len(duck) >= 5 and (on_spark["customers"] == duck["customers"]).all()
    numeric = [c for c in duck.columns if pd.api.types.is_float_dtype(duck[c])]
    largest = max(float((duck[c] - on_spark[c]).abs().max()) for c in numeric)
    print(f"\nProfiles of each engine's segmentation ({len(duck)} segments): largest numeric difference {largest:.2g}")
    pd.testing.assert_frame_equal(on_spark, duck, check_exact=False, rtol=1e-9, atol=TOLERANCE)
