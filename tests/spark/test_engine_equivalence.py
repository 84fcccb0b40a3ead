"""Issue #13: on the same raw tables, DuckDB and Spark give the same features, the same segment for every
customer under one fitted model, and the same profiles.

Real engines only, through Dagster (tests/spark/conftest.py): the demo retailer is loaded by the DuckDB loader,
its validated raw tables published to Spark and the dbt project built there (engine spark, local[2]); then the
same raw tables build the features with dbt-duckdb (engine duckdb). Run with `make test-spark` (needs Java 17).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.profiles import build_profiles, trait_table
from ml.scoring_sql import scoring_sql
from ml.segmentation import SegmentationConfig, fit_segments, model_tables
from tests.conftest import FAST_SEGMENTATION, query
from tests.spark.conftest import CUSTOMERS

pytestmark = pytest.mark.spark

TOLERANCE = 1e-6  # features are rounded to 9 decimals; sums in another order may move the last of them
SEGMENTATION = {k: v for k, v in FAST_SEGMENTATION.items() if k != "total_budget"}
BUDGET = FAST_SEGMENTATION["total_budget"]
FEATURES = "marts.customer_features_wide"


def spark_frame(spark, sql: str) -> pd.DataFrame:
    """A Spark query's rows as a DataFrame (collected: the test's tables are a few thousand rows)."""
    df = spark.sql(sql)
    return pd.DataFrame.from_records([tuple(r) for r in df.collect()], columns=df.columns)


def like(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``reference``'s pandas dtypes (Spark rows arrive as Python objects: dates, None in ints)."""
    out = frame.copy()
    for column, dtype in reference.dtypes.items():
        out[column] = pd.to_datetime(out[column]).astype(dtype) if dtype.kind == "M" else out[column].astype(dtype)
    return out


