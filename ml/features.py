"""Turn the customer feature table into a clustering matrix, with parameters kept as a table.

Each numeric column is optionally log1p'd (spend and counts are long-tailed),
capped at fitted quantiles (outliers), centred on its median and divided by a
robust scale. Each categorical column becomes one-hot columns. Every column is
then multiplied by its group's weight over sqrt(columns in the group), so a group
with many columns does not outvote one with few.

The fitted parameters are a plain DataFrame (one row per output column), so the
same transform can be replayed anywhere, including as SQL in the warehouse:
``(least(greatest(ln(1 + x), clip_low), clip_high) - center) / scale * weight``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SHARE_PREFIX = "share_"  # share_<category>: one column per category found in the data


@dataclass(frozen=True)
class FeatureGroup:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    log1p: tuple[str, ...] = ()  # numeric columns that are long-tailed
    # Shares on one 0-1 scale keep their relative spread: one pooled scale for the group, so a
    # rarely-bought category's noise is not blown up to the size of the columns that differ.
    joint_scale: bool = False


FEATURE_GROUPS: dict[str, FeatureGroup] = {
    "demographics": FeatureGroup(numeric=("age_years", "is_loyalty_member")),
    "preferences": FeatureGroup(
        # plus a share_<category> column for every category in the data (see feature_groups)
        numeric=("avg_price_rank", "private_label_share", "discounted_order_share", "avg_discount_pct"),
        joint_scale=True,
    ),
    "behaviour": FeatureGroup(
        numeric=("recency_days", "order_count", "orders_per_month", "net_revenue", "avg_order_value",
                 "items_per_order", "return_rate", "tenure_days", "is_repeat_buyer", "mean_days_between_orders",
                 "gap_variation", "spend_trend"),
        log1p=("recency_days", "order_count", "orders_per_month", "net_revenue", "avg_order_value",
               "items_per_order", "tenure_days", "mean_days_between_orders"),
    ),
    # one <channel>_order_share and one <device>_share column per value in the data (see feature_groups)
    "channels": FeatureGroup(joint_scale=True),
    "engagement": FeatureGroup(
        # plus <channel>_open_rate and <channel>_click_rate for every touch channel in the data (see feature_groups)
        numeric=("touch_conversion_rate", "sessions_30d", "pages_per_session", "search_session_rate",
                 "cart_session_rate"),
        log1p=("sessions_30d", "pages_per_session"),
    ),
    "geography": FeatureGroup(categorical=("region",)),
}

CLIP_QUANTILES = (0.005, 0.995)


NOT_A_DEVICE = ("private_label_share", "discounted_order_share")


def category_columns(columns) -> list[str]:
    """share_<category>: the share of units a customer bought in each category of the data."""
    return [str(c) for c in columns if str(c).startswith(SHARE_PREFIX)]


def channel_columns(columns) -> dict[str, str]:
    """<channel>_order_share by channel: the share of a customer's orders placed in each channel."""
    return {str(c).removesuffix("_order_share"): str(c) for c in columns
            if str(c).endswith("_order_share") and c not in NOT_A_DEVICE}


def device_columns(columns) -> dict[str, str]:
    """<device>_share by device: any other *_share column that is not a category, channel or known ratio."""
    return {str(c).removesuffix("_share"): str(c) for c in columns
            if str(c).endswith("_share") and not str(c).startswith(SHARE_PREFIX)
            and not str(c).endswith("_order_share") and c not in NOT_A_DEVICE}


CONTACT_MEASURES = ("touches", "open_rate", "click_rate")
ALL_TOUCHES = ("touches_sent", "touch_open_rate", "touch_click_rate")  # every channel together, not one of them


def contact_columns(columns) -> dict[str, dict[str, str]]:
    """Per marketing touch channel in the data, its <channel>_touches (sent), <channel>_open_rate and
    <channel>_click_rate columns, by measure (a channel has those the frame holds)."""
    out: dict[str, dict[str, str]] = {}
    for c in map(str, columns):
        measure = next((m for m in CONTACT_MEASURES if c.endswith(f"_{m}")), None)
        if measure and c not in ALL_TOUCHES:
            out.setdefault(c.removesuffix(f"_{measure}"), {})[measure] = c
    return out


def feature_groups(columns) -> dict[str, FeatureGroup]:
    """The feature groups for a frame: the fixed columns, plus the columns named after values in the data
    (categories leading preferences, channels then devices in the channels group, touch channels'
    response rates leading engagement)."""
    preferences, engagement = FEATURE_GROUPS["preferences"], FEATURE_GROUPS["engagement"]
    rates = [c for m in contact_columns(columns).values() for k, c in m.items() if k != "touches"]
    return {
        **FEATURE_GROUPS,
        "preferences": FeatureGroup(numeric=(*category_columns(columns), *preferences.numeric),
                                    joint_scale=preferences.joint_scale),
        "channels": FeatureGroup(numeric=(*channel_columns(columns).values(), *device_columns(columns).values()),
                                 joint_scale=True),
        "engagement": FeatureGroup(numeric=(*rates, *engagement.numeric), log1p=engagement.log1p),
    }


