"""Traits and profiles of every segment from per-segment aggregates, so the customers never leave the warehouse.

``summary_sql`` is one portable SELECT returning one row per scope (the population, every macro and every
micro segment) with every aggregate a profile needs: customers, per feature column its mean (and for the
population its min, max and population standard deviation), the KPI inputs, the clipped value sums and the
expected-return sum. ``region_counts_sql`` counts the customers per region in each scope. ``summarise`` is
the same two frames computed in pandas, for data already in memory (``ml.profiles`` wraps it).
``traits_from_summary`` and ``profiles_from_summary`` turn those few dozen rows into segment_traits and
segment_profiles: they are the one home of the rules that decide what the data supports, name segments,
pick a channel, set KPIs and split the budget.

The SQL follows ``ml.scoring_sql``: CTEs, CASE, COUNT/SUM/AVG/MIN/MAX/STDDEV_POP, exp and UNION ALL, with
constants in exponent form (DOUBLE everywhere) and identifiers quoted for the dialect (``"`` for "ansi",
backticks for "spark"), so DuckDB and Spark SQL (ANSI off) run the same query. Clipping is a CASE, not
greatest(), because greatest() skips NULLs where pandas' clip keeps them.

Where two candidates tie (regions with as many customers; categories, channels, devices, contact channels
or traits whose values agree to 9 decimals, as two engines summing in another order do) the order is
defined: the larger first, then by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ml.features import category_columns, channel_columns, contact_columns, device_columns
from ml.scoring_sql import quote_identifier, sql_number, sql_string
from ml.segmentation import UNSTABLE_BELOW

POPULATION, MACRO, MICRO = "population", "macro", "micro"  # the scope of a summary row (its ``level``)
CUSTOMER, MACRO_ID, SEGMENT_ID, REGION = "customer_id", "macro_segment_id", "segment_id", "region"
# columns every summary needs: the KPIs and the expected return are built from them
REQUIRED = ("order_count", "gross_revenue", "net_revenue", "recency_days", "orders_per_month", "avg_order_value")
GAP = "mean_days_between_orders"  # optional: without it a customer's gap between orders is taken as DEFAULT_GAP
DEFAULT_GAP = 90.0
# one row per scope: these, then per feature column mean__/min__/max__/std__<column>, then sum__<touches column>
SCOPE_COLUMNS = ["level", "segment_id", "parent_segment_id", "customers"]
# customers with order_count >= 2; sums of order_count and gross_revenue; net_revenue clipped at 0, summed and
# averaged (over customers who have one); each customer's expected next-year value (``_expected_return``) summed
TOTALS = ["repeat_customers", "orders", "gross_revenue", "net_value", "avg_net_value", "expected_value"]
POPULATION_ONLY = ("min", "max", "std")  # what ``supported`` and the z-scores need; NULL in segment rows
REGION_COLUMNS = ["level", "segment_id", "region", "customers"]

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


# --- the aggregates, in SQL and in pandas ------------------------------------------------------------------

def summary_columns(frame: pd.DataFrame) -> list[str]:
    """The feature columns a summary aggregates: every numeric or boolean column but customer_id, in order.

    Only the dtypes are read, so a frame of no rows will do (``select * from <features> limit 0``)."""
    return [str(c) for c in frame.columns if str(c) != CUSTOMER
            and (pd.api.types.is_numeric_dtype(frame[c].dtype) or pd.api.types.is_bool_dtype(frame[c].dtype))]


def _touch_columns(columns: Sequence[str]) -> list[str]:
    return [m["touches"] for m in contact_columns(columns).values() if "touches" in m]


def summary_layout(columns: Sequence[str]) -> list[str]:
    """The summary's columns, in order, for the feature ``columns``."""
    per_column = [f"{agg}__{c}" for c in columns for agg in ("mean", *POPULATION_ONLY)]
    return [*SCOPE_COLUMNS, *TOTALS, *per_column, *(f"sum__{c}" for c in _touch_columns(columns))]