def max_differences(duck: pd.DataFrame, spark: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per column: the largest absolute difference (numbers) or the rows that differ (anything else)."""
    both = duck.merge(spark, on=key, suffixes=("_duckdb", "_spark"), validate="one_to_one")
    rows = []
    for column in (c for c in duck.columns if c != key):
        a, b = both[f"{column}_duckdb"], both[f"{column}_spark"]
        if pd.api.types.is_numeric_dtype(a) and not pd.api.types.is_bool_dtype(a):
            a, b = a.astype(float), b.astype(float)
            same_nulls = (a.isna() == b.isna()).all()
            diff = float(np.nanmax(np.abs(a - b))) if a.notna().any() else 0.0
            rows.append({"column": column, "max_abs_diff": diff if same_nulls else np.inf, "rows_differing": 0})
        else:
            differ = ~((a == b) | (a.isna() & b.isna()))
            rows.append({"column": column, "max_abs_diff": np.nan, "rows_differing": int(differ.sum())})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def engines(feature_runs, spark):
    """The demo's features on DuckDB and on Spark, each built by a real Dagster run from the same raw tables."""
    return feature_runs.warehouse, spark


def test_raw_tables_reach_spark_row_for_row(engines):
    from orchestration.lib.spark import source_tables

    warehouse, spark = engines
    loaded = set(query(warehouse, "select table_name from information_schema.tables where table_schema = 'raw'")
                 ["table_name"])
    tables = [t for t in source_tables() if t in loaded]
    assert {"customers", "orders", "order_items", "products", "web_events", "marketing_touches",
            "_quarantine", "_loads"} <= set(tables)
    for table in tables:
        rows = query(warehouse, f'select count(*) as n from raw."{table}"')["n"][0]
        assert spark.sql(f"select count(*) from raw.`{table}`").first()[0] == rows, table


def test_features_are_the_same_on_both_engines(engines):
    warehouse, spark = engines
    duck = query(warehouse, f"select * from {FEATURES} order by customer_id")
    on_spark = spark_frame(spark, f"select * from {FEATURES} order by customer_id")
    assert list(on_spark.columns) == list(duck.columns)
    assert len(duck) == CUSTOMERS and on_spark["customer_id"].tolist() == duck["customer_id"].tolist()
    differences = max_differences(duck, like(on_spark, duck), "customer_id")
    print(f"\nFeatures, DuckDB vs Spark ({len(duck):,} customers, {len(differences)} columns):\n"
          + differences.to_markdown(index=False, floatfmt=".3g"))
    numeric = differences.dropna(subset=["max_abs_diff"])
    assert (numeric["max_abs_diff"] <= TOLERANCE).all(), numeric[numeric["max_abs_diff"] > TOLERANCE]
    assert (differences["rows_differing"] == 0).all(), differences[differences["rows_differing"] > 0]
    # the other marts the features come with, row for row
    for table, key in [("marts.customer_exclusions", "customer_id"), ("marts.customer_holdouts", "customer_id")]:
        d = query(warehouse, f"select * from {table} order by {key}")
        s = like(spark_frame(spark, f"select * from {table} order by {key}"), d)
        pd.testing.assert_frame_equal(s, d, check_exact=False, atol=TOLERANCE, obj=table)
    report = "select * from marts.data_quality_report order by raw_table, rule, action"
    d = query(warehouse, report)
    pd.testing.assert_frame_equal(like(spark_frame(spark, report), d), d, obj="marts.data_quality_report")


@pytest.fixture(scope="module")
def scored(engines):
    """One model fitted on the DuckDB features; its scoring SELECT run on each engine's features."""
    warehouse, spark = engines
    duck = query(warehouse, f"select * from {FEATURES} order by customer_id")
    result = fit_segments(duck, SegmentationConfig(**SEGMENTATION))
    scaling, centroids = model_tables(result)
    on_duck = query(warehouse, f"select * from ({scoring_sql(scaling, centroids, FEATURES)}) order by customer_id")
    on_spark = spark_frame(spark, f"select * from ({scoring_sql(scaling, centroids, FEATURES, dialect='spark')}) "
                                  "order by customer_id")
    features_spark = like(spark_frame(spark, f"select * from {FEATURES} order by customer_id"), duck)
    return result, (duck, on_duck), (features_spark, like(on_spark, on_duck))


def test_every_customer_gets_the_same_segment_on_both_engines(scored):
    result, (_, on_duck), (_, on_spark) = scored
    assert len(on_duck) == CUSTOMERS and on_duck["customer_id"].tolist() == on_spark["customer_id"].tolist()
    assert on_duck["segment_id"].nunique() >= 4  # a real model, not one segment for everyone
    for level in ("macro_segment_id", "segment_id"):
        moved = (on_duck[level] != on_spark[level]).sum()
        assert moved == 0, f"{moved} customers get another {level} on Spark"
    distances = {c: float((on_duck[c] - on_spark[c]).abs().max()) for c in ("macro_distance", "distance")}
    print(f"\nScoring, DuckDB vs Spark ({len(on_duck):,} customers): every segment the same; "
          f"largest distance differences {distances}")
    assert max(distances.values()) <= TOLERANCE
    # and both engines agree with the fit itself (the SELECT is the model, not an approximation of it)
    fitted = result.assignments.sort_values("customer_id").reset_index(drop=True)
    assert (fitted["segment_id"].to_numpy() == on_spark["segment_id"].to_numpy()).all()


def test_profiles_are_the_same_on_both_engines(scored):
    result, (duck_features, on_duck), (spark_features, on_spark) = scored
    profiles = {}
    for engine, features, assignments in [("duckdb", duck_features, on_duck), ("spark", spark_features, on_spark)]:
        traits = trait_table(features, assignments)
        profiles[engine] = build_profiles(features, assignments, result.stability(), traits, BUDGET) \
            .sort_values("segment_id").reset_index(drop=True)
    duck, spark = profiles["duckdb"], profiles["spark"]
    assert duck["segment_name"].is_unique and len(duck) >= 5
    print(f"\nProfiles, DuckDB vs Spark ({len(duck)} segments):\n"
          + duck[["segment_id", "segment_name", "customers"]].merge(
              spark[["segment_id", "segment_name", "customers"]], on="segment_id", suffixes=("_duckdb", "_spark"))
          .to_markdown(index=False))
    pd.testing.assert_frame_equal(spark, duck, check_exact=False, rtol=1e-6, atol=TOLERANCE)


def test_profiles_built_inside_each_engine_are_the_same(engines, scored):
    """The segmentation's own path: per-segment aggregates computed by each engine (``ml.segment_summary``'s SQL
    over its features and the scoring SELECT), only a few dozen rows leaving it, then the same profiles."""
    from ml.segment_summary import (profiles_from_summary, region_counts_sql, summary_columns, summary_sql,
                                    traits_from_summary)

    warehouse, spark = engines
    result, (duck_features, _), _ = scored
    scaling, centroids = model_tables(result)
    columns = summary_columns(duck_features)
    frames = {}
    for engine, run, dialect in [("duckdb", lambda q: query(warehouse, q), "ansi"),
                                 ("spark", lambda q: spark_frame(spark, q), "spark")]:
        assigned = f"({scoring_sql(scaling, centroids, FEATURES, dialect=dialect)})"
        frames[engine] = (run(summary_sql(FEATURES, assigned, columns, dialect=dialect)),
                          run(region_counts_sql(FEATURES, assigned, dialect=dialect)))
    (duck_summary, duck_regions), (spark_summary, spark_regions) = frames["duckdb"], frames["spark"]
    spark_summary, spark_regions = like(spark_summary, duck_summary), like(spark_regions, duck_regions)
    pd.testing.assert_frame_equal(spark_summary, duck_summary, check_exact=False, rtol=1e-9, atol=TOLERANCE)
    pd.testing.assert_frame_equal(spark_regions, duck_regions)
    built = {}
    for engine, (summary, regions) in {"duckdb": (duck_summary, duck_regions),
                                       "spark": (spark_summary, spark_regions)}.items():
        built[engine] = profiles_from_summary(summary, regions, result.stability(), traits_from_summary(summary),
                                              BUDGET).sort_values("segment_id").reset_index(drop=True)
    assert len(built["duckdb"]) >= 5 and built["duckdb"]["segment_name"].is_unique
    print(f"\nProfiles from each engine's aggregates ({len(duck_summary)} summary rows, "
          f"{len(duck_summary.columns)} columns): equal")
    pd.testing.assert_frame_equal(built["spark"], built["duckdb"], check_exact=False, rtol=1e-6, atol=TOLERANCE)