@dataclass
class FeatureScaler:
    """Fitted preparation: one row per output column of the clustering matrix."""

    params: pd.DataFrame = field(repr=False)
    # feature columns the fit could not use, with why (missing, no data, the same for everyone)
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return self.params["output_column"].tolist()

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        p = self.params
        out = np.empty((len(df), len(p)), dtype=np.float64)
        for i, row in enumerate(p.itertuples(index=False)):
            if row.kind == "onehot":
                x = (df[row.source_column].astype("string") == row.category_value).fillna(False).to_numpy(dtype=float)
            else:
                x = pd.to_numeric(df[row.source_column], errors="coerce").astype(float).to_numpy()
                x = np.where(np.isnan(x), row.fill_value, x)
                if row.log1p:
                    x = np.log1p(np.maximum(x, 0.0))
                x = np.clip(x, row.clip_low, row.clip_high)
            out[:, i] = (x - row.center) / row.scale * row.weight
        return out


def _robust_scale(x: np.ndarray) -> float:
    """IQR scaled to a normal's sd; zero-inflated columns (tiny IQR) fall back to the sd."""
    q1, q3 = np.quantile(x, [0.25, 0.75])
    iqr_sd, sd = (q3 - q1) / 1.349, float(np.std(x))
    scale = iqr_sd if iqr_sd >= 0.5 * sd else sd
    return scale if scale > 1e-12 else 1.0


def fit_scaler(df: pd.DataFrame, weights: dict[str, float], groups: dict[str, FeatureGroup] | None = None) -> FeatureScaler:
    """Fit the preparation on ``df`` (a sample is fine) with a weight per feature group.

    Groups with weight 0 are left out. A column the frame lacks, or that has no data or the
    same value for everyone in ``df``, is left out too (it cannot tell customers apart) and
    recorded in ``left_out``; a group's weight is shared by the columns it keeps. With no
    usable column at all the fit is refused, naming what is missing.
    """
    groups = groups or feature_groups(df.columns)
    unknown = set(weights) - set(groups)
    if unknown:
        raise ValueError(f"unknown feature groups in weights: {sorted(unknown)}; known: {sorted(groups)}")
    left_out: dict[str, str] = {}
    for spec in (spec for g, spec in groups.items() if weights.get(g, 0) > 0):
        for column in (*spec.numeric, *spec.categorical):
            if column not in df.columns:
                left_out[column] = "missing"
            elif df[column].isna().all():
                left_out[column] = "no data"
            elif df[column].nunique(dropna=False) <= 1:
                left_out[column] = "the same for every customer"
    needed = [c for g, spec in groups.items() if weights.get(g, 0) > 0 for c in (*spec.numeric, *spec.categorical)]
    if needed and all(c in left_out for c in needed):
        missing = [c for c in needed if left_out[c] == "missing"]
        raise ValueError(f"customer features are missing columns {missing} and no other column varies: "
                         "nothing to segment on")

    rows = []
    for group, spec in groups.items():
        weight = float(weights.get(group, 0.0))
        if weight <= 0:
            continue
        numeric = [c for c in spec.numeric if c not in left_out]
        categorical = [c for c in spec.categorical if c not in left_out]
        if not numeric and not categorical:
            continue
        per_column = weight / np.sqrt(len(numeric) + len(categorical))
        group_rows = []
        for column in numeric:
            x = pd.to_numeric(df[column], errors="coerce").astype(float)
            fill = float(x.median()) if x.notna().any() else 0.0
            x = x.fillna(fill).to_numpy()
            if column in spec.log1p:
                x = np.log1p(np.maximum(x, 0.0))
            lo, hi = np.quantile(x, CLIP_QUANTILES)
            x = np.clip(x, lo, hi)
            group_rows.append(dict(output_column=column, source_column=column, group=group, kind="numeric",
                                   category_value=None, log1p=column in spec.log1p, fill_value=fill, clip_low=float(lo),
                                   clip_high=float(hi), center=float(np.median(x)), scale=_robust_scale(x),
                                   weight=per_column))
        if spec.joint_scale and group_rows:
            pooled = float(np.sqrt(np.mean([r["scale"] ** 2 for r in group_rows])))
            for r in group_rows:
                r["scale"] = pooled
        rows.extend(group_rows)
        for column in categorical:
            levels = sorted(df[column].dropna().astype(str).unique())
            for level in levels:
                # a one-hot column is left at 0/1, the same spread as a standardised column
                rows.append(dict(output_column=f"{column}={level}", source_column=column, group=group, kind="onehot",
                                 category_value=level, log1p=False, fill_value=0.0, clip_low=0.0, clip_high=1.0, center=0.0,
                                 scale=1.0, weight=per_column))
    return FeatureScaler(pd.DataFrame(rows), left_out=left_out)