def feature_columns(summary: pd.DataFrame) -> list[str]:
    """The feature columns a summary describes, in the order of its features."""
    return [c.removeprefix("mean__") for c in summary.columns if c.startswith("mean__")]


def _checked(columns: Sequence[str]) -> list[str]:
    columns = list(columns)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ValueError(f"customer features need numeric columns {missing} to profile segments "
                         f"(the KPIs and the expected return are built from them); the features have {columns}")
    return columns


def _clipped_below(x: str, low: float) -> str:
    """x, or ``low`` where x is below it; NULL stays NULL (as pandas' clip)."""
    return f"case when {x} < {sql_number(low)} then {sql_number(low)} else {x} end"


def summary_sql(features_relation: str, assignments_relation: str, columns: Sequence[str],
                dialect: str = "ansi") -> str:
    """One SELECT returning the summary: a row per scope (population, macro, micro), ordered by level and id.

    ``features_relation`` (a table or a parenthesised query) has customer_id and the feature columns;
    ``assignments_relation`` has customer_id, macro_segment_id and segment_id. ``columns`` are the numeric
    and boolean feature columns to aggregate (``summary_columns`` of a frame of the features; no rows needed).
    Customers in both relations are summarised. The result has the columns of ``summary_layout(columns)``.
    """
    columns = _checked(columns)
    q = lambda name: quote_identifier(name, dialect)  # noqa: E731
    v = {c: f"v{i}" for i, c in enumerate(columns)}  # every feature as a DOUBLE (booleans as 0/1)
    casts = ",\n        ".join(f"cast(f.{q(c)} as double) as {v[c]}" for c in columns)
    gap = _clipped_below(v[GAP], 1.0) if GAP in v else sql_number(DEFAULT_GAP)
    # what _expected_return sums: next year's orders if behaviour holds x order value
    expected = (f"{_clipped_below(v['orders_per_month'], 0.0)} * {sql_number(12)}"
                f" * exp(-({_clipped_below(v['recency_days'], 0.0)}) / ({gap}))"
                f" * {_clipped_below(v['avg_order_value'], 0.0)}")
    ctes = [
        f"scoped as (\n    select a.{q(MACRO_ID)} as macro_id_, a.{q(SEGMENT_ID)} as segment_id_,\n        {casts}\n"
        f"    from {features_relation} as f\n    inner join {assignments_relation} as a"
        f" on f.{q(CUSTOMER)} = a.{q(CUSTOMER)}\n)",
        f"terms as (\n    select *,\n"
        f"        case when {v['order_count']} >= {sql_number(2)} then 1 end as repeat_,\n"
        f"        {_clipped_below(v['net_revenue'], 0.0)} as value_,\n"
        f"        {expected} as expected_\n    from scoped\n)",
    ]
    zero = sql_number(0)

    def aggregates(population: bool) -> str:
        out = [f"count(*) as {q('customers')}",
               f"count(repeat_) as {q('repeat_customers')}",
               f"coalesce(sum({v['order_count']}), {zero}) as {q('orders')}",
               f"coalesce(sum({v['gross_revenue']}), {zero}) as {q('gross_revenue')}",
               f"coalesce(sum(value_), {zero}) as {q('net_value')}",
               f"avg(value_) as {q('avg_net_value')}",
               f"coalesce(sum(expected_), {zero}) as {q('expected_value')}"]
        for c in columns:
            spread = ([f"min({v[c]})", f"max({v[c]})", f"stddev_pop({v[c]})"] if population
                      else ["cast(null as double)"] * 3)
            out += [f"avg({v[c]}) as {q('mean__' + c)}",
                    *(f"{e} as {q(f'{agg}__{c}')}" for e, agg in zip(spread, POPULATION_ONLY))]
        out += [f"coalesce(sum({v[c]}), {zero}) as {q('sum__' + c)}" for c in _touch_columns(columns)]
        return ",\n        ".join(out)

    scopes = [
        f"select {sql_string(POPULATION, dialect)} as level, {sql_string(POPULATION, dialect)} as segment_id,"
        f" null as parent_segment_id,\n        {aggregates(True)}\n    from terms",
        f"select {sql_string(MACRO, dialect)} as level, macro_id_ as segment_id, null as parent_segment_id,\n"
        f"        {aggregates(False)}\n    from terms\n    group by macro_id_",
        f"select {sql_string(MICRO, dialect)} as level, segment_id_ as segment_id, macro_id_ as parent_segment_id,\n"
        f"        {aggregates(False)}\n    from terms\n    group by macro_id_, segment_id_",
    ]
    return ("with " + ",\n".join(ctes) + "\nselect * from (\n    " + "\n    union all\n    ".join(scopes)
            + f"\n) as scopes\norder by {_level_rank(dialect)}, segment_id")


