"""Profiles from per-segment aggregates: the warehouse's SELECT (run on a real DuckDB) returns what pandas
computes, and the traits and profiles built from it are the ones ``ml.profiles`` builds from the frames."""

import re

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.profiles import build_profiles, trait_table
from ml.segment_summary import (
    profiles_from_summary,
    region_counts_sql,
    summarise,
    summary_columns,
    summary_sql,
    traits_from_summary,
)
from ml.segmentation import SegmentationConfig, fit_segments
from tests.unit.planted_frames import planted_features

# the planted 3 x 2 segments, without the search for k (other tests cover it): a fit in seconds
FAST = dict(bootstrap_rounds=1, macro_k_min=3, macro_k_max=3, micro_k_min=2, micro_k_max=2, silhouette_sample=500)
BUDGET = 50_000.0
CLOSE = dict(check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def features():
    """The planted frame with what a real feature mart has: booleans, nullable integers, one-order customers
    without a gap between orders, refunds past the revenue, regions missing or 'unknown', a channel never sent."""
    df = planted_features(n_per_micro=100).drop(columns=["macro_truth", "micro_truth"])
    rng = np.random.default_rng(3)
    n = len(df)
    df["order_count"] = df["order_count"].astype("int32")
    df["is_loyalty_member"] = rng.random(n) < 0.4
    df["age_years"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(18, 80, n)), dtype="Int32")
    df["is_repeat_buyer"] = (df["order_count"] >= 2).astype("int32")
    df.loc[df["order_count"] == 1, "mean_days_between_orders"] = np.nan
    df.loc[df.index[:20], "net_revenue"] = -15.0  # refunds larger than the orders
    df.loc[df.index[20:60], "region"] = None
    df.loc[df.index[60:90], "region"] = "unknown"
    garden = df["share_garden"] > 0.5  # the garden buyers would open push most, but were never sent any
    df["push_open_rate"] = np.where(garden, 0.9, df["push_open_rate"])
    df["push_touches"] = np.where(garden, 0, df["push_touches"])
    df["as_of_date"] = pd.Timestamp("2026-06-30")  # not a number: not summarised
    return df


@pytest.fixture(scope="module")
def result(features):
    return fit_segments(features, SegmentationConfig(**FAST))


@pytest.fixture(scope="module")
def before(features, result):
    """The profiles of the unchanged features."""
    return build_profiles(features, result.assignments, result.stability(), trait_table(features, result.assignments),
                          BUDGET)


