"""ml/ on small planted data: recovers groups, respects minimum sizes, deterministic, scorable from tables."""

import duckdb
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from ml.features import feature_groups
from ml.profiles import build_profiles, trait_table
from ml.scoring import assign_segments
from ml.scoring_sql import scoring_sql
from ml.segmentation import SegmentationConfig, model_tables, fit_segments
from tests.unit.planted_frames import planted_features

FAST = dict(bootstrap_rounds=2, macro_k_min=2, macro_k_max=5, micro_k_min=1, micro_k_max=3, silhouette_sample=800)


@pytest.fixture(scope="module")
def planted():
    return planted_features()


@pytest.fixture(scope="module")
def result(planted):
    return fit_segments(planted.drop(columns=["macro_truth", "micro_truth"]), SegmentationConfig(**FAST))


def test_recovers_planted_macro_and_micro_groups(planted, result):
    a = result.assignments.merge(planted[["customer_id", "macro_truth", "micro_truth"]], on="customer_id")
    assert len(result.macro_ids) == 3
    assert adjusted_rand_score(a["macro_truth"], a["macro_segment_id"]) > 0.95
    assert adjusted_rand_score(a["micro_truth"], a["segment_id"]) > 0.85
    # micro segments nest inside their macro
    assert (a["segment_id"].str.split(".").str[0] == a["macro_segment_id"]).all()


def test_every_candidate_k_is_scored_and_one_chosen_per_fit(result):
    candidates = result.candidates()
    macro = candidates[candidates["level"] == "macro"]
    assert sorted(macro["k"]) == [2, 3, 4, 5]
    assert macro["chosen"].sum() == 1 and macro.loc[macro["chosen"], "k"].item() == 3
    assert macro[["silhouette", "calinski_harabasz", "stability_ari"]].notna().all().all()


def test_no_segment_below_the_minimum_size(planted):
    features = planted.drop(columns=["macro_truth", "micro_truth"])
    config = SegmentationConfig(**{**FAST, "micro_k_max": 6}, min_segment_share=0.1)
    sizes = fit_segments(features, config).assignments["segment_id"].value_counts()
    assert sizes.min() >= config.min_size(len(features)) == 90


def test_same_seed_gives_identical_segments(planted, result):
    again = fit_segments(planted.drop(columns=["macro_truth", "micro_truth"]), SegmentationConfig(**FAST))
    pd.testing.assert_frame_equal(result.assignments, again.assignments)


def test_fits_on_a_bounded_sample_and_still_assigns_everyone(planted):
    features = planted.drop(columns=["macro_truth", "micro_truth"])
    small = fit_segments(features, SegmentationConfig(**FAST, sample_size=300))
    assert len(small.assignments) == len(features) and small.assignments["segment_id"].notna().all()
    a = small.assignments.merge(planted, on="customer_id")
    assert adjusted_rand_score(a["macro_truth"], a["macro_segment_id"]) > 0.9


def test_model_tables_score_customers_without_refitting(planted, result):
    """Replaying the persisted scaling and centroids reproduces every assignment."""
    scaling, centroids = model_tables(result)
    features = planted.drop(columns=["macro_truth", "micro_truth"])
    scored = assign_segments(features, scaling, centroids)
    pd.testing.assert_frame_equal(scored, result.assignments)
    # a new customer that looks like an existing one lands in that customer's segment
    twin = features.iloc[[0]].assign(customer_id=999_999)
    assert assign_segments(twin, scaling, centroids)["segment_id"].item() == result.assignments["segment_id"].iloc[0]


