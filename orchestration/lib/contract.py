"""The input contract: the entities microseg understands, their columns, and what each unlocks.

A sources file maps a retailer's files onto these entities (``orchestration.lib.sources``);
the loader turns them into the raw tables dbt reads. Only ``transactions`` is required,
and only three of its columns: everything else makes the segments richer when present.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # DuckDB type the value is cast to; a value that does not cast is quarantined
    meaning: str
    unlocks: str
    required: bool = False
    # an export file named after its raw table may lack it (exports made before it was in the contract)
    may_be_absent: bool = False
    not_negative: bool = False  # a negative value cannot be right (a price); quarantined at load
    max_abs: float | None = None  # a larger magnitude cannot be right (a quantity of a million); quarantined


# units on one line beyond this are a typo or a unit mix-up (grams for pieces), never a purchase
MAX_QUANTITY = 10_000

ENTITIES: dict[str, tuple[Column, ...]] = {
    "transactions": (
        Column("customer_id", "BIGINT", "Who bought: your id, an integer or text (C-00123).", "everything",
               required=True),
        Column("ordered_at", "TIMESTAMP", "When: a timestamp or a date.", "recency, frequency, tenure, trend",
               required=True),
        Column("amount", "DOUBLE", "What the customer paid for the line (negative for a refund).",
               "monetary value, average order value, returns", required=True),
        Column("order_id", "BIGINT", "Order the line belongs to; without it every line is its own order.",
               "items per order, basket size"),
        Column("quantity", "BIGINT", "Units on the line (default 1).", "items per order, unit-based category mix",
               max_abs=MAX_QUANTITY),
        Column("product_id", "BIGINT", "Product bought; joins the products entity.", "category mix, price level"),
        Column("category", "VARCHAR", "Product category, when there is no products entity.", "category mix"),
        Column("channel", "VARCHAR", "Where: web, app, store or your own codes.", "channel mix"),
        Column("device", "VARCHAR", "desktop, mobile, tablet.", "device mix"),
        Column("discount_pct", "DOUBLE", "Order discount as a fraction of list price (0.2 = 20% off).",
               "discount sensitivity", not_negative=True),
        Column("status", "VARCHAR", "completed, cancelled or returned (default completed).", "return rate"),
    ),
    "customers": (
        Column("customer_id", "BIGINT", "The customer.", "joins", required=True),
        Column("first_name", "VARCHAR", "First name (only used to spot test accounts).", "test-account exclusion"),
        Column("last_name", "VARCHAR", "Last name.", "nothing in the segments (kept out of marts)"),
        Column("email", "VARCHAR", "Email address.", "test-account exclusion, email audiences"),
        Column("birth_date", "DATE", "Date of birth.", "age, age band"),
        Column("gender", "VARCHAR", "F, M or X.", "gender mix"),
        Column("country_code", "VARCHAR", "ISO country code.", "geography"),
        Column("region", "VARCHAR", "Region or state.", "geography (micro segments)"),
        Column("city", "VARCHAR", "City.", "geography"),
        Column("signup_date", "DATE", "Account creation date.", "tenure before the first order"),
        Column("acquisition_channel", "VARCHAR", "How the customer was acquired.", "acquisition mix"),
        Column("is_loyalty_member", "BOOLEAN", "Enrolled in a loyalty programme.", "loyalty share"),
        # contact keys and consents feed the audience exports only; NULL consent = unknown = no consent
        Column("phone", "VARCHAR", "Phone number in any format; E.164 (+14155550123) or national.",
               "phone audiences (hashed E.164)", may_be_absent=True),
        Column("email_consent", "BOOLEAN", "Agreed to marketing email (empty = unknown = no).",
               "email audiences", may_be_absent=True),
        Column("sms_consent", "BOOLEAN", "Agreed to marketing SMS (empty = unknown = no).",
               "phone audiences", may_be_absent=True),
        Column("ads_consent", "BOOLEAN", "Agreed to ad personalisation, e.g. customer match (empty = unknown = no).",
               "ad-platform audiences", may_be_absent=True),
    ),
    "products": (
        Column("product_id", "BIGINT", "The product.", "joins", required=True),
        Column("product_name", "VARCHAR", "Name.", "nothing in the segments"),
        Column("category", "VARCHAR", "Top-level category.", "category mix", required=True),
        Column("subcategory", "VARCHAR", "Subcategory.", "nothing yet"),
        Column("brand", "VARCHAR", "Brand.", "nothing yet"),
        Column("price", "DOUBLE", "List price.", "price level within the category", not_negative=True),
        Column("is_private_label", "BOOLEAN", "Own-brand product.", "own-brand share"),
    ),
    "web_events": (
        Column("event_id", "BIGINT", "The event.", "dedupe", required=True),
        Column("session_id", "BIGINT", "Browsing session.", "sessions", required=True),
        Column("customer_id", "BIGINT", "Logged-in customer.", "on-site engagement", required=True),
        Column("event_ts", "TIMESTAMP", "When.", "30-day engagement", required=True),
        Column("event_type", "VARCHAR", "page_view, search or add_to_cart.", "search and cart rates",
               required=True),
        Column("device", "VARCHAR", "desktop, mobile or tablet.", "device mix"),
    ),
    "marketing_touches": (
        Column("touch_id", "BIGINT", "The send.", "dedupe", required=True),
        Column("customer_id", "BIGINT", "Recipient.", "response rates", required=True),
        Column("channel", "VARCHAR", "Your channel codes: email, sms, push, whatsapp, newsletter, ...",
               "per-channel response, channel recommendation", required=True),
        Column("sent_at", "TIMESTAMP", "When.", "response over the last year", required=True),
        Column("opened", "BOOLEAN", "Opened or read.", "open rates"),
        Column("clicked", "BOOLEAN", "Clicked through.", "click rates"),
        Column("converted", "BOOLEAN", "Purchased after the touch.", "conversion rate"),
    ),
}


def columns_of(entity: str) -> dict[str, Column]:
    return {c.name: c for c in ENTITIES[entity]}


@dataclass(frozen=True)
class RawTable:
    """A table of schema ``raw`` that dbt reads: its columns and the key that makes a row one record."""
    key: str  # a second row with this key is a duplicate (same content) or a newer version of the record
    columns: tuple[Column, ...]


# Transactions load into orders and order_items; every other entity into its own table.
RAW_TABLES: dict[str, RawTable] = {
    "customers": RawTable("customer_id", ENTITIES["customers"]),
    "products": RawTable("product_id", ENTITIES["products"]),
    "orders": RawTable("order_id", (
        Column("order_id", "BIGINT", "The order.", "dedupe", required=True),
        Column("customer_id", "BIGINT", "Who ordered.", "everything", required=True),
        Column("order_ts", "TIMESTAMP", "When.", "recency, frequency", required=True),
        Column("channel", "VARCHAR", "web, app, store.", "channel mix"),
        Column("device", "VARCHAR", "desktop, mobile, tablet.", "device mix"),
        Column("discount_pct", "DOUBLE", "Order discount as a fraction of list price.", "discount sensitivity",
               not_negative=True),
        Column("status", "VARCHAR", "completed, cancelled or returned.", "return rate"),
    )),
    "order_items": RawTable("order_item_id", (
        Column("order_item_id", "BIGINT", "The order line.", "dedupe", required=True),
        Column("order_id", "BIGINT", "Its order.", "items per order", required=True),
        Column("product_id", "BIGINT", "Product bought.", "category mix"),
        Column("line_type", "VARCHAR", "sale or refund.", "returns"),
        # negative for a refund line, so only its size is bounded
        Column("quantity", "BIGINT", "Units.", "basket size", required=True, max_abs=MAX_QUANTITY),
        Column("unit_price", "DOUBLE", "Price per unit.", "monetary value", required=True, not_negative=True),
    )),
    "web_events": RawTable("event_id", ENTITIES["web_events"]),
    "marketing_touches": RawTable("touch_id", ENTITIES["marketing_touches"]),
}