def _level_rank(dialect: str) -> str:
    return (f"case when level = {sql_string(POPULATION, dialect)} then 0"
            f" when level = {sql_string(MACRO, dialect)} then 1 else 2 end")


def region_counts_sql(features_relation: str, assignments_relation: str, dialect: str = "ansi") -> str:
    """One SELECT counting the customers per region (NULL left out) in each scope: (level, segment_id,
    region, customers), ordered by level, segment, most customers first, then region."""
    q = lambda name: quote_identifier(name, dialect)  # noqa: E731
    scoped = (f"scoped as (\n    select a.{q(MACRO_ID)} as macro_id_, a.{q(SEGMENT_ID)} as segment_id_,"
              f" f.{q(REGION)} as region\n    from {features_relation} as f\n"
              f"    inner join {assignments_relation} as a on f.{q(CUSTOMER)} = a.{q(CUSTOMER)}\n"
              f"    where f.{q(REGION)} is not null\n)")
    scopes = [
        f"select {sql_string(POPULATION, dialect)} as level, {sql_string(POPULATION, dialect)} as segment_id,"
        f" region, count(*) as customers from scoped group by region",
        f"select {sql_string(MACRO, dialect)} as level, macro_id_ as segment_id, region, count(*) as customers"
        f" from scoped group by macro_id_, region",
        f"select {sql_string(MICRO, dialect)} as level, segment_id_ as segment_id, region, count(*) as customers"
        f" from scoped group by segment_id_, region",
    ]
    return (f"with {scoped}\nselect * from (\n    " + "\n    union all\n    ".join(scopes)
            + f"\n) as scopes\norder by {_level_rank(dialect)}, segment_id, customers desc, region")


