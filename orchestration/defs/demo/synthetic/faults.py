"""Dirty the clean synthetic tables the way real exports are dirty, one block of customers at a time.

Each fault hits a documented share of rows (``FAULT_RATES``) and is logged with
its exact row count, so tests can check that staging fixed, flagged or
quarantined every one of them. Value faults touch distinct rows; duplicates are
added last, as exact copies, so dedupe can always undo them. A block holds its
customers with all their orders, items, events and touches, so every fault
(duplicates, test accounts, refunds, orphans) is planted within the block.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .generator import block_rng

# fault name -> (table, share of that table's rows, how staging handles it)
FAULT_RATES: dict[str, tuple[str, float, str]] = {
    "customer_duplicate_rows": ("customers", 0.010, "removed: exact duplicate of a customer_id"),
    "customer_email_case_whitespace": ("customers", 0.080, "fixed: trimmed and lower-cased"),
    "customer_code_case_whitespace": ("customers", 0.050, "fixed: country/region/gender trimmed, case normalised"),
    "customer_null_gender": ("customers", 0.020, "fixed: null gender becomes 'unknown'"),
    "customer_null_birth_date": ("customers", 0.010, "flagged: age unknown"),
    "customer_birth_year_1900": ("customers", 0.005, "flagged: impossible birth date nulled"),
    "customer_future_signup": ("customers", 0.002, "flagged: future signup date nulled"),
    "customer_test_accounts": ("customers", 0.003, "flagged: test/internal account excluded from features"),
    "order_duplicate_rows": ("orders", 0.005, "removed: exact duplicate of an order_id"),
    "order_code_case_whitespace": ("orders", 0.050, "fixed: channel/status trimmed and lower-cased"),
    "order_null_channel": ("orders", 0.003, "fixed: null channel becomes 'unknown'"),
    "order_future_timestamp": ("orders", 0.002, "quarantined: order timestamp in the future"),
    "order_orphan": ("orders", 0.003, "quarantined: customer_id not in customers"),
    "item_duplicate_rows": ("order_items", 0.005, "removed: exact duplicate of an order_item_id"),
    "item_negative_quantity": ("order_items", 0.003, "quarantined: sale line with quantity <= 0"),
    "item_orphan": ("order_items", 0.002, "quarantined: order_id not in orders"),
    "item_refund_lines": ("order_items", 0.0, "kept: refund lines of returned orders, netted from revenue"),
    "product_duplicate_rows": ("products", 0.010, "removed: exact duplicate of a product_id"),
    "product_code_case_whitespace": ("products", 0.050, "fixed: category trimmed and lower-cased"),
    "web_event_duplicate_rows": ("web_events", 0.005, "removed: exact duplicate of an event_id"),
    "web_event_code_case_whitespace": ("web_events", 0.030, "fixed: event_type/device trimmed and lower-cased"),
    "touch_duplicate_rows": ("marketing_touches", 0.005, "removed: exact duplicate of a touch_id"),
    "touch_code_case_whitespace": ("marketing_touches", 0.030, "fixed: channel trimmed and lower-cased"),
}

TEST_EMAIL_DOMAIN = "test.microseg.internal"
FUTURE_YEAR = 2099
# Rows a fault adds get ids of their own: each kind of copy adds its multiple of COPY_ID_STRIDE, far above
# every generated id (< 3e9), and the multiples are powers of two, so a copy of a copy (an orphan of a test
# account's order) is unique too, at any number of customers.
COPY_ID_STRIDE = 10_000_000_000
TEST_COPY, REFUND_COPY, FUTURE_COPY, ORPHAN_COPY, ORPHAN_ITEM_COPY = (COPY_ID_STRIDE * 2 ** k for k in range(5))


def _pick(rng: np.random.Generator, n_rows: int, share: float, avoid: np.ndarray | None = None) -> np.ndarray:
    """Indices of about ``share`` of the rows, skipping rows already hit by another value fault.

    A Bernoulli draw per row is O(n) (sampling without replacement is not); the log
    records the exact count drawn, so tests reconcile against that, not the rate.
    """
    hit = rng.random(n_rows) < share
    if avoid is not None and len(avoid):
        hit[avoid] = False
    return np.flatnonzero(hit)


def _dirty_codes(rng: np.random.Generator, values: pd.Series) -> pd.Series:
    """Pad, swap case, or both, like hand-typed or merged exports; always visibly different."""
    values = values.astype(str)
    style = rng.integers(0, 3, len(values))
    swapped, padded = values.str.swapcase(), "  " + values + " "
    return pd.Series(np.where(style == 0, padded, np.where(style == 1, swapped, "  " + swapped)), index=values.index)


def _assign(df: pd.DataFrame, column: str, idx: np.ndarray, values) -> None:
    """Set ``df[column]`` at row positions ``idx``, widening a categorical's categories if needed."""
    col = df[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        new = pd.Index(pd.Series(values).dropna().unique()).difference(col.cat.categories)
        if len(new):
            df[column] = col.cat.add_categories(new)
    df.loc[df.index[idx], column] = values


def _duplicate(rng: np.random.Generator, df: pd.DataFrame, share: float) -> tuple[pd.DataFrame, int]:
    idx = _pick(rng, len(df), share)
    return pd.concat([df, df.iloc[idx]], ignore_index=True), len(idx)


def _refund_lines(orders: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Every item of a returned order is refunded by a line with negative quantity."""
    returned = orders.loc[orders["status"] == "returned", "order_id"]
    refunds = items[items["order_id"].isin(returned)].copy()
    refunds["order_item_id"] = refunds["order_item_id"] + REFUND_COPY
    refunds.loc[:, "line_type"] = "refund"
    refunds["quantity"] = -refunds["quantity"]
    return refunds


def inject_faults(tables: dict[str, pd.DataFrame], seed: int, block: int = 0,
                  first_test_account: int = 0) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Dirty one block's raw tables (in place: the clean block is not needed afterwards); return them and the
    rows each fault planted. Products are dirtied in the block that carries them. Test accounts are numbered
    from ``first_test_account`` (the count planted in earlier blocks)."""
    rng = block_rng(seed + 7, block)
    t = dict(tables)
    log: dict[str, int] = {}

    # --- customers -------------------------------------------------------------------------
    c = t["customers"]
    n = len(c)
    test_idx = _pick(rng, n, FAULT_RATES["customer_test_accounts"][1])
    test_accounts = c.iloc[test_idx].copy()
    test_accounts["customer_id"] = np.arange(len(test_idx), dtype=np.int64) + TEST_COPY + first_test_account
    test_accounts["email"] = "qa+" + test_accounts["customer_id"].astype(str) + "@" + TEST_EMAIL_DOMAIN
    test_accounts["first_name"] = "TEST"
    log["customer_test_accounts"] = len(test_accounts)
    # test accounts place orders too (QA checkouts), copied from the real customers they mimic
    test_orders = t["orders"][t["orders"]["customer_id"].isin(c["customer_id"].iloc[test_idx])].copy()
    test_orders["customer_id"] = test_orders["customer_id"].map(
        dict(zip(c["customer_id"].iloc[test_idx], test_accounts["customer_id"])))
    test_items = t["order_items"][t["order_items"]["order_id"].isin(test_orders["order_id"])].copy()
    test_orders["order_id"] += TEST_COPY
    test_items["order_id"] += TEST_COPY
    test_items["order_item_id"] += TEST_COPY

    taken = np.array([], dtype=int)
    for fault, column in (("customer_null_gender", "gender"), ("customer_null_birth_date", "birth_date")):
        idx = _pick(rng, n, FAULT_RATES[fault][1], taken)
        _assign(c, column, idx, None)
        taken = np.union1d(taken, idx)
        log[fault] = len(idx)
    idx = _pick(rng, n, FAULT_RATES["customer_birth_year_1900"][1], taken)
    _assign(c, "birth_date", idx, pd.Timestamp("1900-01-01"))
    taken = np.union1d(taken, idx)
    log["customer_birth_year_1900"] = len(idx)
    idx = _pick(rng, n, FAULT_RATES["customer_future_signup"][1], taken)
    _assign(c, "signup_date", idx, pd.Timestamp(f"{FUTURE_YEAR}-01-01"))
    log["customer_future_signup"] = len(idx)
    idx = _pick(rng, n, FAULT_RATES["customer_email_case_whitespace"][1])
    _assign(c, "email", idx, _dirty_codes(rng, c["email"].iloc[idx]).to_numpy())
    log["customer_email_case_whitespace"] = len(idx)
    idx = _pick(rng, n, FAULT_RATES["customer_code_case_whitespace"][1], taken)
    for column in ("country_code", "region", "gender"):
        _assign(c, column, idx, _dirty_codes(rng, c[column].iloc[idx]).to_numpy())
    log["customer_code_case_whitespace"] = len(idx)
    c = pd.concat([c, test_accounts], ignore_index=True)
    c, log["customer_duplicate_rows"] = _duplicate(rng, c, FAULT_RATES["customer_duplicate_rows"][1])
    t["customers"] = c

    # --- orders ----------------------------------------------------------------------------
    o = pd.concat([t["orders"], test_orders], ignore_index=True)
    items = pd.concat([t["order_items"], test_items], ignore_index=True)
    n = len(o)
    idx = _pick(rng, n, FAULT_RATES["order_null_channel"][1])
    _assign(o, "channel", idx, None)
    log["order_null_channel"] = len(idx)
    idx = _pick(rng, n, FAULT_RATES["order_code_case_whitespace"][1], idx)
    _assign(o, "channel", idx, _dirty_codes(rng, o["channel"].iloc[idx]).to_numpy())
    _assign(o, "status", idx, _dirty_codes(rng, o["status"].iloc[idx]).to_numpy())
    log["order_code_case_whitespace"] = len(idx)
    # future and orphan orders arrive as extra rows (no items), as from a broken upstream join
    future = o.iloc[_pick(rng, n, FAULT_RATES["order_future_timestamp"][1])].copy()
    future["order_id"] += FUTURE_COPY
    future["order_ts"] = future["order_ts"].apply(lambda ts: ts.replace(year=FUTURE_YEAR))
    orphan = o.iloc[_pick(rng, n, FAULT_RATES["order_orphan"][1])].copy()
    orphan["order_id"] += ORPHAN_COPY
    orphan["customer_id"] = orphan["customer_id"] + ORPHAN_COPY
    log["order_future_timestamp"], log["order_orphan"] = len(future), len(orphan)
    o = pd.concat([o, future, orphan], ignore_index=True)
    o, log["order_duplicate_rows"] = _duplicate(rng, o, FAULT_RATES["order_duplicate_rows"][1])
    t["orders"] = o

    # --- order items -----------------------------------------------------------------------
    refunds = _refund_lines(t["orders"].drop_duplicates("order_id"), items)
    log["item_refund_lines"] = len(refunds)
    n = len(items)
    idx = _pick(rng, n, FAULT_RATES["item_negative_quantity"][1])
    _assign(items, "quantity", idx, -items["quantity"].iloc[idx].to_numpy())
    log["item_negative_quantity"] = len(idx)
    orphan = items.iloc[_pick(rng, n, FAULT_RATES["item_orphan"][1], idx)].copy()
    orphan["order_item_id"] += ORPHAN_ITEM_COPY
    orphan["order_id"] += ORPHAN_ITEM_COPY
    log["item_orphan"] = len(orphan)
    items = pd.concat([items, refunds, orphan], ignore_index=True)
    items, log["item_duplicate_rows"] = _duplicate(rng, items, FAULT_RATES["item_duplicate_rows"][1])
    t["order_items"] = items

    # --- products, web events, touches -------------------------------------------------------
    for table, prefix, columns in (
        ("products", "product", ("category",)),
        ("web_events", "web_event", ("event_type", "device")),
        ("marketing_touches", "touch", ("channel",)),
    ):
        if table not in t:
            continue
        df = t[table]
        idx = _pick(rng, len(df), FAULT_RATES[f"{prefix}_code_case_whitespace"][1])
        for column in columns:
            _assign(df, column, idx, _dirty_codes(rng, df[column].iloc[idx]).to_numpy())
        log[f"{prefix}_code_case_whitespace"] = len(idx)
        t[table], log[f"{prefix}_duplicate_rows"] = _duplicate(rng, df, FAULT_RATES[f"{prefix}_duplicate_rows"][1])

    return t, log


def fault_log(planted_rows: dict[str, int]) -> pd.DataFrame:
    """One row per fault: its table, planted rate, the rows planted (summed over blocks) and its handling."""
    return pd.DataFrame(
        [(name, FAULT_RATES[name][0], FAULT_RATES[name][1], rows, FAULT_RATES[name][2])
         for name, rows in planted_rows.items()],
        columns=["fault", "raw_table", "planted_rate", "planted_rows", "handling"],
    )
