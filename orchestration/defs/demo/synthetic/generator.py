"""Clean synthetic retailer exports drawn from the planted personas, one block of customers at a time.

Every draw is vectorised over a block's customers (then over orders, items, sessions and
touches via ``np.repeat``), so a million customers take seconds, not minutes, and memory
is bounded by the block, not by the retailer. Each block draws from its own seed (the
run's seed and the block's number), and ids continue from block to block, so the data
depends on (seed, block size) only. The result is *clean*; ``faults.inject_faults``
then dirties each block the way real exports are dirty.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .personas import (
    ACQUISITION_CHANNELS,
    CATEGORIES,
    CITIES,
    DEVICES,
    ORDER_CHANNELS,
    PERSONAS,
    REGIONS,
    TOUCH_CHANNELS,
)

FIRST_NAMES = np.array(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Carlos Karen Wei Nancy Ahmed Lisa Daniel Betty "
    "Matthew Sofia Anthony Priya Mark Sandra Kenji Ashley Luis Emily Omar Donna Ivan Michelle".split()
)
LAST_NAMES = np.array(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen".split()
)
EMAIL_DOMAINS = np.array(["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me"])
SUBCATEGORIES_PER_CATEGORY = 4
BRANDS_PER_CATEGORY = 6
PRODUCTS_PER_CATEGORY = 120
# Median product price per category, in USD; prices spread log-normally around it.
CATEGORY_PRICE = {
    "electronics": 180.0, "computing": 350.0, "apparel": 40.0, "footwear": 70.0, "beauty": 22.0,
    "home": 60.0, "grocery": 8.0, "sports_outdoor": 55.0, "toys_kids": 25.0, "books_media": 15.0,
}
# How tightly a customer's category mix follows their persona (Dirichlet concentration), and the
# affinity of every persona for categories it does not favour.
CATEGORY_CONCENTRATION = 60.0
OTHER_CATEGORY_AFFINITY = 0.05
HISTORY_DAYS = 2 * 365  # orders are drawn from the last two years before the reference date

# --- time: later periods of the same customers, with planted changes (the truth goes to eval.*) ---
PERIOD_DAYS = 92  # period p is exported p * 92 days after reference_date (2026-06-30 -> 2026-09-30)
# From period 1 on, this micro persona's customers moved from the store to the app: their orders, browsing
# and responses are drawn again from SHIFTED_TO (same customers, same demographics); and a new niche appears.
SHIFTED_PERSONA = "fashion_and_beauty/in_store_classic"
SHIFTED_TO = replace(next(p for p in PERSONAS if f"{p.macro}/{p.micro}" == SHIFTED_PERSONA),
                     channels=(0.15, 0.8, 0.05), devices=(0.05, 0.9, 0.05), push_open=0.5, orders_per_year=7,
                     recency_mean_days=12, sessions_per_month=20, weight=1.0)
SHIFT_ID_OFFSET = 2_000_000_000  # ids of the shifted customers' new orders, events and touches
NEW_NICHE = replace(PERSONAS[16], macro="active_outdoors", micro="trail_runners_new", weight=1.0,
                    home_region="West", home_region_share=0.9, age_mean=29, channels=(0.2, 0.75, 0.05),
                    categories={"sports_outdoor": 5.0, "footwear": 4.0, "beauty": 1.0}, orders_per_year=8,
                    recency_mean_days=12, tenure_mean_days=70)
NEW_NICHE_SHARE = 0.04  # of n_customers
NICHE_ID_OFFSET = 1_000_000_000  # the niche's ids never meet the base's
# Campaigns of the reference date's calendar month: holdout customers get no touch that month, and
# reached customers of these macro personas who would not have ordered that month do so with this
# probability (so the measured conversion uplift is this times the share who would not have ordered).
PLANTED_UPLIFT = {"deal_seeking_families": 0.5, "fashion_and_beauty": 0.5}
# Customers per block: the unit of randomness and of memory (about 1 GB at the peak of a block, ~10M raw
# rows). Changing it changes the data of every retailer larger than one block.
BLOCK_CUSTOMERS = 100_000
# First id of each id space (plus the stream's offset: 0, NICHE_ID_OFFSET or SHIFT_ID_OFFSET). A stream's
# ids must stay below the next stream's offset: about 20M customers, as touches are the longest space.
FIRST_IDS = {"customer": 100_001, "order": 5_000_001, "order_item": 20_000_001, "session": 70_000_001,
             "event": 1, "touch": 1}
ID_SPACE = 1_000_000_000


@dataclass(frozen=True)
class GeneratorConfig:
    n_customers: int = 20_000
    seed: int = 42
    reference_date: str = "2026-06-30"  # the day the period-0 export was taken
    period: int = 0  # 0 = the first export; 1, 2, ... = later exports of the same customers
    holdout_share: float = 0.10  # the retailer keeps these customers out of campaigns (dbt var holdout_share)
    holdout_salt: str = "microseg-holdout-v1"  # dbt var holdout_salt
    # customers per block: the unit of randomness and of memory; the data depends on it (tests use small blocks)
    block_customers: int = BLOCK_CUSTOMERS

    def export_date(self) -> np.datetime64:
        return np.datetime64(self.reference_date, "s") + np.timedelta64(self.period * PERIOD_DAYS, "D")


def holdout_bucket(customer_id: np.ndarray, salt: str) -> np.ndarray:
    """The holdout rule of dbt's macro holdout_bucket, mirrored so the demo retailer honours it."""
    return np.array([int(hashlib.md5(f"{salt}:{c}".encode()).hexdigest()[:8], 16) / 2 ** 32 for c in customer_id])


