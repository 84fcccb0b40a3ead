"""Describe every segment well enough to act on it.

From the feature table and the assignments: size and value, a trait table (segment
mean vs population mean, index and z-score for every feature), top categories,
channels, regions and devices, a unique human-readable name and description, the
channel/message/offer that fit, KPIs with targets, a priority score, a share of the
budget, and a niche flag for micro segments far from their parent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features import CATEGORY_SHARES
from ml.segmentation import UNSTABLE_BELOW

TRAIT_FEATURES = [
    "age_years", "tenure_days", "recency_days", "order_count", "orders_per_month", "net_revenue",
    "avg_order_value", "items_per_order", "return_rate", *CATEGORY_SHARES, "avg_price_rank",
    "private_label_share", "discounted_order_share", "avg_discount_pct", "web_order_share", "app_order_share",
    "store_order_share", "desktop_share", "mobile_share", "tablet_share", "email_open_rate", "email_click_rate",
    "sms_click_rate", "push_open_rate", "touch_conversion_rate", "sessions_30d", "pages_per_session",
    "search_session_rate", "cart_session_rate",
]
CHANNEL_SHARES = {"web": "web_order_share", "app": "app_order_share", "store": "store_order_share"}
DEVICE_SHARES = {"desktop": "desktop_share", "mobile": "mobile_share", "tablet": "tablet_share"}
CONTACT_RATES = {"email": "email_click_rate", "sms": "sms_click_rate", "push": "push_open_rate"}
NICHE_QUANTILE = 0.75  # micro segments in the top quarter of distance from their parent are niches


def _label(category_column: str) -> str:
    return category_column.removeprefix("share_").replace("_", " ")


def trait_table(features: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Long form: segment, feature, segment mean, population mean, index, z-score (both levels)."""
    df = features[["customer_id", *TRAIT_FEATURES]].merge(assignments[["customer_id", "macro_segment_id", "segment_id"]],
                                                          on="customer_id")
    values = df[TRAIT_FEATURES].astype(float)
    pop_mean, pop_std = values.mean(), values.std(ddof=0).replace(0, np.nan)
    frames = []
    for level, column in (("macro", "macro_segment_id"), ("micro", "segment_id")):
        means = values.groupby(df[column]).mean()
        long = means.stack().rename("segment_value").reset_index()
        long.columns = ["segment_id", "feature", "segment_value"]
        long["level"] = level
        frames.append(long)
    traits = pd.concat(frames, ignore_index=True)
    traits["population_value"] = traits["feature"].map(pop_mean)
    traits["index"] = np.where(traits["population_value"].abs() > 1e-12,
                               traits["segment_value"] / traits["population_value"] * 100, np.nan)
    traits["z_score"] = (traits["segment_value"] - traits["population_value"]) / traits["feature"].map(pop_std)
    return traits[["level", "segment_id", "feature", "segment_value", "population_value", "index", "z_score"]]


def _name_parts(t: pd.Series, idx: pd.Series, region: tuple[str, float] | None) -> list[str]:
    """Name fragments, most telling first: recency, value, price/discount, category, channel, region."""
    parts = []
    if t["recency_days"] > 150:
        parts.append("Lapsed")
    elif t["recency_days"] < 30 and t["orders_per_month"] > 0.5:
        parts.append("Active")
    if idx["net_revenue"] >= 150:
        parts.append("high-spend")
    elif idx["net_revenue"] <= 60:
        parts.append("low-spend")
    if idx["discounted_order_share"] >= 140:
        parts.append("deal-seeking")
    elif idx["avg_price_rank"] >= 125:
        parts.append("premium")
    top = max(CATEGORY_SHARES, key=lambda c: t[c])
    channel = max(CHANNEL_SHARES, key=lambda c: t[CHANNEL_SHARES[c]])
    channel_word = {"web": "online", "app": "app", "store": "in-store"}[channel]
    parts.append(f"{channel_word} {_label(top)} buyers")
    if region:
        parts.append(f"· {region[0].title()}")
    return parts