def summarise(features: pd.DataFrame, assignments: pd.DataFrame | None = None,
              columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames ``summary_sql`` and ``region_counts_sql`` return, computed in pandas: (summary, regions).

    Without ``assignments``, the population alone (what ``supported`` needs)."""
    columns = _checked(summary_columns(features) if columns is None else columns)
    keep = [CUSTOMER, *columns, *([REGION] if REGION in features.columns else [])]
    if assignments is None:
        df = features[keep].assign(**{MACRO_ID: None, SEGMENT_ID: None})
    else:
        df = features[keep].merge(assignments[[CUSTOMER, MACRO_ID, SEGMENT_ID]], on=CUSTOMER)
    values = df[columns].astype(float)
    clipped = lambda c, low: values[c].clip(lower=low)  # noqa: E731
    gap = clipped(GAP, 1.0) if GAP in values else DEFAULT_GAP
    terms = pd.DataFrame({
        "repeat_": (values["order_count"] >= 2).astype(float),
        "value_": clipped("net_revenue", 0.0),
        "expected_": clipped("orders_per_month", 0.0) * 12 * np.exp(-clipped("recency_days", 0.0) / gap)
        * clipped("avg_order_value", 0.0),
    })
    touches = _touch_columns(columns)
    work = pd.concat([values, terms], axis=1)

    def rows(level: str, means: pd.DataFrame, sums: pd.DataFrame, sizes: pd.Series, ids, parents,
             spread: dict[str, pd.Series] | None = None) -> pd.DataFrame:
        out = {"level": level, "segment_id": ids, "parent_segment_id": parents,
               "customers": sizes.to_numpy(dtype="int64"),
               "repeat_customers": sums["repeat_"].to_numpy().astype("int64"),
               "orders": sums["order_count"].to_numpy(), "gross_revenue": sums["gross_revenue"].to_numpy(),
               "net_value": sums["value_"].to_numpy(), "avg_net_value": means["value_"].to_numpy(),
               "expected_value": sums["expected_"].to_numpy()}
        for c in columns:
            out[f"mean__{c}"] = means[c].to_numpy()
            out.update({f"{agg}__{c}": spread[agg][c] if spread else np.nan for agg in POPULATION_ONLY})
        out.update({f"sum__{c}": sums[c].to_numpy() for c in touches})
        return pd.DataFrame(out)

    spread = {"min": values.min(), "max": values.max(), "std": values.std(ddof=0)}
    frames = [rows(POPULATION, work.mean().to_frame().T, work.sum().to_frame().T, pd.Series([len(df)]),
                   [POPULATION], [None], spread)]
    if assignments is not None:
        for level, keys in ((MACRO, [MACRO_ID]), (MICRO, [MACRO_ID, SEGMENT_ID])):
            groups = work.groupby([df[k] for k in keys], sort=True)
            index = groups.size().index
            ids = index if level == MACRO else index.get_level_values(SEGMENT_ID)
            parents = [None] * len(index) if level == MACRO else index.get_level_values(MACRO_ID)
            frames.append(rows(level, groups.mean(), groups.sum(), groups.size(), list(ids), list(parents))
                          .sort_values("segment_id", kind="stable"))
    # as the SQL's result arrives: ids as strings (NULL parents missing), counts as int64, the rest float64
    summary = pd.concat(frames, ignore_index=True)[summary_layout(columns)].astype(
        {"level": "str", "segment_id": "str", "parent_segment_id": "str"})
    return summary, _region_counts(df if REGION in df.columns else None, assignments is not None)


def _region_counts(df: pd.DataFrame | None, by_segment: bool) -> pd.DataFrame:
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "customers" else "str") for c in REGION_COLUMNS})
    df = df[df[REGION].notna()]
    frames = [df.groupby(REGION).size().rename("customers").reset_index().assign(level=POPULATION,
                                                                                  segment_id=POPULATION)]
    if by_segment:
        for level, key in ((MACRO, MACRO_ID), (MICRO, SEGMENT_ID)):
            counts = df.groupby([key, REGION]).size().rename("customers").reset_index()
            frames.append(counts.rename(columns={key: "segment_id"}).assign(level=level))
    out = pd.concat(frames, ignore_index=True)[REGION_COLUMNS]
    rank = out["level"].map({POPULATION: 0, MACRO: 1, MICRO: 2})
    order = np.lexsort((out[REGION].to_numpy(), -out["customers"].to_numpy(), out["segment_id"].to_numpy(),
                        rank.to_numpy()))
    return out.iloc[order].reset_index(drop=True).astype({"customers": "int64"})


# --- what the data supports ----------------------------------------------------------------------------

def _population(summary: pd.DataFrame) -> pd.Series:
    return summary[summary["level"] == POPULATION].iloc[0]


def supported_from_summary(summary: pd.DataFrame, regions: pd.DataFrame | None = None) -> set[str]:
    """The feature columns the data supports: present, not all missing, and not the same for everyone
    (more than one region besides 'unknown'). A name, a channel or a KPI is only built from these; what is
    not here is said to be unknown."""
    population = _population(summary)
    out = {c for c in feature_columns(summary) if population[f"max__{c}"] > population[f"min__{c}"]}
    if regions is not None:
        named = regions[(regions["level"] == POPULATION) & (regions["region"] != "unknown")]
        if named["region"].nunique() > 1:
            out.add(REGION)
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


def trait_features(columns: Sequence[str], has: set[str]) -> list[str]:
    """The features traits are measured on: the base traits, then the columns named after the data's
    categories, channels, devices and touch channels' response rates, where the data supports them."""
    rates = [c for m in contact_columns(columns).values() for k, c in m.items() if k != "touches"]
    return [c for c in (*BASE_TRAITS, *category_columns(columns), *channel_columns(columns).values(),
                        *device_columns(columns).values(), *rates) if c in has]


RANK_DECIMALS = 9  # scores equal to this many decimals are ties: engines summing in another order agree


def _ranked(names, score) -> list:
    """``names`` by ``score``, highest first, missing scores last; equal scores by name."""
    def key(name) -> float:
        value = float(score(name))
        return np.inf if np.isnan(value) else -round(value, RANK_DECIMALS)
    return sorted(sorted(names), key=key)


# --- traits ------------------------------------------------------------------------------------------

def traits_from_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Long form: level, segment, feature, segment mean, population mean, index and z-score."""
    features = trait_features(feature_columns(summary), supported_from_summary(summary))
    population = _population(summary)
    frames = []
    for level in (MACRO, MICRO):
        rows = summary[summary["level"] == level].sort_values("segment_id", kind="stable")
        means = rows[[f"mean__{c}" for c in features]].to_numpy(dtype=float)
        frames.append(pd.DataFrame({
            "segment_id": np.repeat(rows["segment_id"].to_numpy(dtype=object), len(features)),
            "feature": np.tile(np.array(features, dtype=object), len(rows)),
            "segment_value": means.ravel(), "level": level}))
    traits = pd.concat(frames, ignore_index=True)
    pop_mean = pd.Series({c: float(population[f"mean__{c}"]) for c in features}, dtype=float)
    pop_std = pd.Series({c: float(population[f"std__{c}"]) for c in features}, dtype=float).replace(0, np.nan)
    traits["population_value"] = traits["feature"].map(pop_mean)
    traits["index"] = np.where(traits["population_value"].abs() > 1e-12,
                               traits["segment_value"] / traits["population_value"] * 100, np.nan)
    traits["z_score"] = (traits["segment_value"] - traits["population_value"]) / traits["feature"].map(pop_std)
    return traits[["level", "segment_id", "feature", "segment_value", "population_value", "index", "z_score"]]


# --- profiles ----------------------------------------------------------------------------------------

def _contact(means: pd.Series, touches: dict[str, float], rates: dict[str, str],
             population: dict[str, float]) -> str | None:
    """The channel this segment responds to best against the base, among those it was sent anything on."""
    reached = [c for c in rates if c not in touches or touches[c] > 0]
    return _ranked(reached, lambda c: means[rates[c]] / max(population[c], 1e-9))[0] if reached else None


def _label(category_column: str) -> str:
    return category_column.removeprefix("share_").replace("_", " ")


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
        channel = _ranked(channels, lambda k: t[channels[k]])[0]
        words.append(CHANNEL_WORDS.get(channel, channel.replace("_", " ")))
    if categories:
        words.append(_label(_ranked(categories, lambda c: t[c])[0]))
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


def _kpi_rates(scope: pd.Series, has: set[str]) -> dict[str, float]:
    """The KPIs the data supports, from a summary row; one without its inputs is NaN (reported as unknown,
    never as 0)."""
    nan = float("nan")
    mean = lambda c: float(scope[f"mean__{c}"]) if c in has else nan  # noqa: E731
    return {
        "conversion_rate": mean("touch_conversion_rate"),
        "open_rate": mean("touch_open_rate"),
        "click_rate": mean("touch_click_rate"),
        "avg_order_value": scope["gross_revenue"] / scope["orders"] if scope["orders"] else 0.0,
        "repeat_rate": scope["repeat_customers"] / scope["customers"],
        "return_rate": mean("return_rate"),
    }


def _kpis(scope: pd.Series, base: dict[str, float], has: set[str]) -> dict[str, float]:
    """The segment's KPIs with targets relative to ``base``, the population's KPIs."""
    out = {}
    for kpi, value in _kpi_rates(scope, has).items():
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


def _expected_return(scope: pd.Series, kpi: dict[str, float]) -> float:
    """What contacting the segment can be expected to bring in the next year, for the budget split.

    Next year's orders if behaviour holds (order rate x chance the customer is still active, which
    decays with recency against their own gap between orders), times order value, summed over its
    customers (``expected_value``), times how they respond to campaigns where that is measured. Lapsed big
    spenders therefore get less than their past revenue suggests, and a responsive segment more.
    """
    response = kpi["conversion_rate"] if np.isfinite(kpi["conversion_rate"]) else 1.0
    return float(scope["expected_value"] * max(response, 0.005))


def _region_shares(regions: pd.DataFrame | None, level: str, sid: str) -> pd.Series:
    """The scope's regions by share of its customers with a region, largest first, then by name."""
    if regions is None:
        return pd.Series(dtype=float)
    rows = regions[(regions["level"] == level) & (regions["segment_id"] == sid)]
    rows = rows.sort_values("region", kind="stable").sort_values("customers", ascending=False, kind="stable")
    counts = pd.Series(rows["customers"].to_numpy(), index=rows["region"].to_numpy())
    return counts / counts.sum()