def block_rng(seed: int | list[int], block: int) -> np.random.Generator:
    """The random stream of one block. Block 0 draws from the seed itself, so a retailer of one block
    is the data it was before the generator streamed."""
    key = [seed] if isinstance(seed, int) else list(seed)
    return np.random.default_rng(key + [block] if block else key)


def block_sizes(n_customers: int, block_customers: int) -> list[int]:
    """Customers in each block: full blocks, then the rest."""
    full, rest = divmod(n_customers, block_customers)
    return [block_customers] * full + ([rest] if rest else [])


class IdCounters:
    """The next free id of each id space in one stream of blocks, so ids never repeat across blocks."""

    def __init__(self, offset: int = 0):
        self.offset = offset
        self.next = {space: first + offset for space, first in FIRST_IDS.items()}

    def take(self, space: str, n: int) -> np.ndarray:
        start = self.next[space]
        if start + n > self.offset + ID_SPACE:
            raise ValueError(f"the demo's {space} ids would run into the next id range ({self.offset + ID_SPACE:,}):"
                             " generate fewer customers")
        self.next[space] = start + n
        return np.arange(start, start + n, dtype=np.int64)


# Contact consents at plausible retail opt-in rates; a few are unknown (NULL = no consent downstream).
CONSENT_RATES = {"email_consent": 0.80, "sms_consent": 0.45, "ads_consent": 0.60}
CONSENT_UNKNOWN = 0.05
PHONE_MISSING, PHONE_INVALID = 0.08, 0.01


def _contacts(config: GeneratorConfig, n: int, block: int = 0) -> dict[str, object]:
    """US phones in the mixed formats real exports have, and consents.

    Own random stream, so adding contacts left every other draw (and the planted personas' recovery) as it was.
    """
    rng = block_rng([config.seed, 11], block)
    area, exchange, line = rng.integers(201, 990, n), rng.integers(200, 1000, n), rng.integers(0, 10000, n)
    a, e, l = (pd.Series(x).astype(str).str.zfill(w).to_numpy(dtype=object)
               for x, w in ((area, 3), (exchange, 3), (line, 4)))
    styles = rng.integers(0, 5, n)
    phone = np.select(
        [styles == 0, styles == 1, styles == 2, styles == 3],
        ["(" + a + ") " + e + "-" + l, "+1 " + a + " " + e + " " + l, a + "-" + e + "-" + l, "1" + a + e + l],
        a + "." + e + "." + l).astype(object)
    u = rng.random(n)
    phone[u < PHONE_MISSING] = None
    invalid = (u >= PHONE_MISSING) & (u < PHONE_MISSING + PHONE_INVALID)
    phone[invalid] = (e + "-" + l)[invalid]  # seven digits, no area code: cannot be made E.164
    out: dict[str, object] = {"phone": phone}
    for column, rate in CONSENT_RATES.items():
        v = rng.random(n)
        out[column] = pd.array(np.where(v < CONSENT_UNKNOWN, None, v < CONSENT_UNKNOWN + rate * (1 - CONSENT_UNKNOWN)),
                               dtype="boolean")
    return out