def _unique_names(candidates: dict[str, list[str]], extras: dict[str, list[str]]) -> dict[str, str]:
    """Join fragments into names; where two collide, add distinguishing extras, then a number."""
    names = {sid: " ".join(p) for sid, p in candidates.items()}
    names = {sid: n[0].upper() + n[1:] for sid, n in names.items()}
    for _ in range(3):
        counts = pd.Series(names).value_counts()
        clashes = set(counts[counts > 1].index)
        if not clashes:
            break
        for sid, name in list(names.items()):
            if name in clashes and extras[sid]:
                names[sid] = f"{name} ({extras[sid].pop(0)})"
    seen: dict[str, int] = {}
    for sid in sorted(names):
        n = names[sid]
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[sid] = f"{n} #{seen[n]}"
    return names


def _kpi_rates(d: pd.DataFrame) -> dict[str, float]:
    orders = d["order_count"].sum()
    return {
        "conversion_rate": d["touch_conversion_rate"].mean(),
        "email_open_rate": d["email_open_rate"].mean(),
        "email_click_rate": d["email_click_rate"].mean(),
        "avg_order_value": d["gross_revenue"].sum() / orders if orders else 0.0,
        "repeat_rate": (d["order_count"] >= 2).mean(),
        "return_rate": d["return_rate"].mean(),
    }


def _kpis(seg: pd.DataFrame, base: dict[str, float]) -> dict[str, float]:
    """The segment's KPIs with targets relative to ``base``, the population's KPIs."""
    now = _kpi_rates(seg)
    out = {}
    for kpi, value in now.items():
        out[kpi] = float(value)
        # aim 10% better than today, and at least the population level; returns should fall
        if kpi == "return_rate":
            out[f"{kpi}_target"] = float(min(value * 0.9, base[kpi]))
        else:
            out[f"{kpi}_target"] = float(max(value * 1.1, base[kpi]))
    return out