def profiles_from_summary(summary: pd.DataFrame, regions: pd.DataFrame | None, stability: pd.Series,
                          traits: pd.DataFrame, total_budget: float) -> pd.DataFrame:
    """One row per segment of both levels, ready for segments.segment_profiles.

    ``summary`` and ``regions`` are what ``summary_sql`` and ``region_counts_sql`` return (or ``summarise``;
    ``regions`` None when the features have no region), ``traits`` is ``traits_from_summary(summary)``.
    Everything said about a segment comes from features the data supports: a contact channel is recommended
    only among the touch channels whose response the data records (and the segment was sent), without
    categories none is named, a KPI without its inputs is left empty (NULL), and ``cannot_say`` lists what
    the data could not tell.
    """
    columns = feature_columns(summary)
    has = supported_from_summary(summary, regions)
    population = _population(summary)
    n, revenue = population["customers"], population["net_value"]
    idx = traits.pivot_table(index="segment_id", columns="feature", values="index")
    means = traits.pivot_table(index="segment_id", columns="feature", values="segment_value")
    z = traits.pivot_table(index="segment_id", columns="feature", values="z_score")
    rates, silent = contact_rates(columns, has)
    pop_contact = {c: population[f"mean__{col}"] for c, col in rates.items()}
    pop_kpis = _kpi_rates(population, has)
    touches = {c: m["touches"] for c, m in contact_columns(columns).items() if "touches" in m}
    categories = [c for c in category_columns(columns) if c in has]
    channels = {k: c for k, c in channel_columns(columns).items() if c in has}
    devices = {k: c for k, c in device_columns(columns).items() if c in has}
    unheard = ", ".join(silent)  # touch channels whose response the data does not record
    cannot_say = [what for what, known in (
        ("contact channel (no marketing touches)", bool(rates or silent)),
        (f"contact channel (no opens or clicks recorded for {unheard})", bool(rates) or not silent),
        (f"response to {unheard} (no opens or clicks recorded)", not (rates and silent)),
        ("categories (" + ("the same mix for every customer" if category_columns(columns)
                           else "no product or category data") + ")", bool(categories)),
        ("order channels", bool(channels)), ("devices", bool(devices)),
        ("campaign conversion (" + ("no conversions recorded" if rates or silent else "no marketing touches") + ")",
         "touch_conversion_rate" in has),
        ("discount sensitivity", "discounted_order_share" in has), ("age", "age_years" in has),
        ("region", "region" in has)) if not known]

    rows, name_parts, extras = [], {}, {}
    for level in (MACRO, MICRO):
        for scope in summary[summary["level"] == level].sort_values("segment_id", kind="stable").to_dict("records"):
            scope = pd.Series(scope)
            sid = scope["segment_id"]
            t, i = means.loc[sid], idx.loc[sid]
            region_share = _region_shares(regions, level, sid) if "region" in has else pd.Series(dtype=float)
            region = ((region_share.index[0], region_share.iloc[0])
                      if level == MICRO and len(region_share) and region_share.iloc[0] >= 0.5 else None)
            name_parts[sid] = _name_parts(t, i, has, region)
            top_traits = _ranked(z.columns, lambda f: abs(z.loc[sid, f]))[:5]
            extras[sid] = [_trait_words(f, z.loc[sid, f] > 0) for f in top_traits]
            segment_means = pd.Series({c: scope[f"mean__{c}"] for c in rates.values()}, dtype=float)
            contact = _contact(segment_means, {c: scope[f"sum__{col}"] for c, col in touches.items()}, rates,
                               pop_contact)
            discount_led = "discounted_order_share" in has and i.get("discounted_order_share", 0) >= 120
            lapsed = t["recency_days"] > 150
            top_categories = [_label(c) for c in _ranked(categories, lambda c: t[c])[:3]]
            theme = ("Win-back: we miss you" if lapsed else
                     "VIP / loyalty recognition" if i["net_revenue"] >= 150 else
                     "Second purchase: come back" if "is_repeat_buyer" in has and t["is_repeat_buyer"] < 0.25 else
                     f"New in {top_categories[0]}" if top_categories else "Stay in touch")
            kpi = _kpis(scope, pop_kpis, has)
            rows.append({
                "level": level,
                "segment_id": sid,
                "parent_segment_id": None if level == MACRO else scope["parent_segment_id"],
                "customers": int(scope["customers"]),
                "share_of_customers": scope["customers"] / n,
                "share_of_revenue": scope["net_value"] / revenue if revenue else 0.0,
                "avg_customer_value": scope["avg_net_value"],
                "top_categories": ", ".join(top_categories) or None,
                "top_channels": ", ".join(_ranked(channels, lambda c: t[channels[c]])[:2]) or None,
                "top_regions": ", ".join(region_share.index[:2].astype(str)) or None,
                "top_devices": ", ".join(_ranked(devices, lambda c: t[devices[c]])[:2]) or None,
                "top_traits": ", ".join(extras[sid][:3]),
                "recommended_channel": contact,
                "message_theme": theme,
                "offer_type": "discount-led" if discount_led else "full-price (early access, bundles)",
                **kpi,
                "stability": float(stability.get(sid, np.nan)),
                "is_stable": bool(stability.get(sid, 0.0) >= UNSTABLE_BELOW),
                "cannot_say": "; ".join(cannot_say) or None,
                "_expected_return": _expected_return(scope, kpi),
            })

    profiles = pd.DataFrame(rows)
    names = _unique_names(name_parts, extras)
    profiles["segment_name"] = profiles["segment_id"].map(names)
    profiles["description"] = profiles.apply(_describe, axis=1)
    for kpi in [c for c in profiles.columns if c.removesuffix("_target") in pop_kpis]:
        profiles[kpi] = profiles[kpi].astype("Float64")  # a KPI the data cannot support is NULL, not NaN

    # budget: allocated to micro segments by expected return; a macro gets the sum of its micros
    micro = profiles["level"] == MICRO
    ev = profiles.loc[micro, "_expected_return"]
    profiles.loc[micro, "budget_share"] = ev / ev.sum() if ev.sum() > 0 else 1 / micro.sum()
    by_parent = profiles[micro].groupby("parent_segment_id")["budget_share"].sum()
    profiles.loc[~micro, "budget_share"] = profiles.loc[~micro, "segment_id"].map(by_parent).fillna(0.0)
    profiles["budget"] = profiles["budget_share"] * total_budget
    for level in (MACRO, MICRO):
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