def _persona_params(field: str, personas=PERSONAS) -> np.ndarray:
    return np.array([getattr(p, field) for p in personas], dtype=float)


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row, each row with its own concentration."""
    g = rng.gamma(np.maximum(alpha, 1e-3))
    return g / g.sum(axis=1, keepdims=True)


def _categorical_draw(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """One categorical draw for each entry of ``rows`` from that row's probabilities.

    The per-row CDFs are laid end to end (row r's CDF shifted by r), so all draws
    are one ``searchsorted`` with no (draws x categories) temporary.
    """
    n_rows, k = probs.shape
    rows = np.arange(n_rows) if rows is None else rows
    cdf = np.cumsum(probs, axis=1)
    cdf[:, -1] = 1.0
    flat = (cdf + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + rng.random(len(rows)), side="right")
    return np.minimum(pos - rows * k, k - 1)


def _codes(categories, codes: np.ndarray) -> pd.Categorical:
    """A code column as a categorical: far cheaper than materialising millions of strings."""
    return pd.Categorical.from_codes(codes, categories=list(categories))


def _beta_around(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    mean = np.clip(mean, 0.01, 0.99)
    return rng.beta(mean * concentration, (1 - mean) * concentration)


def generate_products(config: GeneratorConfig) -> pd.DataFrame:
    rng = np.random.default_rng(config.seed + 1)
    n = len(CATEGORIES) * PRODUCTS_PER_CATEGORY
    category_idx = np.repeat(np.arange(len(CATEGORIES)), PRODUCTS_PER_CATEGORY)
    median = np.array([CATEGORY_PRICE[c] for c in CATEGORIES])[category_idx]
    price = np.round(median * np.exp(rng.normal(0, 0.7, n)), 2)
    # Sorted by price within each category, so a price quantile maps to a product range.
    order = np.lexsort((price, category_idx))
    category_idx, price = category_idx[order], price[order]
    sub = rng.integers(0, SUBCATEGORIES_PER_CATEGORY, n)
    brand = rng.integers(0, BRANDS_PER_CATEGORY, n)
    cats = np.array(CATEGORIES)[category_idx]
    private_label = (brand == 0) & (price < median[order] * 1.2)
    return pd.DataFrame({
        "product_id": np.arange(1, n + 1, dtype=np.int64),
        "product_name": [f"{c.replace('_', ' ').title()} item {i}" for i, c in enumerate(cats, 1)],
        "category": cats,
        "subcategory": np.char.add(np.char.add(cats, "_"), sub.astype(str)),
        "brand": np.where(private_label, "Microseg Basics", np.char.add("Brand ", (category_idx * 10 + brand).astype(str))),
        "price": price,
        "is_private_label": private_label,
    })


def generate_block(config: GeneratorConfig, block: int, n: int, ids: IdCounters) -> dict[str, pd.DataFrame]:
    """Clean tables of block ``block`` (``n`` customers) keyed by raw table name, plus ``planted_personas``.

    Period p > 0 draws the same customers with the same seed, so nothing changes but what is
    planted: the shifted persona's store/app swap in ``generate_shifted``, the new niche in ``generate_new_niche``."""
    return _generate(replace(config, n_customers=n), PERSONAS, block, ids)


def niche_customers(config: GeneratorConfig) -> int:
    return max(1, int(NEW_NICHE_SHARE * config.n_customers))


def generate_new_niche(config: GeneratorConfig, block: int, n: int, ids: IdCounters) -> dict[str, pd.DataFrame]:
    """From period 1 on: block ``block`` of a niche that did not exist before (clean tables, own ids)."""
    return _generate(replace(config, n_customers=n, seed=config.seed + 1000), (NEW_NICHE,), block, ids)


def generate_shifted(config: GeneratorConfig, planted: pd.DataFrame, block: int,
                     ids: IdCounters) -> dict[str, pd.DataFrame]:
    """From period 1 on: the behaviour of the shifted persona's customers of one block (``planted``), drawn
    again as SHIFTED_TO (clean tables without the customers entity: who they are has not changed)."""
    customer_ids = planted.loc[planted["micro_persona"] == SHIFTED_PERSONA, "customer_id"].to_numpy()
    if not len(customer_ids):
        return {}
    tables = _generate(replace(config, n_customers=len(customer_ids), seed=config.seed + 2000), (SHIFTED_TO,),
                       block, ids, customer_ids=customer_ids)
    return {name: df for name, df in tables.items() if name not in ("customers", "planted_personas")}


def planted_changes(config: GeneratorConfig, customers: dict[str, int]) -> pd.DataFrame:
    """What changed since period 0, with how many customers (``customers``: per micro persona): the truth the
    drift and migration checks use."""
    columns = ["from_period", "change", "persona", "customers", "detail"]
    if config.period < 1:
        return pd.DataFrame(columns=columns)
    niche = f"{NEW_NICHE.macro}/{NEW_NICHE.micro}"
    return pd.DataFrame([
        (1, "behaviour_shift", SHIFTED_PERSONA, int(customers.get(SHIFTED_PERSONA, 0)),
         "moved from store to app: app and mobile orders, more often, more browsing, push opened"),
        (1, "new_niche", niche, int(customers.get(niche, 0)), "customers not there in period 0"),
    ], columns=columns)


def _generate(config: GeneratorConfig, personas, block: int, ids: IdCounters,
              customer_ids: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """One block of one stream; ``config.seed`` is the stream's (the base, the niche or the shifted)."""
    rng = block_rng(config.seed, block)
    n = config.n_customers
    ref = config.export_date()
    day = np.timedelta64(86400, "s")

    weights = _persona_params("weight", personas)
    persona = rng.choice(len(personas), size=n, p=weights / weights.sum())
    P = {f: _persona_params(f, personas)[persona] for f in (
        "age_mean", "female_share", "home_region_share", "loyalty_share", "orders_per_year",
        "recency_mean_days", "tenure_mean_days", "price_level", "items_per_order",
        "discount_share", "discount_depth", "email_open", "email_click", "sms_click",
        "push_open", "conversion", "sessions_per_month", "return_share", "touches_per_year",
        )}

    def matrix(getter) -> np.ndarray:
        return np.array([getter(p) for p in personas], dtype=float)[persona]

    # --- customers -------------------------------------------------------------------------
    customer_id = ids.take("customer", n) if customer_ids is None else np.asarray(customer_ids, dtype=np.int64)
    age = np.clip(rng.normal(P["age_mean"], 7.0), 18, 90)
    birth = ref - (age * 365.25 * day).astype("timedelta64[s]")
    gender = np.where(rng.random(n) < P["female_share"], 0, 1)
    gender = _codes(("F", "M", "X"), np.where(rng.random(n) < 0.02, 2, gender))
    home = np.array([REGIONS.index(p.home_region) for p in personas])[persona]
    region_idx = np.where(rng.random(n) < P["home_region_share"], home, rng.integers(0, len(REGIONS), n))
    city_idx = rng.integers(0, 3, n)
    region = _codes(REGIONS, region_idx)
    city = _codes([CITIES[r][i] for r in REGIONS for i in range(3)], region_idx * 3 + city_idx)
    tenure_days = np.clip(rng.gamma(3.0, P["tenure_mean_days"] / 3.0), 14, 12 * 365)
    signup = ref - (tenure_days * day).astype("timedelta64[s]")
    acquisition = _codes(ACQUISITION_CHANNELS, _categorical_draw(rng, matrix(lambda p: p.acquisition)))
    loyalty = rng.random(n) < P["loyalty_share"]
    first = _codes(FIRST_NAMES, rng.integers(0, len(FIRST_NAMES), n))
    last = _codes(LAST_NAMES, rng.integers(0, len(LAST_NAMES), n))
    domain = _codes(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), n))
    email = (pd.Series(first).str.lower() + "." + pd.Series(last).str.lower()
             + pd.Series(customer_id).astype(str) + "@" + pd.Series(domain).astype(str))
    customers = pd.DataFrame({
        "customer_id": customer_id,
        "first_name": first,
        "last_name": last,
        "email": email,
        "birth_date": birth.astype("datetime64[D]"),
        "gender": gender,
        "country_code": _codes(("US",), np.zeros(n, dtype=int)),
        "region": region,
        "city": city,
        "signup_date": signup.astype("datetime64[D]"),
        "acquisition_channel": acquisition,
        "is_loyalty_member": loyalty,
        **_contacts(config, n, block),
    })

    # --- per-customer behaviour, drawn around the persona means ------------------------------
    active_days = np.minimum(tenure_days, HISTORY_DAYS)
    rate = rng.gamma(2.0, P["orders_per_year"] / 2.0)  # long-tailed frequency
    n_orders = 1 + rng.poisson(rate * active_days / 365.0)
    recency = np.minimum(rng.exponential(P["recency_mean_days"]), active_days - 1)
    price_q = _beta_around(rng, P["price_level"], 12.0)
    discount_p = _beta_around(rng, P["discount_share"], 10.0)
    return_p = _beta_around(rng, P["return_share"], 20.0)
    cat_weights = np.full((len(personas), len(CATEGORIES)), OTHER_CATEGORY_AFFINITY)
    for i, p in enumerate(personas):
        for cat, w in p.categories.items():
            cat_weights[i, CATEGORIES.index(cat)] = w
    cat_probs = _dirichlet_rows(rng, (cat_weights / cat_weights.sum(1, keepdims=True))[persona] * CATEGORY_CONCENTRATION)
    chan_probs = _dirichlet_rows(rng, matrix(lambda p: p.channels) * 20.0)
    dev_probs = _dirichlet_rows(rng, matrix(lambda p: p.devices) * 20.0)
    micro_names = [f"{p.macro}/{p.micro}" for p in personas]

    # --- orders ------------------------------------------------------------------------------
    oc = np.repeat(np.arange(n), n_orders)  # customer index of each order
    n_o = len(oc)
    last_order_day = recency[oc]
    span = np.maximum(active_days[oc] - last_order_day, 1.0)
    # the newest order of each customer sits exactly at their recency; others spread over the span
    first_of_customer = np.r_[True, oc[1:] != oc[:-1]]
    days_ago = np.where(first_of_customer, last_order_day, last_order_day + rng.random(n_o) * span)
    order_ts = ref - (days_ago * day).astype("timedelta64[s]") + (rng.integers(8 * 3600, 21 * 3600, n_o)).astype("timedelta64[s]")
    order_channel_idx = _categorical_draw(rng, chan_probs, oc)
    device_idx = _categorical_draw(rng, dev_probs, oc)
    # app orders come from phones and tablets only
    device_idx = np.where((order_channel_idx == 1) & (device_idx == 0), 1, device_idx)
    discounted = rng.random(n_o) < discount_p[oc]
    discount_pct = np.where(discounted, np.round(np.clip(rng.normal(P["discount_depth"][oc], 0.05), 0.05, 0.6), 2), 0.0)
    u = rng.random(n_o)
    status = _codes(("completed", "cancelled", "returned"), np.where(u < 0.02, 1, np.where(u < 0.02 + return_p[oc], 2, 0)))
    order_id = ids.take("order", n_o)
    orders = pd.DataFrame({
        "order_id": order_id,
        "customer_id": customer_id[oc],
        "order_ts": order_ts,
        "channel": _codes(ORDER_CHANNELS, order_channel_idx),
        "device": _codes(DEVICES, np.where(order_channel_idx == 2, -1, device_idx)),  # no device in store
        "discount_pct": discount_pct,
        "status": status,
    })

    # --- order items -------------------------------------------------------------------------
    n_items = 1 + rng.poisson(np.maximum(P["items_per_order"][oc] - 1, 0.05))
    io = np.repeat(np.arange(n_o), n_items)  # order index of each item
    ic = oc[io]
    cat = _categorical_draw(rng, cat_probs, ic)
    q = np.clip(price_q[ic] + rng.normal(0, 0.12, len(io)), 0, 0.999)
    product_idx = cat * PRODUCTS_PER_CATEGORY + (q * PRODUCTS_PER_CATEGORY).astype(int)
    products = generate_products(config)
    unit_price = products["price"].to_numpy()[product_idx]
    quantity = 1 + rng.poisson(0.25, len(io))
    items = pd.DataFrame({
        "order_item_id": ids.take("order_item", len(io)),
        "order_id": order_id[io],
        "product_id": products["product_id"].to_numpy()[product_idx],
        "line_type": _codes(("sale", "refund"), np.zeros(len(io), dtype=int)),
        "quantity": quantity,
        "unit_price": unit_price,
    })

    # --- web events: sessions, each a page view plus searches and add-to-carts ---------------
    n_sessions = rng.poisson(rng.gamma(4.0, P["sessions_per_month"] / 4.0))  # the last 30 days
    sc = np.repeat(np.arange(n), n_sessions)
    n_s = len(sc)
    session_ts = ref - (rng.random(n_s) * 30 * day).astype("timedelta64[s]")
    session_device = _categorical_draw(rng, dev_probs, sc)
    n_views = 1 + rng.poisson(1.0, n_s)
    n_search = rng.binomial(1, 0.45, n_s)
    n_cart = rng.binomial(1, np.clip(0.15 + 0.4 * (P["conversion"][sc]), 0, 1))
    events_per_session = n_views + n_search + n_cart
    es = np.repeat(np.arange(n_s), events_per_session)
    within = np.arange(len(es)) - np.repeat(np.cumsum(events_per_session) - events_per_session, events_per_session)
    kind = np.where(within < n_views[es], 0, np.where(within < n_views[es] + n_search[es], 1, 2))
    web_events = pd.DataFrame({
        "event_id": ids.take("event", len(es)),
        "session_id": ids.take("session", n_s)[es],
        "customer_id": customer_id[sc][es],
        "event_ts": session_ts[es] + (within * 40).astype("timedelta64[s]"),
        "event_type": _codes(("page_view", "search", "add_to_cart"), kind),
        "device": _codes(DEVICES, session_device[es]),
    })

    # --- marketing touches -------------------------------------------------------------------
    n_touch = rng.poisson(P["touches_per_year"] * np.minimum(active_days, 365) / 365.0)
    tc = np.repeat(np.arange(n), n_touch)
    t_chan = rng.choice(3, size=len(tc), p=[0.6, 0.2, 0.2])
    # per customer and touch channel (email, sms, push), then one lookup per touch
    open_rate = np.stack([P["email_open"], np.full(n, 0.9), P["push_open"]], axis=1)[tc, t_chan]
    click_rate = np.stack([P["email_click"], P["sms_click"], P["email_click"] * 0.6], axis=1)[tc, t_chan]
    opened = rng.random(len(tc)) < open_rate
    clicked = opened & (rng.random(len(tc)) < click_rate)
    converted = clicked & (rng.random(len(tc)) < P["conversion"][tc] * 2)
    # SMS has no open tracking: the export records clicks only (set after the draws, so no draw changes)
    opened = opened & (t_chan != 1)
    touches = pd.DataFrame({
        "touch_id": ids.take("touch", len(tc)),
        "customer_id": customer_id[tc],
        "channel": _codes(TOUCH_CHANNELS, t_chan),
        "sent_at": ref - (rng.random(len(tc)) * 365 * day).astype("timedelta64[s]"),
        "opened": opened,
        "clicked": clicked,
        "converted": converted,
    })

    uplift = np.array([PLANTED_UPLIFT.get(p.macro, 0.0) for p in personas])[persona]
    touches, extra_orders, extra_items = _campaign_month(config, block, ids, ref, customer_id, uplift, touches,
                                                         orders, chan_probs, dev_probs, cat_probs, price_q, products)
    orders = pd.concat([orders, extra_orders], ignore_index=True)
    items = pd.concat([items, extra_items], ignore_index=True)

    planted = pd.DataFrame({
        "customer_id": customer_id,
        "macro_persona": pd.Categorical([p.macro for p in personas])[persona],
        "micro_persona": _codes(micro_names, persona),
        "planted_conversion_uplift": uplift,
    })
    return {
        "customers": customers,
        "orders": orders,
        "order_items": items,
        "web_events": web_events,
        "marketing_touches": touches,
        "planted_personas": planted,
    }


