"""The per-customer intermediate models rebuild only the customers whose raw rows changed, and equal a full rebuild.

One small warehouse goes through a user's days with the real loader, real dbt and real Dagster materialisations of
dbt_features: a first build (every customer), a day appended by the till (a few customers' orders, lines, events
and touches, a new customer, and a customer re-sent as a test account, who must leave the features), a changed
product list. After each build the per-customer models and customer_features are compared with a full rebuild
(dbt --full-refresh) of the same raw tables; a customer the day did not touch is shown not to have been recomputed,
and one whose only new row is a marketing touch only in the models that read touches.
What else makes the next build recompute everyone (raw rows gone, a moved as-of date, new code) is read from the
plan.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import AS_OF, DBT_DIR, dbt_executable, query
from tests.end_to_end.test_incremental_staging import _build, _frames, _load, _write

PER_CUSTOMER = ["int_customer__category_mix", "int_customer__channel_mix", "int_customer__engagement",
                "int_customer__monthly_campaigns", "int_customer__profile", "int_customer__purchase_rhythm",
                "int_customer__rfm", "int_orders__checked", "int_orders__valid", "int_order_items__checked"]
TABLES = [f"intermediate.{m}" for m in PER_CUSTOMER] + ["marts.customer_features"]
UNTOUCHED = 15  # no row of the till's day is this customer's
TOUCHED_ONLY = 16  # the till's day has a marketing touch of this customer, and nothing else
MARKED = (UNTOUCHED, TOUCHED_ONLY)
MARK = 999  # an order count no build computes here (and within the features' tests' range)
MOVED_AS_OF = "2026-07-10"
# the first load's orders of a customer (order i is customer i % 20 + 1)
ORDERS_OF = {UNTOUCHED: [14, 34, 54], TOUCHED_ONLY: [15, 35, 55]}


def _customers(ids, emails=None) -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": list(ids),
                          "email": emails or [f"c{i}@example.com" for i in ids]})
    for column in ("first_name", "last_name", "birth_date", "gender", "country_code", "region", "city",
                   "signup_date", "acquisition_channel", "is_loyalty_member"):
        frame[column] = None
    return frame


def _products(categories: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"product_id": range(1, len(categories) + 1), "product_name": "p", "category": categories,
                         "subcategory": None, "brand": None, "price": 9.5, "is_private_label": False})


def _features(warehouse: Path) -> dict[str, pd.DataFrame]:
    return {t: query(warehouse, f"select * from {t} order by all").sort_index(axis=1) for t in TABLES}


def _full_rebuild(warehouse: Path, tmp: Path, as_of: str = AS_OF) -> dict[str, pd.DataFrame]:
    """The same models built in full (dbt run by hand, --full-refresh) on a copy of the same raw tables."""
    tmp.mkdir()
    copy = tmp / "full.duckdb"
    shutil.copy(warehouse, copy)
    subprocess.run([dbt_executable(), "run", "--quiet", "--full-refresh", "--target-path", str(tmp / "target"),
                    "-s", "+customer_features", *(f"+{m}" for m in PER_CUSTOMER),
                    "--vars", f'{{"as_of_date": "{as_of}"}}'], cwd=DBT_DIR,
                   env={**os.environ, "MICROSEG_WAREHOUSE": str(copy)}, check=True)
    return _features(copy)


def _assert_same(built: dict[str, pd.DataFrame], full: dict[str, pd.DataFrame], but: tuple[int, ...] = ()) -> None:
    for table in TABLES:
        ours, theirs = built[table], full[table]
        if but:  # the marked customers, or the lines of their orders
            key, left_out = (("customer_id", list(but)) if "customer_id" in ours
                             else ("order_id", [o for c in but for o in ORDERS_OF[c]]))
            ours, theirs = ours[~ours[key].isin(left_out)], theirs[~theirs[key].isin(left_out)]
        pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True), obj=table)


def _mark(warehouse: Path) -> None:
    """A mark on the customers whose orders the next build does not touch: rebuilding their orders would erase it."""
    with duckdb.connect(str(warehouse)) as con:
        for customer in MARKED:
            con.execute(f"update intermediate.int_customer__rfm set order_count = {MARK} "
                        f"where customer_id = {customer}")
            con.execute(f"update intermediate.int_order_items__checked set quantity = {MARK} "
                        f"where order_id = {ORDERS_OF[customer][0]}")


@pytest.fixture(scope="module")
def days(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("per_customer")
    warehouse = root / "warehouse.duckdb"
    shop = _frames(1, 60, "2026-06-20")
    # a line that came before its order: an orphan until the till's day brings order 207
    shop["order_items"] = pd.concat([shop["order_items"], shop["order_items"].iloc[[0]].assign(
        order_item_id=9001, order_id=207)])
    # what the as-of date's move from AS_OF to MOVED_AS_OF reaches: an order that leaves the history window
    # (customer 9), one that crosses the spend trend's split (10), one no longer in the future (12), and a
    # signup date no longer in the future (14)
    edges = shop["orders"].iloc[[0] * 3].assign(order_id=[301, 302, 303], customer_id=[9, 10, 12], order_ts=[
        pd.Timestamp("2024-07-05 10:00"), pd.Timestamp("2025-07-05 10:00"), pd.Timestamp("2026-07-05 10:00")])
    shop["orders"] = pd.concat([shop["orders"], edges])
    shop["order_items"] = pd.concat([shop["order_items"], shop["order_items"].iloc[[0] * 3].assign(
        order_item_id=[3011, 3021, 3031], order_id=[301, 302, 303])])
    customers = _customers(range(1, 21))
    customers.loc[customers["customer_id"] == 14, "signup_date"] = "2026-07-03"
    _load(warehouse, _write(root / "landing" / "shop", {"customers": customers,
                                                        "products": _products(["a", "b", "c", "d"]), **shop}),
          "shop", "replace")
    steps = {"first": _build(warehouse)}
    steps["first"]["per_customer"] = {m: query(warehouse, f"select customer_id from intermediate.{m}")["customer_id"]
                                      for m in PER_CUSTOMER if m.startswith("int_customer__")}
    steps["first"]["orphan_line"] = query(
        warehouse, "select dq_issue from intermediate.int_order_items__checked where order_item_id = 9001").iloc[0, 0]

    _mark(warehouse)

    # the till's day: orders 201..205 (customers 2..6) with lines, events and touches; customer 21 is new and
    # orders; customer 8 is re-sent as a QA account (its orders leave the features)
    day = _frames(201, 5, "2026-06-26")
    new_order = day["orders"].iloc[[0]].assign(order_id=206, customer_id=21)
    day["orders"] = pd.concat([day["orders"], new_order])
    day["order_items"] = pd.concat([day["order_items"], day["order_items"].iloc[[0]].assign(order_item_id=2061,
                                                                                             order_id=206)])
    day["customers"] = _customers([8, 21], ["qa+8@example.com", "c21@example.com"])
    day["marketing_touches"] = pd.concat([day["marketing_touches"], day["marketing_touches"].iloc[[0]].assign(
        touch_id=9101, customer_id=TOUCHED_ONLY)])
    # order 207 (customer 7) adopts the orphan line 9001; line 101 is re-sent moved from order 10 (customer 11) to
    # order 12 (customer 13): both orders' lines and both customers are rebuilt
    day["orders"] = pd.concat([day["orders"], new_order.assign(order_id=207, customer_id=7)])
    day["order_items"] = pd.concat([day["order_items"], shop["order_items"].query("order_item_id == 101").assign(
        order_id=12)])
    _load(warehouse, _write(root / "inbox", day, "_day1"), "till", "append")
    steps["day"] = _build(warehouse)
    steps["day_features"] = _features(warehouse)
    steps["day_full"] = _full_rebuild(warehouse, root / "full1")

    # the shop's product list changes: a product's category moves any customer's mix
    _load(warehouse, _write(root / "landing2" / "shop", {"products": _products(["a", "b", "c", "e"])}),
          "shop", "replace")
    steps["products"] = _build(warehouse)
    steps["products_features"] = _features(warehouse)
    steps["products_full"] = _full_rebuild(warehouse, root / "full2")

    # nothing loaded, the as-of date ten days later (as the default, the last transaction date, moves with a day)
    _mark(warehouse)
    steps["as_of"] = _build(warehouse, as_of=MOVED_AS_OF)
    steps["as_of_features"] = _features(warehouse)
    steps["as_of_full"] = _full_rebuild(warehouse, root / "full3", as_of=MOVED_AS_OF)

    steps["warehouse"] = warehouse
    return steps


def _log(build: dict) -> str:
    return next(line for line in build["logs"] if line.startswith("customer features: "))


def test_the_first_build_computes_every_customer(days):
    assert _log(days["first"]) == "customer features: first build (every customer)"


def test_a_day_rebuilds_only_its_customers_and_equals_a_full_rebuild(days):
    # 7 orders, 12 lines, 5 events, 6 touches and 2 customer rows
    assert _log(days["day"]) == ("customer features: only the customers of the 32 raw rows loaded since the last "
                                 "build are rebuilt (10 models)")
    built, full = days["day_features"], days["day_full"]
    _assert_same(built, full, but=MARKED)
    rfm = built["intermediate.int_customer__rfm"].set_index("customer_id")
    lines = built["intermediate.int_order_items__checked"].set_index("order_item_id")
    for customer in MARKED:  # not recomputed: none of its orders or lines changed
        assert rfm.loc[customer, "order_count"] == MARK, customer
        assert (lines.loc[lines["order_id"] == ORDERS_OF[customer][0], "quantity"] == MARK).all(), customer
    # the touch: the models reading touches did recompute that customer, and count it as a full rebuild does
    for table in ("intermediate.int_customer__engagement", "intermediate.int_customer__monthly_campaigns"):
        ours, theirs = (frame[frame["customer_id"] == TOUCHED_ONLY].reset_index(drop=True)
                        for frame in (built[table], full[table]))
        assert len(ours) > 0
        pd.testing.assert_frame_equal(ours, theirs, obj=table)
    assert 21 in rfm.index  # the new customer's first order
    assert days["first"]["orphan_line"] == "orphan_order" and pd.isna(lines.loc[9001, "dq_issue"])  # its order came
    assert lines.loc[101, "order_id"] == 12  # moved, once
    # the customer re-sent as a test account left what is counted from orders (and the features); the full
    # rebuild agrees (above) that their web sessions and touches still count in channel mix and engagement
    for table in ("int_customer__rfm", "int_customer__purchase_rhythm", "int_customer__category_mix",
                  "int_customer__profile"):
        assert 8 in set(days["first"]["per_customer"][table]) and 8 not in set(built[f"intermediate.{table}"][
            "customer_id"]), table
    assert 8 not in set(built["marts.customer_features"]["customer_id"])


def test_a_changed_product_list_rebuilds_every_customer(days):
    assert _log(days["products"]) == (
        "customer features: every customer rebuilt (raw.products changed since the last build (4 rows loaded: a "
        "product's category or price rank can move any customer))")
    _assert_same(days["products_features"], days["products_full"])  # the mark is gone too
    shares = [c for c in days["products_features"]["intermediate.int_customer__category_mix"] if c.startswith("share_")]
    assert "share_e" in shares and "share_d" not in shares  # the columns follow the new categories


def test_a_later_as_of_date_rebuilds_only_the_customers_it_reaches(days):
    assert _log(days["as_of"]) == (
        "customer features: only the customers of the 0 raw rows loaded since the last build and those whose orders "
        f"or dates the as-of date's move from {AS_OF} to {MOVED_AS_OF} reaches are rebuilt (10 models)")
    built, full = days["as_of_features"], days["as_of_full"]
    _assert_same(built, full, but=MARKED)
    assert (built["intermediate.int_customer__rfm"].set_index("customer_id").loc[list(MARKED), "order_count"]
            == MARK).all()
    valid = set(built["intermediate.int_orders__valid"]["order_id"])
    assert 301 not in valid and 303 in valid  # out of the window; no longer in the future
    before = days["products_features"]["intermediate.int_customer__purchase_rhythm"].set_index("customer_id")
    after = built["intermediate.int_customer__purchase_rhythm"].set_index("customer_id")
    assert after.loc[10, "spend_trend"] < before.loc[10, "spend_trend"]  # order 302 is now in the earlier half
    features = built["marts.customer_features"].set_index("customer_id")
    assert (features["as_of_date"].astype(str) == MOVED_AS_OF).all()
    assert features.loc[14, "tenure_days"] == 7  # signed up 2026-07-03, no longer in the future


def test_rows_gone_from_raw_an_earlier_as_of_date_or_new_code_rebuild_every_customer(days, tmp_path):
    """What the next build would decide (no dbt run: the rebuild of every customer is the products step's)."""
    from orchestration.lib.customer_builds import customer_fingerprints, plan_customers

    copy = tmp_path / "w.duckdb"
    shutil.copy(days["warehouse"], copy)
    with duckdb.connect(str(copy)) as con:
        current = {"as_of_date": MOVED_AS_OF, "customer_fingerprints": customer_fingerprints()}
        assert plan_customers(con, current, False).rebuild_all_because is None
        moved = plan_customers(con, {**current, "as_of_date": "2026-07-01"}, False)
        assert moved.rebuild_all_because == f"the as-of date moved back from {MOVED_AS_OF} to 2026-07-01"
        changed = plan_customers(con, {**current, "customer_fingerprints": {}}, False)
        assert changed.rebuild_all_because.startswith("the code or vars of int_customer__category_mix, ")
        assert plan_customers(con, current, False, finds_changed=False).rebuild_all_because == (
            "int_customers__changed or int_orders__changed is not in this build's selection")
        con.execute("delete from raw.orders where order_id >= 50 and order_id <= 60")  # as a smaller export would
        gone = plan_customers(con, current, False).rebuild_all_because
        # of the 363 raw rows it read: 22 customers, 4 products, 70 orders, 136 lines, 65 events, 66 touches
        assert gone == "raw rows int_customer__category_mix's last build read are no longer there (11 of 363)"