def test_model_as_sql_scores_inside_duckdb_like_python(planted, result):
    """The generated SQL, run by DuckDB over the feature table, gives the fit's assignments."""
    scaling, centroids = model_tables(result)
    features = planted.drop(columns=["macro_truth", "micro_truth"])
    features.loc[features.index[:5], "age_years"] = None  # nulls take the fitted fill value in SQL too
    with duckdb.connect() as con:
        con.register("features_frame", features)
        con.execute("create table customer_features as select * from features_frame")
        in_sql = con.execute(f"select * from ({scoring_sql(scaling, centroids, 'customer_features')}) "
                             "order by customer_id").df()
    in_python = assign_segments(features, scaling, centroids).sort_values("customer_id", ignore_index=True)
    assert len(in_sql) == len(features)
    assert (in_sql["segment_id"] == in_python["segment_id"]).all()
    assert (in_sql["macro_segment_id"] == in_python["macro_segment_id"]).all()
    assert in_sql["distance"].to_numpy() == pytest.approx(in_python["distance"].to_numpy(), abs=1e-9)


def test_profiles_have_unique_names_budget_summing_to_one_and_kpis(planted, result):
    traits = trait_table(planted, result.assignments)
    profiles = build_profiles(planted, result.assignments, result.stability(), traits, total_budget=50_000)
    assert profiles["segment_name"].is_unique
    micro, macro = profiles[profiles["level"] == "micro"], profiles[profiles["level"] == "macro"]
    assert micro["budget_share"].sum() == pytest.approx(1.0)
    assert macro["budget_share"].sum() == pytest.approx(1.0)
    assert profiles["budget"].sum() == pytest.approx(100_000)  # both levels each split the 50,000
    assert micro["share_of_customers"].sum() == pytest.approx(1.0)
    for kpi in ("conversion_rate", "open_rate", "click_rate", "avg_order_value", "repeat_rate", "return_rate"):
        assert profiles[kpi].notna().all() and profiles[f"{kpi}_target"].notna().all()
    assert (profiles["description"].str.count(r"\.") >= 2).all()
    assert micro["is_niche"].any() and not macro["is_niche"].any()
    # the trait index is segment / population x 100
    row = traits[(traits["feature"] == "net_revenue") & (traits["level"] == "macro")].iloc[0]
    assert row["index"] == pytest.approx(row["segment_value"] / row["population_value"] * 100)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="missing columns"):
        fit_segments(pd.DataFrame({"customer_id": [1, 2, 3]}))
    with pytest.raises(ValueError, match="algorithm"):
        SegmentationConfig(algorithm="dbscan")


def test_a_refit_starts_from_the_previous_segments_and_keeps_them_on_the_same_data(planted, result):
    features = planted.drop(columns=["macro_truth", "micro_truth"])
    previous = result.assignments[["customer_id", "macro_segment_id", "segment_id"]]
    refit = fit_segments(features, SegmentationConfig(**{**FAST, "seed": 7}), previous=previous)
    # another seed, but started from the previous segments: the same customers together
    assert adjusted_rand_score(previous["segment_id"], refit.assignments["segment_id"]) == 1.0
    candidates = refit.candidates()
    assert candidates.loc[candidates["chosen"] & (candidates["level"] == "macro"), "warm_start"].item()


def test_contact_channels_are_those_the_data_names(planted, result):
    """Touches over whatsapp, newsletter and post: each one's rates join the engagement features by their
    names, a channel is recommended only where responses were recorded, and the silent one is named."""
    renamed = planted.rename(columns=lambda c: c.replace("email_", "whatsapp_").replace("push_", "newsletter_")
                             .replace("sms_", "post_"))
    renamed["post_click_rate"] = 0.0  # sent, but no click or open recorded
    engagement = feature_groups(renamed.columns)["engagement"].numeric
    assert {"whatsapp_open_rate", "whatsapp_click_rate", "newsletter_open_rate"} <= set(engagement)
    assert "touch_open_rate" not in engagement  # all channels together is a KPI, not a channel
    traits = trait_table(renamed, result.assignments)
    profiles = build_profiles(renamed, result.assignments, result.stability(), traits, total_budget=1_000)
    assert profiles["recommended_channel"].notna().all()
    assert set(profiles["recommended_channel"]) <= {"whatsapp", "newsletter"}
    assert profiles["description"].str.contains(r"response to post \(no opens or clicks recorded\)").all()
    assert not profiles["description"].str.contains("email").any()