def build_profiles(features: pd.DataFrame, assignments: pd.DataFrame, stability: pd.Series,
                   traits: pd.DataFrame, total_budget: float) -> pd.DataFrame:
    """One row per segment of both levels, ready for segments.segment_profiles."""
    df = features.merge(assignments[["customer_id", "macro_segment_id", "segment_id"]], on="customer_id")
    n, revenue = len(df), df["net_revenue"].clip(lower=0).sum()
    idx = traits.pivot_table(index="segment_id", columns="feature", values="index")
    means = traits.pivot_table(index="segment_id", columns="feature", values="segment_value")
    z = traits.pivot_table(index="segment_id", columns="feature", values="z_score")
    pop_contact = {c: df[col].mean() for c, col in CONTACT_RATES.items()}
    pop_kpis = _kpi_rates(df)

    rows, name_parts, extras = [], {}, {}
    for level, column in (("macro", "macro_segment_id"), ("micro", "segment_id")):
        for sid, seg in df.groupby(column, sort=True):
            t, i = means.loc[sid], idx.loc[sid]
            region_share = seg["region"].value_counts(normalize=True)
            region = (region_share.index[0], region_share.iloc[0]) if level == "micro" and region_share.iloc[0] >= 0.5 else None
            name_parts[sid] = _name_parts(t, i, region)
            top_traits = z.loc[sid].abs().sort_values(ascending=False).head(5).index.tolist()
            extras[sid] = [f"{f.replace('share_', '').replace('_', ' ')} {'high' if z.loc[sid, f] > 0 else 'low'}"
                           for f in top_traits]
            contact = max(CONTACT_RATES, key=lambda c: seg[CONTACT_RATES[c]].mean() / max(pop_contact[c], 1e-9))
            discount_led = i["discounted_order_share"] >= 120
            lapsed = t["recency_days"] > 150
            top_categories = [_label(c) for c in sorted(CATEGORY_SHARES, key=lambda c: -t[c])[:3]]
            theme = ("Win-back: we miss you" if lapsed else
                     "VIP / loyalty recognition" if i["net_revenue"] >= 150 else
                     f"New in {top_categories[0]}")
            value = seg["net_revenue"].clip(lower=0)
            kpi = _kpis(seg, pop_kpis)
            rows.append({
                "level": level,
                "segment_id": sid,
                "parent_segment_id": None if level == "macro" else seg["macro_segment_id"].iloc[0],
                "customers": len(seg),
                "share_of_customers": len(seg) / n,
                "share_of_revenue": value.sum() / revenue if revenue else 0.0,
                "avg_customer_value": value.mean(),
                "top_categories": ", ".join(top_categories),
                "top_channels": ", ".join(sorted(CHANNEL_SHARES, key=lambda c: -t[CHANNEL_SHARES[c]])[:2]),
                "top_regions": ", ".join(region_share.index[:2].astype(str)),
                "top_devices": ", ".join(sorted(DEVICE_SHARES, key=lambda c: -t[DEVICE_SHARES[c]])[:2]),
                "top_traits": ", ".join(extras[sid][:3]),
                "recommended_channel": contact,
                "message_theme": theme,
                "offer_type": "discount-led" if discount_led else "full-price (early access, bundles)",
                **kpi,
                "stability": float(stability.get(sid, np.nan)),
                "is_stable": bool(stability.get(sid, 0.0) >= UNSTABLE_BELOW),
                # expected value of contacting the segment: its customers' value times how they respond
                "_expected_value": value.sum() * max(kpi["conversion_rate"], 0.005),
            })

    profiles = pd.DataFrame(rows)
    names = _unique_names(name_parts, extras)
    profiles["segment_name"] = profiles["segment_id"].map(names)
    profiles["description"] = profiles.apply(_describe, axis=1)

    # budget: allocated to micro segments by expected value; a macro gets the sum of its micros
    micro = profiles["level"] == "micro"
    ev = profiles.loc[micro, "_expected_value"]
    profiles.loc[micro, "budget_share"] = ev / ev.sum() if ev.sum() > 0 else 1 / micro.sum()
    by_parent = profiles[micro].groupby("parent_segment_id")["budget_share"].sum()
    profiles.loc[~micro, "budget_share"] = profiles.loc[~micro, "segment_id"].map(by_parent).fillna(0.0)
    profiles["budget"] = profiles["budget_share"] * total_budget
    for level in ("macro", "micro"):
        at = profiles["level"] == level
        ev = profiles.loc[at, "_expected_value"]
        profiles.loc[at, "priority_score"] = (100 * ev / ev.max()).round(1) if ev.max() > 0 else 0.0

    # niches: micro segments whose profile sits furthest from their macro parent's
    dist = {}
    for sid in profiles.loc[micro, "segment_id"]:
        parent = profiles.loc[profiles["segment_id"] == sid, "parent_segment_id"].iloc[0]
        dist[sid] = float((z.loc[sid] - z.loc[parent]).abs().mean())
    profiles["distance_from_parent"] = profiles["segment_id"].map(dist)
    cut = pd.Series(dist).quantile(NICHE_QUANTILE) if dist else np.inf
    profiles["is_niche"] = micro & (profiles["distance_from_parent"] >= cut)
    return profiles.drop(columns="_expected_value")


def _describe(row: pd.Series) -> str:
    who = (f"{row['customers']:,} customers ({row['share_of_customers']:.1%} of the base) bringing "
           f"{row['share_of_revenue']:.1%} of net revenue, ${row['avg_customer_value']:,.0f} each on average.")
    what = (f"They buy mostly {row['top_categories']}, through {row['top_channels']}, on {row['top_devices']}, "
            f"and live mainly in {row['top_regions'].replace(', ', ' and ')}.")
    act = (f"Reach them by {row['recommended_channel']} with a {row['offer_type'].split(' ')[0]} offer "
           f"({row['message_theme'].lower()}); watch conversion (now {row['conversion_rate']:.1%}) "
           f"and repeat rate (now {row['repeat_rate']:.0%}).")
    return " ".join([who, what, act])