def _campaign_month(config: GeneratorConfig, block: int, ids: IdCounters, ref: np.datetime64,
                    customer_id: np.ndarray, uplift: np.ndarray, touches: pd.DataFrame, orders: pd.DataFrame,
                    chan_probs, dev_probs, cat_probs, price_q,
                    products: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The export date's calendar month is a campaign measured against the holdout: holdout customers get
    no touch, and reached customers with a planted uplift who would not have ordered that month order once
    with that probability. Returns (touches, extra orders, their items); a generator of its own keeps
    every other draw as it was."""
    rng = block_rng(config.seed + 7, block)
    month_start = ref.astype("datetime64[M]").astype("datetime64[s]")
    holdout = holdout_bucket(customer_id, config.holdout_salt) < config.holdout_share
    index = pd.Series(np.arange(len(customer_id)), index=customer_id)
    in_month = touches["sent_at"].to_numpy() >= month_start
    touches = touches[~(in_month & holdout[index[touches["customer_id"]].to_numpy()])].reset_index(drop=True)
    reached = np.zeros(len(customer_id), dtype=bool)
    reached[index[touches.loc[touches["sent_at"] >= month_start, "customer_id"]].to_numpy()] = True
    ordered = np.zeros(len(customer_id), dtype=bool)
    ordered[index[orders.loc[orders["order_ts"] >= month_start, "customer_id"]].to_numpy()] = True
    converts = np.flatnonzero(reached & ~ordered & (rng.random(len(customer_id)) < uplift))
    n = len(converts)
    channel = _categorical_draw(rng, chan_probs, converts)
    device = _categorical_draw(rng, dev_probs, converts)
    device = np.where((channel == 1) & (device == 0), 1, device)
    order_id = ids.take("order", n)
    span = (ref - month_start).astype("timedelta64[s]").astype(np.int64)
    extra_orders = pd.DataFrame({
        "order_id": order_id,
        "customer_id": customer_id[converts],
        "order_ts": month_start + (rng.random(n) * span).astype("timedelta64[s]"),
        "channel": _codes(ORDER_CHANNELS, channel),
        "device": _codes(DEVICES, np.where(channel == 2, -1, device)),
        "discount_pct": np.zeros(n),
        "status": _codes(("completed", "cancelled", "returned"), np.zeros(n, dtype=int)),
    })
    category = _categorical_draw(rng, cat_probs, converts)
    q = np.clip(price_q[converts] + rng.normal(0, 0.12, n), 0, 0.999)
    product_idx = category * PRODUCTS_PER_CATEGORY + (q * PRODUCTS_PER_CATEGORY).astype(int)
    extra_items = pd.DataFrame({
        "order_item_id": ids.take("order_item", n),
        "order_id": order_id,
        "product_id": products["product_id"].to_numpy()[product_idx],
        "line_type": _codes(("sale", "refund"), np.zeros(n, dtype=int)),
        "quantity": np.ones(n, dtype=np.int64),
        "unit_price": products["price"].to_numpy()[product_idx],
    })
    return touches, extra_orders, extra_items
