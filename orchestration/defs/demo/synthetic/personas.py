"""The planted personas behind the demo data.

Six macro personas, each with 3-5 micro personas. A micro persona is its macro's
parameters with a few overrides, so siblings share most traits (as real
sub-groups do) and differ in a handful: geography, recency, discount appetite,
channel, price level. Every parameter is a *mean*: each customer draws their own
value around it, so no single column separates the personas.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

CATEGORIES = (
    "electronics",
    "computing",
    "apparel",
    "footwear",
    "beauty",
    "home",
    "grocery",
    "sports_outdoor",
    "toys_kids",
    "books_media",
)
REGIONS = ("Northeast", "Southeast", "Midwest", "Southwest", "West")
CITIES = {
    "Northeast": ("Boston", "New York", "Philadelphia"),
    "Southeast": ("Atlanta", "Miami", "Charlotte"),
    "Midwest": ("Chicago", "Detroit", "Minneapolis"),
    "Southwest": ("Phoenix", "Dallas", "Albuquerque"),
    "West": ("Seattle", "San Francisco", "Denver"),
}
ORDER_CHANNELS = ("web", "app", "store")
DEVICES = ("desktop", "mobile", "tablet")
ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "store")
TOUCH_CHANNELS = ("email", "sms", "push")


@dataclass(frozen=True)
class Persona:
    """Mean behaviour of one persona. Rates are per customer, shares sum to ~1."""

    macro: str
    micro: str
    weight: float
    age_mean: float
    female_share: float
    home_region: str
    home_region_share: float
    loyalty_share: float
    acquisition: tuple[float, ...]  # over ACQUISITION_CHANNELS
    orders_per_year: float
    recency_mean_days: float
    tenure_mean_days: float
    price_level: float  # 0 = cheapest products in a category, 1 = dearest
    items_per_order: float
    categories: dict[str, float]  # affinity weights; unlisted categories get OTHER_CATEGORY_AFFINITY
    discount_share: float  # share of orders with a discount
    discount_depth: float  # mean discount fraction when discounted
    channels: tuple[float, float, float]  # web, app, store
    devices: tuple[float, float, float]  # desktop, mobile, tablet
    email_open: float
    email_click: float  # given opened
    sms_click: float
    push_open: float
    conversion: float  # given clicked
    sessions_per_month: float
    return_share: float
    touches_per_year: float = 52.0  # weekly campaigns
    extra: dict = field(default_factory=dict)


def _micro(base: Persona, micro: str, weight: float, **overrides) -> Persona:
    return replace(base, micro=micro, weight=weight, **overrides)


_FAMILIES = Persona(
    macro="deal_seeking_families", micro="", weight=0, age_mean=38, female_share=0.62,
    home_region="Midwest", home_region_share=0.35, loyalty_share=0.55,
    acquisition=(0.2, 0.15, 0.15, 0.2, 0.3), orders_per_year=6, recency_mean_days=20,
    tenure_mean_days=1400, price_level=0.25, items_per_order=3.0,
    categories={"grocery": 3.0, "toys_kids": 2.2, "home": 1.4},
    discount_share=0.65, discount_depth=0.22, channels=(0.2, 0.25, 0.55),
    devices=(0.15, 0.75, 0.10), email_open=0.30, email_click=0.20, sms_click=0.12,
    push_open=0.10, conversion=0.12, sessions_per_month=3, return_share=0.04,
)
_TECH = Persona(
    macro="tech_enthusiasts", micro="", weight=0, age_mean=33, female_share=0.25,
    home_region="West", home_region_share=0.35, loyalty_share=0.30,
    acquisition=(0.35, 0.35, 0.1, 0.15, 0.05), orders_per_year=3, recency_mean_days=45,
    tenure_mean_days=1100, price_level=0.7, items_per_order=1.5,
    categories={"electronics": 3.0, "computing": 2.6, "books_media": 0.9},
    discount_share=0.2, discount_depth=0.12, channels=(0.75, 0.15, 0.10),
    devices=(0.70, 0.22, 0.08), email_open=0.22, email_click=0.25, sms_click=0.04,
    push_open=0.08, conversion=0.10, sessions_per_month=9, return_share=0.08,
)
_FASHION = Persona(
    macro="fashion_and_beauty", micro="", weight=0, age_mean=29, female_share=0.8,
    home_region="Northeast", home_region_share=0.35, loyalty_share=0.45,
    acquisition=(0.15, 0.15, 0.5, 0.15, 0.05), orders_per_year=5, recency_mean_days=18,
    tenure_mean_days=900, price_level=0.45, items_per_order=2.5,
    categories={"apparel": 3.0, "footwear": 1.8, "beauty": 2.0},
    discount_share=0.35, discount_depth=0.2, channels=(0.2, 0.65, 0.15),
    devices=(0.10, 0.82, 0.08), email_open=0.35, email_click=0.3, sms_click=0.08,
    push_open=0.35, conversion=0.15, sessions_per_month=14, return_share=0.22,
)
_HOME = Persona(
    macro="premium_home_lifestyle", micro="", weight=0, age_mean=54, female_share=0.58,
    home_region="Northeast", home_region_share=0.35, loyalty_share=0.8,
    acquisition=(0.35, 0.1, 0.05, 0.3, 0.2), orders_per_year=4, recency_mean_days=25,
    tenure_mean_days=2200, price_level=0.8, items_per_order=2.2,
    categories={"home": 3.2, "books_media": 1.4},
    discount_share=0.08, discount_depth=0.1, channels=(0.45, 0.05, 0.5),
    devices=(0.55, 0.2, 0.25), email_open=0.55, email_click=0.25, sms_click=0.05,
    push_open=0.05, conversion=0.2, sessions_per_month=4, return_share=0.05,
)
_OUTDOORS = Persona(
    macro="active_outdoors", micro="", weight=0, age_mean=35, female_share=0.45,
    home_region="Southwest", home_region_share=0.35, loyalty_share=0.4,
    acquisition=(0.3, 0.2, 0.25, 0.15, 0.1), orders_per_year=3, recency_mean_days=35,
    tenure_mean_days=1300, price_level=0.55, items_per_order=2.0,
    categories={"sports_outdoor": 3.4, "footwear": 0.9},
    discount_share=0.25, discount_depth=0.15, channels=(0.5, 0.35, 0.15),
    devices=(0.35, 0.55, 0.10), email_open=0.3, email_click=0.25, sms_click=0.06,
    push_open=0.2, conversion=0.12, sessions_per_month=6, return_share=0.1,
)
_OCCASIONAL = Persona(
    macro="occasional_low_engagement", micro="", weight=0, age_mean=47, female_share=0.5,
    home_region="Southeast", home_region_share=0.3, loyalty_share=0.1,
    acquisition=(0.2, 0.3, 0.2, 0.1, 0.2), orders_per_year=0.8, recency_mean_days=320,
    tenure_mean_days=1000, price_level=0.4, items_per_order=1.6,
    categories={"books_media": 1.5, "toys_kids": 1.3, "home": 1.0},
    discount_share=0.3, discount_depth=0.18, channels=(0.4, 0.1, 0.5),
    devices=(0.45, 0.45, 0.10), email_open=0.05, email_click=0.05, sms_click=0.02,
    push_open=0.02, conversion=0.05, sessions_per_month=0.3, return_share=0.06,
    touches_per_year=26,
)

PERSONAS: tuple[Persona, ...] = (
    _micro(_FAMILIES, "store_regulars_midwest", 0.07, home_region="Midwest", home_region_share=0.9,
           channels=(0.1, 0.1, 0.8), orders_per_year=8),
    _micro(_FAMILIES, "app_coupon_clippers", 0.05, home_region="Southeast", home_region_share=0.9,
           channels=(0.15, 0.75, 0.1), discount_share=0.85, discount_depth=0.3, push_open=0.3),
    _micro(_FAMILIES, "lapsed_bargain_families", 0.04, home_region="Southwest", home_region_share=0.9,
           recency_mean_days=120, orders_per_year=3, email_open=0.15),
    _micro(_FAMILIES, "big_basket_monthly", 0.04, home_region="Northeast", home_region_share=0.9,
           orders_per_year=4, items_per_order=5.0, price_level=0.4, channels=(0.6, 0.1, 0.3),
           devices=(0.55, 0.35, 0.10), discount_share=0.45),
    _micro(_TECH, "premium_early_adopters", 0.04, home_region="West", home_region_share=0.9,
           price_level=0.9, orders_per_year=4, discount_share=0.05),
    _micro(_TECH, "mobile_gamers", 0.04, home_region="Southeast", home_region_share=0.9, age_mean=23,
           channels=(0.25, 0.7, 0.05), devices=(0.15, 0.8, 0.05),
           categories={"electronics": 3.0, "books_media": 2.2, "computing": 1.0}, push_open=0.3),
    _micro(_TECH, "deal_hunting_techies", 0.04, home_region="Northeast", home_region_share=0.9,
           discount_share=0.7, discount_depth=0.25, price_level=0.45, email_open=0.4),
    _micro(_TECH, "lapsed_gadget_buyers", 0.03, home_region="Midwest", home_region_share=0.9,
           recency_mean_days=240, orders_per_year=1.5, sessions_per_month=2),
    _micro(_FASHION, "trend_chasers", 0.05, home_region="West", home_region_share=0.9, age_mean=23,
           orders_per_year=9, sessions_per_month=25, push_open=0.5),
    _micro(_FASHION, "beauty_loyalists", 0.04, home_region="Southeast", home_region_share=0.9,
           categories={"beauty": 3.5, "apparel": 0.8}, email_open=0.6, return_share=0.05,
           channels=(0.55, 0.35, 0.10), devices=(0.45, 0.45, 0.1)),
    _micro(_FASHION, "sale_only_fashion", 0.04, home_region="Midwest", home_region_share=0.9,
           discount_share=0.9, discount_depth=0.35, price_level=0.25, email_open=0.45),
    _micro(_FASHION, "in_store_classic", 0.03, home_region="Southwest", home_region_share=0.9,
           age_mean=46, channels=(0.15, 0.05, 0.8), devices=(0.4, 0.4, 0.2), orders_per_year=3,
           push_open=0.05, return_share=0.08),
    _micro(_FASHION, "luxury_fashion", 0.03, home_region="Northeast", home_region_share=0.9,
           price_level=0.92, discount_share=0.05, age_mean=38, channels=(0.6, 0.3, 0.1),
           devices=(0.5, 0.4, 0.1)),
    _micro(_HOME, "affluent_homemakers", 0.05, home_region="Northeast", home_region_share=0.9,
           age_mean=60, loyalty_share=0.95, channels=(0.3, 0.05, 0.65)),
    _micro(_HOME, "gourmet_grocery_regulars", 0.04, home_region="West", home_region_share=0.9,
           orders_per_year=7, items_per_order=3.5,
           categories={"grocery": 3.0, "home": 2.0, "books_media": 0.6}),
    _micro(_HOME, "lapsed_premium", 0.03, home_region="Southeast", home_region_share=0.9,
           recency_mean_days=230, orders_per_year=1.5, email_open=0.25),
    _micro(_OUTDOORS, "gear_enthusiasts", 0.04, home_region="West", home_region_share=0.9,
           price_level=0.85, orders_per_year=4, channels=(0.75, 0.15, 0.1), devices=(0.6, 0.3, 0.1)),
    _micro(_OUTDOORS, "fitness_regulars", 0.04, home_region="Southwest", home_region_share=0.9,
           orders_per_year=6, channels=(0.2, 0.7, 0.1), devices=(0.1, 0.85, 0.05), push_open=0.4,
           age_mean=28),
    _micro(_OUTDOORS, "seasonal_sporters", 0.03, home_region="Midwest", home_region_share=0.9,
           orders_per_year=1.5, recency_mean_days=150, discount_share=0.5),
    _micro(_OUTDOORS, "team_sport_parents", 0.03, home_region="Southeast", home_region_share=0.9,
           age_mean=41, items_per_order=3.0, categories={"sports_outdoor": 3.0, "toys_kids": 1.8, "footwear": 0.9},
           channels=(0.3, 0.2, 0.5), devices=(0.2, 0.7, 0.1)),
    _micro(_OCCASIONAL, "one_time_gift_buyers", 0.05, home_region="Northeast", home_region_share=0.9,
           orders_per_year=0.6,
           channels=(0.75, 0.1, 0.15), devices=(0.6, 0.3, 0.1)),
    _micro(_OCCASIONAL, "dormant_store_shoppers", 0.05, home_region="Midwest", home_region_share=0.9,
           age_mean=62, recency_mean_days=420, channels=(0.1, 0.02, 0.88), devices=(0.5, 0.2, 0.3)),
    _micro(_OCCASIONAL, "promo_reactivators", 0.04, home_region="West", home_region_share=0.9,
           age_mean=31, recency_mean_days=240, discount_share=0.85, discount_depth=0.3,
           channels=(0.3, 0.6, 0.1), devices=(0.2, 0.75, 0.05), push_open=0.1),
)
