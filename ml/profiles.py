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

from ml.features import category_columns, channel_columns, contact_columns, device_columns
from ml.segmentation import UNSTABLE_BELOW

BASE_TRAITS = [
    "age_years", "tenure_days", "recency_days", "order_count", "orders_per_month", "net_revenue",
    "avg_order_value", "items_per_order", "return_rate", "is_repeat_buyer", "mean_days_between_orders",
    "gap_variation", "spend_trend", "avg_price_rank", "private_label_share", "discounted_order_share",
    "avg_discount_pct", "touch_conversion_rate", "sessions_30d", "pages_per_session", "search_session_rate",
    "cart_session_rate",
]  # plus the columns named after the data's categories, channels, devices and touch channels
CHANNEL_WORDS = {"web": "online", "app": "app", "store": "in-store"}
NICHE_QUANTILE = 0.75  # micro segments in the top quarter of distance from their parent are niches
RATE_KPIS = {"conversion_rate", "open_rate", "click_rate", "repeat_rate", "return_rate"}


def supported(features: pd.DataFrame) -> set[str]:
    """The feature columns the data supports: present, not all missing, and not the same for everyone.

    A name, a channel or a KPI is only built from these; what is not here is said to be unknown.
    """
    out = set()
    for column in features.columns:
        dtype = features[column].dtype
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            if features[column].nunique(dropna=True) > 1:
                out.add(column)
    if "region" in features and features["region"].astype("string").replace("unknown", pd.NA).nunique() > 1:
        out.add("region")
    return out


def contact_rates(columns, has: set[str]) -> tuple[dict[str, str], list[str]]:
    """Per touch channel in the data, the response rate a recommendation rests on (clicks where the data
    varies in them, else opens), and the channels touched whose response the data does not tell."""
    rates, silent = {}, []
    for channel, measures in contact_columns(columns).items():
        rate = next((measures[m] for m in ("click_rate", "open_rate") if measures.get(m) in has), None)
        if rate:
            rates[channel] = rate
        else:
            silent.append(channel)
    return rates, silent


def _contact(seg: pd.DataFrame, rates: dict[str, str], population: dict[str, float]) -> str | None:
    """The channel this segment responds to best against the base, among those it was sent anything on."""
    sent = contact_columns(seg.columns)
    reached = [c for c in rates if "touches" not in sent[c] or seg[sent[c]["touches"]].sum() > 0]
    return max(reached, key=lambda c: seg[rates[c]].mean() / max(population[c], 1e-9)) if reached else None


def _label(category_column: str) -> str:
    return category_column.removeprefix("share_").replace("_", " ")


