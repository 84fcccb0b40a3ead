"""Why is this customer here: the few features that most put a customer in their segment.

A customer sits in the segment whose centroid is nearest in the model's scaled space. The margin
over the runner-up centroid r (own centroid o) is ``|x - r|^2 - |x - o|^2``, a sum over output
columns of ``(x_j - r_j)^2 - (x_j - o_j)^2 = (o_j - r_j)(2 x_j - o_j - r_j)``. Each column's term is
summed back to its source feature (the one-hot region columns to ``region``), and the features with
the largest positive terms are the explanation, put in words from the customer's raw value against
the population ("buys beauty 3.1x the average", "app orders 80%").

Micro segments are explained against the nearest other micro segment of the same macro, in the micro
model's space; a macro holding a single micro segment is explained at the macro level instead (its
runner-up is the nearest other macro). With one segment in all there is nothing to explain.
Works from the persisted model (``segments.model_scaling`` / ``model_centroids`` rows, as
``ml.scoring``), vectorised in chunks so memory stays bounded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features import SHARE_PREFIX, FeatureScaler, channel_columns, device_columns
from ml.profiles import CHANNEL_WORDS
from ml.scoring import level_rows

TOP_FEATURES = 3
CHUNK = 100_000
COLUMNS = ["customer_id", "segment_id", "runner_up_segment_id", "rank", "feature", "contribution", "explanation"]

# Numbers a marketer reads: how each feature is said (others: "<feature> <value> (<ratio>x the average)").
LABELS = {
    "net_revenue": "spent", "order_count": "orders", "orders_per_month": "orders a month",
    "avg_order_value": "average order", "items_per_order": "items per order", "sessions_30d": "sessions in 30 days",
    "pages_per_session": "pages per session", "avg_price_rank": "price level (0 cheapest, 1 dearest)",
    "spend_trend": "spend trend (-1 falling, +1 rising)", "gap_variation": "irregularity of orders",
    "touch_conversion_rate": "campaign conversion", "search_session_rate": "sessions with a search",
    "cart_session_rate": "sessions with a cart", "private_label_share": "own-brand spend",
    "discounted_order_share": "orders with a discount", "avg_discount_pct": "average discount",
    "return_rate": "returns",
}
FLAGS = {"is_loyalty_member": ("loyalty member", "not a loyalty member"),
         "is_repeat_buyer": ("repeat buyer", "one-time buyer")}
DAYS = {"recency_days": "last order {v:.0f} days ago", "tenure_days": "customer for {v:.0f} days",
        "mean_days_between_orders": "orders every {v:.0f} days (average {m:.0f})", "age_years": "age {v:.0f} (average {m:.0f})"}
PERCENT_SUFFIXES = ("_rate", "_share", "_pct")  # 0-1 columns, said as percentages


def _times(r: float) -> str:
    """A ratio to the average as people say it: 12x, 3.1x, 0.4x, under 0.1x."""
    return f"{r:.0f}x" if r >= 10 else f"{r:.1f}x" if r >= 0.1 else "under 0.1x"


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}" if abs(x) >= 1 else f"{x:.2g}"


def _mean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def describe(feature: str, values, population: pd.Series) -> list[str]:
    """Words for ``feature`` at each of ``values`` (raw customer values), against ``population`` (that column
    for every customer)."""
    numeric = feature != "region" and pd.api.types.is_numeric_dtype(population)
    mean = _mean(pd.to_numeric(population, errors="coerce").astype(float).to_numpy()) if numeric else float("nan")
    return describe_against(feature, values, mean, numeric)


def describe_against(feature: str, values, m: float, numeric: bool = True) -> list[str]:
    """``describe`` against the population's mean ``m`` of that feature (numbers) or as text (``numeric``
    False): what the words need of the whole base is that one figure."""
    if not numeric:  # a handful of distinct texts (regions): each put in words once
        codes, distinct = pd.factorize(pd.Series(values, dtype=object))
        words = [f"{feature.replace('_', ' ')} {str(v).title()}" for v in distinct]
        return [words[c] if c >= 0 else f"{feature} not recorded" for c in codes]
    v = pd.to_numeric(pd.Series(values), errors="coerce").astype(float).to_numpy() + 0.0  # no "-0" in words
    # many customers share a value (a share of a few units, a rate of a few touches): each distinct one is
    # put in words once, 5x faster over a million customers
    distinct, position = np.unique(v, return_inverse=True)
    words = _words(feature, distinct, m)
    return [words[i] for i in position.ravel()]


def _words(feature: str, v: np.ndarray, m: float) -> list[str]:
    """``describe_against``'s words for the numbers ``v``."""
    ratio = v / m if abs(m) > 1e-12 else np.full(len(v), np.nan)
    channels, devices = channel_columns([feature]), device_columns([feature])
    if feature.startswith(SHARE_PREFIX):
        label = feature.removeprefix(SHARE_PREFIX).replace("_", " ")
        words = [f"buys {label} {_times(r)} the average" if np.isfinite(r) else f"buys {label} {x:.0%}"
                 for x, r in zip(v, ratio)]
    elif channels:
        channel = next(iter(channels))
        said = CHANNEL_WORDS.get(channel, channel.replace("_", " "))
        words = [f"{said} orders {x:.0%}" for x in v]
    elif devices:
        words = [f"{next(iter(devices)).replace('_', ' ')} visits {x:.0%}" for x in v]
    elif feature in FLAGS:
        yes, no = FLAGS[feature]
        words = [yes if x >= 0.5 else no for x in v]
    elif feature in DAYS:
        words = [DAYS[feature].format(v=x, m=m) for x in v]
    elif feature.endswith(PERCENT_SUFFIXES):
        label = LABELS.get(feature, feature.replace("_", " "))
        words = [f"{label} {x:.0%} (average {m:.0%})" for x in v]
    else:
        label = LABELS.get(feature, feature.replace("_", " "))
        words = [f"{label} {_number(x)} ({_times(r)} the average)" if np.isfinite(r) and m > 0
                 else f"{label} {_number(x)} (average {_number(m)})" for x, r in zip(v, ratio)]
    return [w if np.isfinite(x) else f"{feature.replace('_', ' ')} not recorded" for w, x in zip(words, v)]


