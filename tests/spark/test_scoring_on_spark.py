"""Issue #13, the daily path on Spark: the same customer_scores asset, run with engine spark after the segmentation
there, scores every customer in Spark SQL from the persisted model, counts drift in Spark and appends the result to
Spark's ledger; run with engine duckdb on the same raw tables it gives every customer the same score and the same
drift measures (the runs: tests/spark/conftest.py). `make test-spark-pipeline` (needs Java 17).
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from tests.conftest import query
from tests.spark.conftest import CUSTOMERS
from tests.spark.test_engine_equivalence import TOLERANCE, like, max_differences, spark_frame

pytestmark = pytest.mark.spark_pipeline

SCORES = ("select customer_id, macro_segment_id, segment_id, macro_distance, distance, fitted_segment_id, "
          "is_new_customer, changed_segment, as_of_date from segments.customer_scores order by customer_id")
FIRST_RESULT = "(select result_id from segments.scoring_runs order by scored_at limit 1)"
# the engines sort NULL apart (DuckDB last, Spark first): the measures of no feature sort as ''
DRIFT = (f"select measure, scope, feature, value, threshold, breached, customers from segments.drift_measures "
         f"where result_id = {FIRST_RESULT} order by measure, scope, coalesce(feature, '')")
RUNS = ("select result_id, model_run_id, engine, customers, new_customers, changed_segment, drift_breached, "
        "as_of_date from segments.scoring_runs order by scored_at")


def _scores_metadata(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(["segments", "customer_scores"])]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_spark_scores_every_customer_and_keeps_each_result_in_its_ledger(runs, spark):
    rows, distinct = spark.sql("select count(*), count(distinct customer_id) from segments.customer_scores").first()
    assert rows == distinct == CUSTOMERS
    ledger = spark_frame(spark, RUNS)
    # the refit's score, then the daily one: both on Spark, the second of the same features
    assert ledger["engine"].tolist() == ["spark", "spark"]
    assert ledger["customers"].tolist() == [CUSTOMERS, CUSTOMERS]
    (model_run,) = spark.sql("select run_id from segments.segmentation_runs").first()
    assert ledger["model_run_id"].tolist() == [model_run, model_run]
    assert ledger["new_customers"].tolist() == [0, 0] and ledger["changed_segment"].tolist() == [0, 0]
    (latest,) = spark.sql("select distinct result_id from segments.customer_scores").first()
    assert latest == ledger["result_id"].iloc[-1]
    # each result's drift measures appended beside the last one's, none replaced
    per_result = spark_frame(spark, "select result_id, count(*) as n from segments.drift_measures group by 1")
    assert sorted(per_result["result_id"]) == sorted(ledger["result_id"]) and per_result["n"].nunique() == 1
    assert not [t for t in spark.catalog.listTables("segments") if t.name.endswith("__next")]
    # the daily score saw where the previous result's customers went: nowhere
    daily = _scores_metadata(runs.rescored_on_spark)
    assert daily["moved_since_previous_result"] == 0 and daily["dagster/row_count"] == CUSTOMERS
    assert "segments" not in runs.duckdb_schemas_after_spark  # nothing scored into the DuckDB file


def test_every_customer_gets_the_same_score_from_either_engine(runs, spark):
    duck = query(runs.warehouse, SCORES)
    on_spark = like(spark_frame(spark, SCORES), duck)
    differences = max_differences(duck, on_spark, "customer_id").set_index("column")
    print(f"\nScores of each engine ({len(duck):,} customers):\n{differences.to_string()}")
    assert on_spark["customer_id"].tolist() == duck["customer_id"].tolist()
    assert (differences["rows_differing"] == 0).all(), differences
    assert differences["max_abs_diff"].max() <= TOLERANCE
    # the scores are the fit's: nobody new, nobody moved, on either engine
    assert not duck["is_new_customer"].any() and not duck["changed_segment"].any()
    assert (duck["segment_id"] == duck["fitted_segment_id"]).all()


def test_either_engine_measures_the_same_drift_and_records_the_same_result(runs, spark):
    duck = query(runs.warehouse, DRIFT)
    on_spark = like(spark_frame(spark, DRIFT), duck)
    assert len(duck) >= 10
    pd.testing.assert_frame_equal(on_spark, duck, check_exact=False, rtol=1e-9, atol=TOLERANCE)
    columns = ["customers", "new_customers", "changed_segment", "drift_breached", "as_of_date"]
    duck_ledger = query(runs.warehouse, RUNS)[columns]
    spark_ledger = like(spark_frame(spark, RUNS)[columns], duck_ledger).head(1)
    pd.testing.assert_frame_equal(spark_ledger, duck_ledger)
    assert query(runs.warehouse, "select engine from segments.scoring_runs")["engine"].tolist() == ["duckdb"]
