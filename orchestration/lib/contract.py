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
        Column("quantity", "BIGINT", "Units on the line (default 1).", "items per order, unit-based category mix"),
        Column("product_id", "BIGINT", "Product bought; joins the products entity.", "category mix, price level"),
        Column("category", "VARCHAR", "Product category, when there is no products entity.", "category mix"),
        Column("channel", "VARCHAR", "Where: web, app, store or your own codes.", "channel mix"),
        Column("device", "VARCHAR", "desktop, mobile, tablet.", "device mix"),
        Column("discount_pct", "DOUBLE", "Order discount as a fraction of list price (0.2 = 20% off).",
               "discount sensitivity"),
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
        Column("price", "DOUBLE", "List price.", "price level within the category"),
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
