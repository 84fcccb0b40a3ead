"""Why is this customer here: the explanation math on a hand-built model, and its words."""

import numpy as np
import pandas as pd

from ml.explanations import describe, explain_customers
from ml.segmentation import SegmentationConfig, fit_segments, model_tables
from tests.unit.planted_frames import planted_features

NUMERIC = ["share_beauty", "share_books", "app_order_share", "store_order_share", "recency_days"]


def _scaling() -> pd.DataFrame:
    """Identity scaling (centre 0, scale 1, weight 1) for the numeric columns, one-hot region west/east, at both
    levels: the scaled space is the raw values, so the margins can be worked out by hand."""
    rows = [dict(output_column=c, source_column=c, group="g", kind="numeric", category_value=None, log1p=False,
                 fill_value=0.0, clip_low=-1e9, clip_high=1e9, center=0.0, scale=1.0, weight=1.0) for c in NUMERIC]
    rows += [dict(output_column=f"region={r}", source_column="region", group="geography", kind="onehot",
                  category_value=r, log1p=False, fill_value=0.0, clip_low=0.0, clip_high=1.0, center=0.0, scale=1.0,
                  weight=1.0) for r in ("east", "west")]
    one = pd.DataFrame(rows)
    return pd.concat([one.assign(level="macro", parent_segment_id=None),
                      one.assign(level="micro", parent_segment_id="M1")], ignore_index=True)


def _centroids(micro: dict[str, dict[str, float]]) -> pd.DataFrame:
    columns = [*NUMERIC, "region=east", "region=west"]
    rows = [dict(level="macro", parent_segment_id=None, segment_id="M1", output_column=c, value=0.0) for c in columns]
    rows += [dict(level="micro", parent_segment_id="M1", segment_id=sid, output_column=c, value=v.get(c, 0.0))
             for sid, v in micro.items() for c in columns]
    return pd.DataFrame(rows)


def _customers(**columns) -> pd.DataFrame:
    base = {"customer_id": [1], "share_beauty": [0.0], "share_books": [0.0], "app_order_share": [0.0],
            "store_order_share": [0.0], "recency_days": [0.0], "region": ["east"]}
    return pd.DataFrame({**base, **{k: [v] for k, v in columns.items()}})


def _in(segment: str) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [1], "macro_segment_id": ["M1"], "segment_id": [segment]})


def test_the_column_a_customer_differs_in_from_the_runner_up_is_the_top_feature():
    centroids = _centroids({"M1.1": {"share_beauty": 0.6, "app_order_share": 0.30},
                            "M1.2": {"share_beauty": 0.1, "app_order_share": 0.25}})
    features = _customers(share_beauty=0.55, app_order_share=0.3)
    out = explain_customers(features, _scaling(), centroids, _in("M1.1"))
    assert out["feature"].tolist() == ["share_beauty", "app_order_share"]  # only what pulls towards M1.1
    assert out["runner_up_segment_id"].tolist() == ["M1.2", "M1.2"]
    # (o - r)(2x - o - r) = 0.5 * (1.1 - 0.7) for beauty, 0.05 * (0.6 - 0.55) for the app share
    assert np.allclose(out["contribution"], [0.2, 0.0025])
    # the terms add up to the margin: |x - r|^2 - |x - o|^2
    x, o, r = np.array([0.55, 0.3]), np.array([0.6, 0.3]), np.array([0.1, 0.25])
    assert np.isclose(out["contribution"].sum(), ((x - r) ** 2).sum() - ((x - o) ** 2).sum())


def test_the_region_columns_add_up_to_one_feature_and_only_three_are_kept():
    centroids = _centroids({
        "M1.1": {"region=west": 0.9, "region=east": 0.1, "share_beauty": 0.4, "share_books": 0.3, "recency_days": 5},
        "M1.2": {"region=west": 0.2, "region=east": 0.8},
    })
    features = _customers(region="west", share_beauty=0.4, share_books=0.3, recency_days=5)
    out = explain_customers(features, _scaling(), centroids, _in("M1.1"))
    assert out["feature"].tolist() == ["recency_days", "region", "share_beauty"]  # share_books (0.09) is fourth
    # west: 0.7 * (2 - 1.1) and east: -0.7 * (0 - 0.9), summed into region
    assert np.isclose(out.loc[out["feature"] == "region", "contribution"].item(), 1.26)
    assert out["rank"].tolist() == [1, 2, 3]
    assert "region West" in out["explanation"].tolist()