def trait_table(features: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Long form: segment, feature, segment mean, population mean, index, z-score (both levels)."""
    has = supported(features)
    rates = [c for m in contact_columns(features.columns).values() for k, c in m.items() if k != "touches"]
    trait_features = [c for c in (*BASE_TRAITS, *category_columns(features.columns),
                                  *channel_columns(features.columns).values(), *device_columns(features.columns).values(),
                                  *rates)
                      if c in has]
    df = features[["customer_id", *trait_features]].merge(
        assignments[["customer_id", "macro_segment_id", "segment_id"]], on="customer_id")
    values = df[trait_features].astype(float)
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


def _name_parts(t: pd.Series, idx: pd.Series, has: set[str], region: tuple[str, float] | None) -> list[str]:
    """Name fragments from the traits the data supports, most telling first: lifecycle, value,
    price/discount, category, channel, region."""
    parts = []
    if t["recency_days"] > 150:
        parts.append("Lapsed")
    elif "tenure_days" in has and t["tenure_days"] < 120:
        parts.append("New")
    elif t["recency_days"] < 30 and t["orders_per_month"] > 0.5:
        parts.append("Active")
    if "is_repeat_buyer" in has and t["is_repeat_buyer"] < 0.25:
        parts.append("one-time")
    elif "is_repeat_buyer" in has and t["is_repeat_buyer"] > 0.9 and idx.get("orders_per_month", 100) >= 150:
        parts.append("loyal")
    if idx["net_revenue"] >= 150:
        parts.append("high-spend")
    elif idx["net_revenue"] <= 60:
        parts.append("low-spend")
    if "discounted_order_share" in has and idx.get("discounted_order_share", 0) >= 140:
        parts.append("deal-seeking")
    elif "avg_price_rank" in has and idx.get("avg_price_rank", 0) >= 125:
        parts.append("premium")
    categories = [c for c in category_columns(t.index) if c in has]
    channels = {k: c for k, c in channel_columns(t.index).items() if c in has}
    words = []
    if channels:
        channel = max(channels, key=lambda k: t[channels[k]])
        words.append(CHANNEL_WORDS.get(channel, channel.replace("_", " ")))
    if categories:
        words.append(_label(max(categories, key=lambda c: t[c])))
    parts.append(" ".join([*words, "buyers" if words or parts else "customers"]))
    if region:
        parts.append(f"· {region[0].title()}")
    return parts


# How a marketer says "this segment is high/low on this feature"; other features read "<feature> high/low".
TRAIT_WORDS = {
    "avg_order_value": ("big baskets", "small baskets"),
    "net_revenue": ("high value", "low value"),
    "order_count": ("many orders", "few orders"),
    "orders_per_month": ("frequent", "infrequent"),
    "recency_days": ("long since last order", "ordered recently"),
    "tenure_days": ("long-standing", "recently joined"),
    "is_repeat_buyer": ("repeat buyers", "one-off buyers"),
    "mean_days_between_orders": ("long gaps between orders", "short gaps between orders"),
    "gap_variation": ("irregular", "regular"),
    "spend_trend": ("spending more lately", "spending less lately"),
    "items_per_order": ("many items per order", "few items per order"),
    "return_rate": ("returns often", "rarely returns"),
}


def _trait_words(feature: str, high: bool) -> str:
    if feature in TRAIT_WORDS:
        return TRAIT_WORDS[feature][0 if high else 1]
    return f"{feature.replace('share_', '').replace('_', ' ')} {'high' if high else 'low'}"


# A trait a name already says in other words is no help in telling two segments apart.
IMPLIED_BY_NAME = {"long since last order": "Lapsed", "recently joined": "New", "ordered recently": "Active",
                   "one-off buyers": "one-time", "repeat buyers": "loyal", "high value": "high-spend",
                   "low value": "low-spend"}


def _unique_names(candidates: dict[str, list[str]], extras: dict[str, list[str]]) -> dict[str, str]:
    """Join fragments into names; where two collide, add distinguishing extras, then a number.

    A micro segment that is its macro's only one is that macro, said so; extras the name already
    implies are skipped."""
    names = {sid: " ".join(p) for sid, p in candidates.items()}
    names = {sid: n[0].upper() + n[1:] for sid, n in names.items()}
    extras = {sid: [e for e in extra if IMPLIED_BY_NAME.get(e, "\0") not in candidates[sid]]
              for sid, extra in extras.items()}
    children = pd.Series([sid.split(".")[0] for sid in names if "." in sid]).value_counts()
    whole = [sid for sid in names if "." in sid and children[sid.split(".")[0]] == 1]
    names = {sid: n for sid, n in names.items() if sid not in whole}
    for _ in range(3):
        counts = pd.Series(names).value_counts()
        clashes = set(counts[counts > 1].index)
        if not clashes:
            break
        for sid, name in list(names.items()):
            if name in clashes and extras[sid]:
                names[sid] = f"{name} ({extras[sid].pop(0)})"
    names.update({sid: f"{names[sid.split('.')[0]]} (the whole group)" for sid in whole})
    seen: dict[str, int] = {}
    for sid in sorted(names):
        n = names[sid]
        seen[n] = seen.get(n, 0) + 1
        if seen[n] > 1:
            names[sid] = f"{n} #{seen[n]}"
    return names


def _kpi_rates(d: pd.DataFrame, has: set[str]) -> dict[str, float]:
    """The KPIs the data supports; one without its inputs is NaN (reported as unknown, never as 0)."""
    orders = d["order_count"].sum()
    nan = float("nan")
    return {
        "conversion_rate": d["touch_conversion_rate"].mean() if "touch_conversion_rate" in has else nan,
        "open_rate": d["touch_open_rate"].mean() if "touch_open_rate" in has else nan,
        "click_rate": d["touch_click_rate"].mean() if "touch_click_rate" in has else nan,
        "avg_order_value": d["gross_revenue"].sum() / orders if orders else 0.0,
        "repeat_rate": (d["order_count"] >= 2).mean(),
        "return_rate": d["return_rate"].mean() if "return_rate" in has else nan,
    }


def _kpis(seg: pd.DataFrame, base: dict[str, float], has: set[str]) -> dict[str, float]:
    """The segment's KPIs with targets relative to ``base``, the population's KPIs."""
    out = {}
    for kpi, value in _kpi_rates(seg, has).items():
        out[kpi] = float(value)
        # aim 10% better than today, and at least the population level; returns should fall; a rate stays a
        # rate; order value aims at the segment's own +10% (a grocery basket never reaches an electronics one)
        if kpi == "return_rate":
            target = min(value * 0.9, base[kpi])
        elif kpi == "avg_order_value":
            target = value * 1.1
        else:
            target = max(value * 1.1, base[kpi])
        out[f"{kpi}_target"] = float(min(target, 1.0) if kpi in RATE_KPIS else target)
    return out


def _expected_return(seg: pd.DataFrame, kpi: dict[str, float]) -> float:
    """What contacting the segment can be expected to bring in the next year, for the budget split.

    Next year's orders if behaviour holds (order rate x chance the customer is still active, which
    decays with recency against their own gap between orders), times order value, times how they
    respond to campaigns where that is measured. Lapsed big spenders therefore get less than their
    past revenue suggests, and a responsive segment more.
    """
    gap = seg["mean_days_between_orders"].clip(lower=1) if "mean_days_between_orders" in seg else 90.0
    still_active = np.exp(-seg["recency_days"].clip(lower=0) / gap)
    orders_next_year = seg["orders_per_month"].clip(lower=0) * 12 * still_active
    value = (orders_next_year * seg["avg_order_value"].clip(lower=0)).sum()
    response = kpi["conversion_rate"] if np.isfinite(kpi["conversion_rate"]) else 1.0
    return float(value * max(response, 0.005))


def build_profiles(features: pd.DataFrame, assignments: pd.DataFrame, stability: pd.Series,
                   traits: pd.DataFrame, total_budget: float) -> pd.DataFrame:
    """One row per segment of both levels, ready for segments.segment_profiles.

    Everything said about a segment comes from features the data supports (``supported``): a contact
    channel is recommended only among the touch channels whose response the data records (and the segment
    was sent), without categories none is named, a KPI without its
    inputs is left empty (NaN), and ``cannot_say`` lists what the data could not tell.
    """
    df = features.merge(assignments[["customer_id", "macro_segment_id", "segment_id"]], on="customer_id")
    has = supported(features)
    n, revenue = len(df), df["net_revenue"].clip(lower=0).sum()
    idx = traits.pivot_table(index="segment_id", columns="feature", values="index")
    means = traits.pivot_table(index="segment_id", columns="feature", values="segment_value")
    z = traits.pivot_table(index="segment_id", columns="feature", values="z_score")
    rates, silent = contact_rates(features.columns, has)
    pop_contact = {c: df[col].mean() for c, col in rates.items()}
    pop_kpis = _kpi_rates(df, has)
    categories = [c for c in category_columns(features.columns) if c in has]
    channels = {k: c for k, c in channel_columns(features.columns).items() if c in has}
    devices = {k: c for k, c in device_columns(features.columns).items() if c in has}
    unheard = ", ".join(silent)  # touch channels whose response the data does not record
    cannot_say = [what for what, known in (
        ("contact channel (no marketing touches)", bool(rates or silent)),
        (f"contact channel (no opens or clicks recorded for {unheard})", bool(rates) or not silent),
        (f"response to {unheard} (no opens or clicks recorded)", not (rates and silent)),
        ("categories (" + ("the same mix for every customer" if category_columns(features.columns)
                           else "no product or category data") + ")", bool(categories)),
        ("order channels", bool(channels)), ("devices", bool(devices)),
        ("campaign conversion (" + ("no conversions recorded" if rates or silent else "no marketing touches") + ")",
         "touch_conversion_rate" in has),
        ("discount sensitivity", "discounted_order_share" in has), ("age", "age_years" in has),
        ("region", "region" in has)) if not known]

    rows, name_parts, extras = [], {}, {}
    for level, column in (("macro", "macro_segment_id"), ("micro", "segment_id")):
        for sid, seg in df.groupby(column, sort=True):
            t, i = means.loc[sid], idx.loc[sid]
            region_share = seg["region"].value_counts(normalize=True) if "region" in has else pd.Series(dtype=float)
            region = ((region_share.index[0], region_share.iloc[0])
                      if level == "micro" and len(region_share) and region_share.iloc[0] >= 0.5 else None)
            name_parts[sid] = _name_parts(t, i, has, region)
            top_traits = z.loc[sid].abs().sort_values(ascending=False).head(5).index.tolist()
            extras[sid] = [_trait_words(f, z.loc[sid, f] > 0) for f in top_traits]
            contact = _contact(seg, rates, pop_contact)
            discount_led = "discounted_order_share" in has and i.get("discounted_order_share", 0) >= 120
            lapsed = t["recency_days"] > 150
            top_categories = [_label(c) for c in sorted(categories, key=lambda c: -t[c])[:3]]
            theme = ("Win-back: we miss you" if lapsed else
                     "VIP / loyalty recognition" if i["net_revenue"] >= 150 else
                     "Second purchase: come back" if "is_repeat_buyer" in has and t["is_repeat_buyer"] < 0.25 else
                     f"New in {top_categories[0]}" if top_categories else "Stay in touch")
            value = seg["net_revenue"].clip(lower=0)
            kpi = _kpis(seg, pop_kpis, has)
            rows.append({
                "level": level,
                "segment_id": sid,
                "parent_segment_id": None if level == "macro" else seg["macro_segment_id"].iloc[0],
                "customers": len(seg),
                "share_of_customers": len(seg) / n,
                "share_of_revenue": value.sum() / revenue if revenue else 0.0,
                "avg_customer_value": value.mean(),
                "top_categories": ", ".join(top_categories) or None,
                "top_channels": ", ".join(sorted(channels, key=lambda c: -t[channels[c]])[:2]) or None,
                "top_regions": ", ".join(region_share.index[:2].astype(str)) or None,
                "top_devices": ", ".join(sorted(devices, key=lambda c: -t[devices[c]])[:2]) or None,
                "top_traits": ", ".join(extras[sid][:3]),
                "recommended_channel": contact,
                "message_theme": theme,
                "offer_type": "discount-led" if discount_led else "full-price (early access, bundles)",
                **kpi,
                "stability": float(stability.get(sid, np.nan)),
                "is_stable": bool(stability.get(sid, 0.0) >= UNSTABLE_BELOW),
                "cannot_say": "; ".join(cannot_say) or None,
                "_expected_return": _expected_return(seg, kpi),
            })

    profiles = pd.DataFrame(rows)
    names = _unique_names(name_parts, extras)
    profiles["segment_name"] = profiles["segment_id"].map(names)
    profiles["description"] = profiles.apply(_describe, axis=1)
    for kpi in [c for c in profiles.columns if c.removesuffix("_target") in pop_kpis]:
        profiles[kpi] = profiles[kpi].astype("Float64")  # a KPI the data cannot support is NULL, not NaN

    # budget: allocated to micro segments by expected return; a macro gets the sum of its micros
    micro = profiles["level"] == "micro"
    ev = profiles.loc[micro, "_expected_return"]
    profiles.loc[micro, "budget_share"] = ev / ev.sum() if ev.sum() > 0 else 1 / micro.sum()
    by_parent = profiles[micro].groupby("parent_segment_id")["budget_share"].sum()
    profiles.loc[~micro, "budget_share"] = profiles.loc[~micro, "segment_id"].map(by_parent).fillna(0.0)
    profiles["budget"] = profiles["budget_share"] * total_budget
    for level in ("macro", "micro"):
        at = profiles["level"] == level
        ev = profiles.loc[at, "_expected_return"]
        profiles.loc[at, "priority_score"] = (100 * ev / ev.max()).round(1) if ev.max() > 0 else 0.0
    profiles["expected_return"] = profiles["_expected_return"]

    # niches: micro segments whose profile sits furthest from their macro parent's
    dist = {}
    for sid in profiles.loc[micro, "segment_id"]:
        parent = profiles.loc[profiles["segment_id"] == sid, "parent_segment_id"].iloc[0]
        dist[sid] = float((z.loc[sid] - z.loc[parent]).abs().mean())
    profiles["distance_from_parent"] = profiles["segment_id"].map(dist)
    cut = pd.Series(dist).quantile(NICHE_QUANTILE) if dist else np.inf
    profiles["is_niche"] = micro & (profiles["distance_from_parent"] >= cut)
    return profiles.drop(columns="_expected_return")


def _describe(row: pd.Series) -> str:
    """Three or four sentences: who they are, what they buy and where, what to do, what is unknown."""
    sentences = [f"{row['customers']:,} customers ({row['share_of_customers']:.1%} of the base) bringing "
                 f"{row['share_of_revenue']:.1%} of net revenue, ${row['avg_customer_value']:,.0f} each on average."]
    what = [f"buy mostly {row['top_categories']}" if row["top_categories"] else None,
            f"order through {row['top_channels']}" if row["top_channels"] else None,
            f"shop on {row['top_devices']}" if row["top_devices"] else None,
            f"live mainly in {row['top_regions'].replace(', ', ' and ')}" if row["top_regions"] else None]
    what = [w for w in what if w]
    if what:
        sentences.append("They " + ", ".join(what[:-1]) + (" and " if len(what) > 1 else "") + what[-1] + ".")
    reach = f"Reach them by {row['recommended_channel']}" if row["recommended_channel"] else "Reach them"
    watch = [f"conversion (now {row['conversion_rate']:.1%})" if np.isfinite(row["conversion_rate"]) else None,
             f"repeat rate (now {row['repeat_rate']:.0%})"]
    sentences.append(f"{reach} with a {row['offer_type'].split(' ')[0]} offer ({row['message_theme'].lower()}); "
                     f"watch {' and '.join(w for w in watch if w)}.")
    if row["cannot_say"]:
        sentences.append(f"The data cannot tell: {row['cannot_say']}.")
    return " ".join(sentences)