def margin_by_feature(X: np.ndarray, own: np.ndarray, runner_up: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Per customer (rows of X) and source feature, that feature's part of |x - r|^2 - |x - o|^2.

    ``own`` and ``runner_up`` are the two centroids per customer (rows like X); ``sources`` maps each output
    column to its source feature's index."""
    per_column = (own - runner_up) * (2 * X - own - runner_up)
    to_feature = np.zeros((len(sources), int(sources.max()) + 1))
    to_feature[np.arange(len(sources)), sources] = 1.0  # one-hot columns add up to their feature
    return per_column @ to_feature


def _centroids(centroids: pd.DataFrame, level: str, parent: str | None, columns: list[str]):
    wide = level_rows(centroids, level, parent).pivot(index="segment_id", columns="output_column", values="value")
    return wide.index.to_numpy(dtype=object), wide[columns].to_numpy()


def _explain(rows: np.ndarray, features: pd.DataFrame, own_ids: np.ndarray, scaler: FeatureScaler, ids: np.ndarray,
             C: np.ndarray, top: int, chunk: int) -> list[pd.DataFrame]:
    """Top features for the customers at positions ``rows`` of ``features``, in one level's model."""
    names, sources = np.unique(scaler.params["source_column"].to_numpy(dtype=object), return_inverse=True)
    position = {sid: i for i, sid in enumerate(ids)}
    frames = []
    used = features[list(names)]  # only this model's columns are taken row by row
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        X = scaler.transform(used.iloc[part])
        own = np.array([position[s] for s in own_ids[start:start + chunk]])
        d2 = (X ** 2).sum(1)[:, None] - 2 * X @ C.T + (C ** 2).sum(1)[None, :]  # n x k, not n x k x columns
        d2[np.arange(len(X)), own] = np.inf
        runner = d2.argmin(1)
        margin = margin_by_feature(X, C[own], C[runner], sources)
        k = min(top, margin.shape[1])
        best = np.argsort(-margin, axis=1, kind="stable")[:, :k]
        value = np.take_along_axis(margin, best, axis=1)
        keep = value > 1e-12  # only features that pull towards the own segment
        r, c = np.nonzero(keep)
        frames.append(pd.DataFrame({"_row": part[r], "runner_up_segment_id": ids[runner][r], "rank": c + 1,
                                    "feature": names[best[r, c]], "contribution": value[r, c]}))
    return frames


def explain_customers(features: pd.DataFrame, scaling: pd.DataFrame, centroids: pd.DataFrame,
                      assignments: pd.DataFrame, top: int = TOP_FEATURES, chunk: int = CHUNK,
                      population_means: dict[str, float] | None = None) -> pd.DataFrame:
    """customer_id, segment_id, runner_up_segment_id, rank, feature, contribution, explanation: up to ``top``
    rows per customer of ``assignments`` (customer_id, macro_segment_id, segment_id) found in ``features``,
    from one run's model rows. The words compare with ``features``' own means, or with ``population_means``
    (feature -> the whole base's mean) when ``features`` is one chunk of a larger base."""
    if scaling.empty or centroids.empty:
        raise ValueError("no fitted model to explain with: run the segmentation first")
    seg = assignments.set_index("customer_id").reindex(features["customer_id"])
    macro_of, segment_of = seg["macro_segment_id"].to_numpy(dtype=object), seg["segment_id"].to_numpy(dtype=object)
    macro_scaler = FeatureScaler(level_rows(scaling, "macro", None).reset_index(drop=True))
    macro_ids, macro_c = _centroids(centroids, "macro", None, macro_scaler.columns)
    frames, at_macro = [], []
    for parent in macro_ids:
        rows = np.flatnonzero(macro_of == parent)
        scaler = FeatureScaler(level_rows(scaling, "micro", parent).reset_index(drop=True))
        ids, C = _centroids(centroids, "micro", parent, scaler.columns)
        if len(rows) and len(ids) >= 2:
            frames += _explain(rows, features, segment_of[rows], scaler, ids, C, top, chunk)
        else:
            at_macro.append(rows)  # one micro segment: what sets the macro apart explains it
    rows = np.concatenate(at_macro) if at_macro else np.empty(0, dtype=int)
    if len(rows) and len(macro_ids) >= 2:
        frames += _explain(rows, features, macro_of[rows], macro_scaler, macro_ids, macro_c, top, chunk)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"_row": pd.Series(dtype=int), "runner_up_segment_id": pd.Series(dtype=object), "rank": pd.Series(dtype=int),
         "feature": pd.Series(dtype=object), "contribution": pd.Series(dtype=float)})
    words = np.empty(len(out), dtype=object)  # filled per feature, assigned once (a column set per slice is slow)
    rows_of = out["_row"].to_numpy()
    for feature, at in out.groupby("feature").indices.items():
        values = features[feature].to_numpy()[rows_of[at]]
        if population_means is None:
            words[at] = describe(feature, values, features[feature])
        else:
            numeric = feature != "region" and pd.api.types.is_numeric_dtype(features[feature])
            words[at] = describe_against(feature, values, population_means.get(feature, np.nan), numeric)
    out["explanation"] = pd.Series(words, index=out.index, dtype="str")
    out["customer_id"] = features["customer_id"].to_numpy()[out["_row"].to_numpy()]
    out["segment_id"] = segment_of[out["_row"].to_numpy()]
    out["runner_up_segment_id"] = out["runner_up_segment_id"].astype("string")
    out["segment_id"] = out["segment_id"].astype("string")
    return out.sort_values(["customer_id", "rank"], kind="stable")[COLUMNS].reset_index(drop=True)



DAY_LABELS = {"recency_days": "days since last order", "tenure_days": "days as a customer",
              "mean_days_between_orders": "days between orders", "age_years": "age"}


def feature_label(feature: str) -> str:
    """A feature's short name for a chart axis, in the same words as the explanations."""
    channels, devices = channel_columns([feature]), device_columns([feature])
    if feature.startswith(SHARE_PREFIX):
        return f"buys {feature.removeprefix(SHARE_PREFIX).replace('_', ' ')}"
    if channels:
        channel = next(iter(channels))
        return f"{CHANNEL_WORDS.get(channel, channel.replace('_', ' '))} orders"
    if devices:
        return f"{next(iter(devices)).replace('_', ' ')} visits"
    if feature in FLAGS:
        return FLAGS[feature][0] + "s"
    return DAY_LABELS.get(feature) or LABELS.get(feature) or feature.replace("_", " ")