def test_words_carry_the_customers_numbers_against_the_population():
    population = pd.Series([0.1, 0.1, 0.1, 0.31])  # mean 0.1525
    assert describe("share_beauty", [0.47275], population) == ["buys beauty 3.1x the average"]
    assert describe("app_order_share", [0.8], pd.Series([0.8, 0.2])) == ["app orders 80%"]
    assert describe("store_order_share", [0.25], pd.Series([0.8, 0.2])) == ["in-store orders 25%"]
    assert describe("recency_days", [12.0], pd.Series([12.0, 50.0])) == ["last order 12 days ago"]
    assert describe("region", ["west"], pd.Series(["west", "east"])) == ["region West"]
    assert describe("email_click_rate", [0.3], pd.Series([0.3, 0.1])) == ["email click rate 30% (average 20%)"]
    assert describe("net_revenue", [300.0], pd.Series([300.0, 100.0, 200.0])) == ["spent 300 (1.5x the average)"]
    assert describe("net_revenue", [2.0], pd.Series([2.0, 398.0])) == ["spent 2.0 (under 0.1x the average)"]
    assert describe("orders_per_month", [0.032], pd.Series([0.032, 1.0])) == ["orders a month 0.032 (under 0.1x the average)"]
    assert describe("spend_trend", [1.0], pd.Series([1.0, -1.5])) == ["spend trend (-1 falling, +1 rising) 1.0 (average -0.25)"]
    assert describe("is_loyalty_member", [1.0], pd.Series([1.0, 0.0])) == ["loyalty member"]
    assert describe("net_revenue", [np.nan], pd.Series([1.0, 2.0])) == ["net revenue not recorded"]


def test_on_planted_micro_segments_the_planted_difference_explains_most_customers():
    """Micro personas inside a macro differ in region and order channel: those are what explain them."""
    features = planted_features(n_per_micro=150, n_macro=3, n_micro=2)
    config = SegmentationConfig(macro_k_min=3, macro_k_max=3, micro_k_min=2, micro_k_max=2, bootstrap_rounds=1)
    result = fit_segments(features, config)
    scaling, centroids = model_tables(result)
    out = explain_customers(features, scaling, centroids, result.assignments, chunk=100)  # several chunks
    assert out.groupby("customer_id").size().max() == 3
    assert set(out["customer_id"]) == set(features["customer_id"])
    top = out[out["rank"] == 1]
    planted = top["feature"].isin(["region", "store_order_share", "web_order_share"])
    assert planted.mean() > 0.9, top["feature"].value_counts()
    assert top.loc[top["feature"] == "region", "explanation"].str.match(r"region (Northeast|Southeast)").all()


def test_a_macro_with_one_micro_segment_is_explained_against_the_nearest_other_macro():
    scaling = _scaling()
    scaling = pd.concat([scaling, scaling[scaling["level"] == "micro"].assign(parent_segment_id="M2")])
    columns = [*NUMERIC, "region=east", "region=west"]
    macro = {"M1": {"share_books": 0.7}, "M2": {"share_books": 0.1}}
    rows = [dict(level="macro", parent_segment_id=None, segment_id=m, output_column=c, value=v.get(c, 0.0))
            for m, v in macro.items() for c in columns]
    rows += [dict(level="micro", parent_segment_id=m, segment_id=f"{m}.1", output_column=c, value=0.0)
             for m in macro for c in columns]
    features = _customers(share_books=0.6)
    out = explain_customers(features, scaling, pd.DataFrame(rows),
                            pd.DataFrame({"customer_id": [1], "macro_segment_id": ["M1"], "segment_id": ["M1.1"]}))
    assert out[["segment_id", "runner_up_segment_id", "feature"]].values.tolist() == [["M1.1", "M2", "share_books"]]
    # one segment in all: nothing to set a customer apart from, so no rows (and no error)
    alone = _centroids({"M1.1": {}})
    assert explain_customers(features, _scaling(), alone, _in("M1.1")).empty