def in_duckdb(features: pd.DataFrame, assignments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two SELECTs run by a real DuckDB over the frames, the columns taken from a frame of no rows."""
    with duckdb.connect() as con:
        con.register("features", features)
        con.register("assignments", assignments[["customer_id", "macro_segment_id", "segment_id"]])
        columns = summary_columns(con.execute("select * from features limit 0").df())
        summary = con.execute(summary_sql("features", "assignments", columns)).df()
        regions = con.execute(region_counts_sql("features", "assignments")).df()
    return summary, regions


def test_the_sql_summary_is_what_pandas_computes(features, result):
    summary, regions = in_duckdb(features, result.assignments)
    expected_summary, expected_regions = summarise(features, result.assignments)
    pd.testing.assert_frame_equal(summary, expected_summary, **CLOSE)
    pd.testing.assert_frame_equal(regions, expected_regions)
    # a few dozen rows, not a row per customer: the base, every macro and every micro segment
    micro_ids = sorted(result.assignments["segment_id"].unique())
    assert summary["level"].tolist() == ["population"] + ["macro"] * len(result.macro_ids) + ["micro"] * len(micro_ids)
    assert summary.loc[summary["level"] == "micro", "segment_id"].tolist() == micro_ids
    by_level = summary.groupby("level")["customers"].sum()
    assert by_level["population"] == by_level["macro"] == by_level["micro"] == len(features)
    # regions: NULL left out ('unknown' is a value), counts reconcile with the customers who have one
    population = regions[regions["level"] == "population"].set_index("region")["customers"]
    assert population.sum() == features["region"].notna().sum() and population["unknown"] == 30
    assert summary.loc[0, "repeat_customers"] == (features["order_count"] >= 2).sum()
    assert summary.loc[0, "net_value"] == pytest.approx(features["net_revenue"].clip(lower=0).sum())
    assert summary.loc[0, "mean__is_loyalty_member"] == pytest.approx(features["is_loyalty_member"].mean())
    assert "mean__as_of_date" not in summary and "mean__customer_id" not in summary


def test_traits_and_profiles_from_the_sql_summary_are_those_of_the_frames(features, result):
    summary, regions = in_duckdb(features, result.assignments)
    traits = traits_from_summary(summary)
    expected_traits = trait_table(features, result.assignments)
    pd.testing.assert_frame_equal(traits, expected_traits, **CLOSE)
    profiles = profiles_from_summary(summary, regions, result.stability(), traits, BUDGET)
    expected = build_profiles(features, result.assignments, result.stability(), expected_traits, BUDGET)
    pd.testing.assert_frame_equal(profiles, expected, **CLOSE)
    assert profiles["segment_name"].is_unique and profiles["budget"].sum() == pytest.approx(2 * BUDGET)
    # the garden buyers open push most, but were never sent it: another channel is theirs, until they are sent it
    garden = profiles["segment_id"].isin(summary.loc[summary["mean__share_garden"] > 0.5, "segment_id"])
    assert garden.sum() == 3 and not profiles.loc[garden, "recommended_channel"].eq("push").any()
    sent = features.assign(push_touches=12)
    summary, regions = in_duckdb(sent, result.assignments)
    profiles = profiles_from_summary(summary, regions, result.stability(), traits_from_summary(summary), BUDGET)
    assert profiles.loc[garden, "recommended_channel"].eq("push").all()


@pytest.mark.parametrize("change, unknown, missing_kpi", [
    (lambda f: f.assign(discounted_order_share=0.2), "discount sensitivity", None),
    (lambda f: f.assign(touch_conversion_rate=np.nan), "campaign conversion (no conversions recorded)",
     "conversion_rate"),
    (lambda f: f.drop(columns=[c for c in f.columns if c.startswith("share_")]),
     "categories (no product or category data)", None),
    (lambda f: f.assign(region=np.where(f["region"].isna(), None, "unknown")).assign(
        region=lambda d: d["region"].where(d.index % 2 == 0, "west")), "region", None),
    (lambda f: f.drop(columns=[c for c in f.columns if c.endswith(("_touches", "_open_rate", "_click_rate"))]),
     "contact channel (no marketing touches)", "open_rate"),
], ids=["constant", "all-null", "no-categories", "one-region", "no-touches"])
def test_what_the_data_does_not_support_is_left_out_of_names_and_kpis(features, result, before, change, unknown,
                                                                     missing_kpi):
    changed = change(features)
    summary, regions = in_duckdb(changed, result.assignments)
    traits = traits_from_summary(summary)
    profiles = profiles_from_summary(summary, regions, result.stability(), traits, BUDGET)
    expected = build_profiles(changed, result.assignments, result.stability(), trait_table(changed, result.assignments),
                              BUDGET)
    pd.testing.assert_frame_equal(profiles, expected, **CLOSE)
    assert profiles["cannot_say"].str.contains(unknown, regex=False).all()
    assert profiles["description"].str.contains("The data cannot tell: .*" + re.escape(unknown[:12])).all()
    assert not before["cannot_say"].fillna("").str.contains(unknown, regex=False).any()
    if missing_kpi:  # NULL, never 0, and no target
        assert profiles[missing_kpi].isna().all() and profiles[f"{missing_kpi}_target"].isna().all()
        assert before[missing_kpi].notna().all()
    if unknown == "discount sensitivity":
        assert (profiles["offer_type"] != "discount-led").all()
        assert not traits["feature"].eq("discounted_order_share").any()
    if unknown.startswith("categories"):
        assert profiles["top_categories"].isna().all() and before["top_categories"].notna().all()
    if unknown == "region":  # 'unknown' and one named region are not a geography
        assert profiles["top_regions"].isna().all() and not profiles["segment_name"].str.contains("·").any()
    if unknown.startswith("contact"):
        assert profiles["recommended_channel"].isna().all()


def test_regions_with_as_many_customers_are_named_in_alphabetical_order(features, result):
    """A segment split evenly between two regions: the order is defined (most customers, then name), in SQL
    and in pandas, not left to a sort's whim."""
    segment = result.assignments["segment_id"].value_counts().index[0]
    members = result.assignments.loc[result.assignments["segment_id"] == segment, "customer_id"]
    members = members.iloc[: len(members) // 2 * 2]
    changed = features.copy()
    changed.loc[changed["customer_id"].isin(members), "region"] = np.where(
        np.arange(len(members)) % 2, "west", "midwest")
    assignments = result.assignments[result.assignments["customer_id"].isin(members)
                                     | (result.assignments["segment_id"] != segment)]
    summary, regions = in_duckdb(changed, assignments)
    profiles = profiles_from_summary(summary, regions, result.stability(), traits_from_summary(summary), BUDGET)
    row = profiles.set_index("segment_id").loc[segment]
    assert row["top_regions"] == "midwest, west"
    assert "live mainly in midwest and west" in row["description"]
    assert row["segment_name"].endswith("· Midwest")  # half its customers: the first of the two names it
    expected = build_profiles(changed, assignments, result.stability(), trait_table(changed, assignments), BUDGET)
    assert expected.set_index("segment_id").loc[segment, "top_regions"] == "midwest, west"


def test_the_spark_dialect_quotes_with_backticks_and_uses_no_duckdb_only_syntax(features):
    columns = summary_columns(features)
    for sql in (summary_sql("marts.customer_features_wide", "segments.customer_segments", columns, dialect="spark"),
                region_counts_sql("marts.customer_features_wide", "segments.customer_segments", dialect="spark")):
        assert "`customer_id`" in sql and '"' not in sql
        lowered = " ".join(sql.lower().split())
        assert "filter (" not in lowered and "group by all" not in lowered
    ansi = summary_sql("f", "a", columns)
    assert '"mean__net_revenue"' in ansi and "`" not in ansi
    assert "1.20000000000000000e+01" in ansi  # constants as DOUBLE on every engine


def test_features_without_the_kpi_inputs_are_refused_naming_them(features, result):
    with pytest.raises(ValueError, match=r"\['gross_revenue'\]"):
        summary_sql("f", "a", [c for c in summary_columns(features) if c != "gross_revenue"])
    with pytest.raises(ValueError, match=r"\['gross_revenue'\]"):
        summarise(features.drop(columns="gross_revenue"), result.assignments)
