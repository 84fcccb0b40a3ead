"""Staging of the facts: views over raw while the load ledger vouches for their keys, else incremental tables that
stage only what changed, and equal a full rebuild either way.

One small warehouse goes through a user's days with the real loader, real dbt and real Dagster
materialisations of the staging models: a first build from one source (views), two days appended by another
source (with a key re-sent by its source and keys the first source also sends: those facts become tables), a third
day (incremental), the same files again, then a full export replaced with fewer rows. After each build the staged
facts are compared with a full rebuild of the same raw tables (or, after the full refresh, with the rows they must
hold).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tests.conftest import AS_OF, DBT_DIR, dbt_executable, query

FACTS = {"stg_shop__orders": "order_id", "stg_shop__order_items": "order_item_id", "stg_web__events": "event_id",
         "stg_marketing__touches": "touch_id"}


def _frames(first_order: int, orders: int, day: str, shift: int = 0) -> dict[str, pd.DataFrame]:
    """Orders with two lines each, and web events and touches, for customers 1..20, dated on/before ``day``."""
    ts = pd.Timestamp(day)
    ids = range(first_order, first_order + orders)
    return {
        "orders": pd.DataFrame({"order_id": list(ids), "customer_id": [i % 20 + 1 for i in ids],
                                "order_ts": [ts - pd.Timedelta(days=i % 90, hours=i % 7) for i in ids],
                                "channel": ["web", " Store", "app"] * (orders // 3) + ["web"] * (orders % 3),
                                "device": "mobile", "discount_pct": 0.0, "status": "completed"}),
        "order_items": pd.DataFrame({"order_item_id": [10 * i + k for i in ids for k in (1, 2)],
                                     "order_id": [i for i in ids for _ in (1, 2)],
                                     "product_id": [(i + k) % 4 + 1 for i in ids for k in (1, 2)],
                                     "line_type": "sale", "quantity": 1 + shift, "unit_price": 9.5}),
        "web_events": pd.DataFrame({"event_id": list(ids), "session_id": [i // 3 for i in ids],
                                    "customer_id": [i % 20 + 1 for i in ids],
                                    "event_ts": [ts - pd.Timedelta(days=i % 30) for i in ids],
                                    "event_type": "page_view", "device": "mobile"}),
        "marketing_touches": pd.DataFrame({"touch_id": list(ids), "customer_id": [i % 20 + 1 for i in ids],
                                           "channel": "email", "sent_at": [ts - pd.Timedelta(days=i % 60) for i in ids],
                                           "opened": False, "clicked": False, "converted": False}),
    }


def _write(folder: Path, frames: dict[str, pd.DataFrame], suffix: str = "") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table, frame in frames.items():
        paths.append(folder / f"{table}{suffix}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


def _load(warehouse: Path, files: list[Path], source: str, mode: str) -> None:
    from orchestration.lib.files import load_files
    from orchestration.lib.loading import ensure_raw_tables

    with duckdb.connect(str(warehouse)) as con:
        con.execute("begin")
        ensure_raw_tables(con)
        load_files(con, files, source=source, mode=mode,
                   tables=["customers", "products", "orders", "order_items", "web_events", "marketing_touches"])
        con.execute("commit")


def _build(warehouse: Path, as_of: str = AS_OF) -> dict:
    """Materialise the dbt_features asset (staging, intermediate, marts); the facts' metadata and log lines."""
    from orchestration.defs.resources import AnalysisSettings, ComputeEngine, WarehouseResource
    from orchestration.defs.transform.assets import dbt_features
    from orchestration.lib.dbt import dbt_cli

    instance = dg.DagsterInstance.ephemeral()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROSEG_WAREHOUSE", str(warehouse))
        result = dg.materialize(
            [dbt_features], instance=instance,
            resources={"warehouse": WarehouseResource(path=str(warehouse)),
                       "analysis": AnalysisSettings(as_of_date=as_of), "engine": ComputeEngine(engine="duckdb"),
                       "dbt": dbt_cli()})
    assert result.success
    built = {m.asset_key.path[1]: (m.metadata.get("staging_build") or m.metadata["feature_build"]).value
             for m in result.asset_materializations_for_node("dbt_features") if m.asset_key.path[1] in FACTS}
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    return {"built": built, "log": next(line for line in logs if line.startswith(("staging: ", "features: "))),
            "staged": _staged(warehouse), "run_id": result.run_id, "logs": logs}


def _staged(warehouse: Path) -> dict[str, pd.DataFrame]:
    return {m: query(warehouse, f"select * from staging.{m} order by {key}") for m, key in FACTS.items()}


def _full_rebuild(warehouse: Path, tmp: Path) -> dict[str, pd.DataFrame]:
    """The same staging models built in full (dbt --full-refresh) on a copy of the same raw tables."""
    tmp.mkdir()
    copy = tmp / "full.duckdb"
    shutil.copy(warehouse, copy)
    subprocess.run([dbt_executable(), "run", "--quiet", "--full-refresh", "--target-path", str(tmp / "target"),
                    "-s", *FACTS, "--vars", f'{{"as_of_date": "{AS_OF}"}}'], cwd=DBT_DIR,
                   env={**os.environ, "MICROSEG_WAREHOUSE": str(copy)}, check=True)
    return _staged(copy)


def _assert_same(incremental: dict[str, pd.DataFrame], full: dict[str, pd.DataFrame]) -> None:
    for model in FACTS:
        pd.testing.assert_frame_equal(incremental[model], full[model], obj=model)


@pytest.fixture(scope="module")
def days(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("incremental")
    warehouse = root / "warehouse.duckdb"
    shop = _frames(1, 60, "2026-06-20")
    customers = pd.DataFrame({"customer_id": range(1, 21), "email": [f"c{i}@example.com" for i in range(1, 21)]})
    for column in ("first_name", "last_name", "birth_date", "gender", "country_code", "region", "city",
                   "signup_date", "acquisition_channel", "is_loyalty_member"):
        customers[column] = None
    products = pd.DataFrame({"product_id": range(1, 5), "product_name": "p", "category": ["a", "b", "c", "d"],
                             "subcategory": None, "brand": None, "price": 9.5, "is_private_label": False})
    _load(warehouse, _write(root / "landing" / "shop", {"customers": customers, "products": products, **shop}),
          "shop", "replace")
    steps = {"first": _build(warehouse)}

    # day two, from the till (appended): new orders, lines, events and touches; order 3 re-sent as returned
    # (its key also in shop's export); touch 7 re-sent by the till with a click (a newer version of its own
    # row from day one's file) and touch 5 also sent by the till
    day1 = _frames(101, 30, "2026-06-25")
    day1["marketing_touches"] = pd.concat([day1["marketing_touches"], shop["marketing_touches"].iloc[[4, 6]]])
    _load(warehouse, _write(root / "inbox", day1, "_day1"), "till", "append")
    day2 = _frames(131, 30, "2026-06-28")
    resent = shop["orders"].iloc[[2]].assign(status="returned")
    day2["orders"] = pd.concat([day2["orders"], resent])
    day2["marketing_touches"] = pd.concat([day2["marketing_touches"],
                                           shop["marketing_touches"].iloc[[6]].assign(clicked=True)])
    day2_files = _write(root / "inbox", day2, "_day2")
    _load(warehouse, day2_files, "till", "append")
    steps["appended"] = _build(warehouse)
    steps["appended_full"] = _full_rebuild(warehouse, root / "full1")

    day3_files = _write(root / "inbox", _frames(161, 30, "2026-06-29"), "_day3")  # new keys only
    _load(warehouse, day3_files, "till", "append")
    steps["day3"] = _build(warehouse)
    steps["day3_full"] = _full_rebuild(warehouse, root / "full2")

    _load(warehouse, day3_files, "till", "append")  # the same files again: the loader skips them
    steps["again"] = _build(warehouse)

    # shop's next full export has lost orders 50..60 (and their lines): they must leave staging
    smaller = {t: f for t, f in _frames(1, 49, "2026-06-20").items() if t in ("orders", "order_items")}
    _load(warehouse, _write(root / "landing2" / "shop", smaller), "shop", "replace")
    steps["replaced"] = _build(warehouse)  # itself a full rebuild: compared with the rows it must hold
    steps["warehouse"] = warehouse
    return steps


VIEWED = "(each key loaded once: nothing to deduplicate or copy)"


def test_one_source_is_staged_as_views_over_raw(days):
    first = days["first"]
    assert first["log"] == (f"staging: views over raw.marketing_touches, raw.order_items, raw.orders, "
                            f"raw.web_events {VIEWED}")
    assert first["built"]["stg_shop__orders"] == "view over raw.orders: each key loaded once, nothing to " \
                                                 "deduplicate or copy"
    tables = dict(query(days["warehouse"], "select table_name, table_type from information_schema.tables "
                                           "where table_schema = 'staging'").itertuples(index=False))
    assert tables["stg_shop__order_items"] == "VIEW"  # still one source's keys after every day
    assert len(first["staged"]["stg_shop__orders"]) == 60


def test_keys_another_source_shares_make_tables_that_equal_a_full_rebuild(days):
    appended = days["appended"]
    # the till re-sent order 3 and touches 5 and 7, which shop had sent: orders and touches are deduplicated
    # into tables (their first build: shop's 60 orders + the till's 30 + 31; touches 60 + 32 + 31 less the day-one
    # touch 7 the day-two one replaced); the till's lines and events have keys of their own, still views
    assert appended["log"] == (f"staging: first build ({121 + 122:,} raw rows); views over raw.order_items, "
                               f"raw.web_events {VIEWED}")
    assert appended["built"]["stg_shop__orders"] == "first build: 121 raw rows"
    _assert_same(appended["staged"], days["appended_full"])
    assert len(appended["staged"]["stg_shop__orders"]) == 120


def test_an_appended_day_is_staged_incrementally_and_equals_a_full_rebuild(days):
    day3 = days["day3"]
    assert day3["log"] == (f"staging: incremental ({30 + 30:,} new raw rows since the last build); views over "
                           f"raw.order_items, raw.web_events {VIEWED}")
    assert day3["built"]["stg_shop__orders"] == "incremental: 30 new raw rows since the last build"
    _assert_same(day3["staged"], days["day3_full"])
    assert len(day3["staged"]["stg_shop__orders"]) == 150


def test_the_load_ledger_says_which_loads_share_keys_with_another_source(days):
    shared = dict(query(days["warehouse"], "select file, keys_in_other_sources from raw._loads where source = "
                                           "'till' and raw_table in ('orders', 'order_items')").itertuples(index=False))
    assert shared == {"orders_day1.csv": 0, "orders_day2.csv": 1, "orders_day3.csv": 0,
                      "order_items_day1.csv": 0, "order_items_day2.csv": 0, "order_items_day3.csv": 0}


def test_a_resent_key_keeps_the_newest_export(days):
    staged = days["appended"]["staged"]
    touches = staged["stg_marketing__touches"].set_index("touch_id")
    assert bool(touches.loc[7, "clicked"])  # the till's newer version of touch 7
    orders = staged["stg_shop__orders"].set_index("order_id")
    assert orders.loc[3, "status"] == "returned"  # order 3: the same order_ts in shop and till, the till's is newer
    assert orders.index.is_unique and touches.index.is_unique


def test_the_same_files_again_change_nothing_and_dbt_is_not_run(days):
    again = days["again"]
    assert again["log"].startswith("features: unchanged: the raw tables, load ledger, as-of date and dbt code are "
                                   f"those of run {days['day3']['run_id']}'s complete build")
    assert set(again["built"].values()) == {again["log"].removeprefix("features: ")}
    _assert_same(again["staged"], days["day3_full"])


def test_a_replaced_full_export_refreshes_staging_and_its_removed_rows_leave(days):
    replaced = days["replaced"]
    assert replaced["log"].startswith("staging: full refresh (")
    assert "stg_shop__orders: source shop replaced its export of raw.orders" in replaced["log"]
    assert replaced["built"]["stg_shop__orders"] == "full refresh: source shop replaced its export of raw.orders"
    assert replaced["built"]["stg_marketing__touches"].startswith("full refresh: another staging model needed one")
    orders = replaced["staged"]["stg_shop__orders"]["order_id"]
    assert set(orders) == set(range(1, 50)) | set(range(101, 191))
    lines = replaced["staged"]["stg_shop__order_items"]["order_id"]  # a view: raw as it is now
    assert set(lines) == set(orders) and len(lines) == 2 * len(orders)
    # the other facts did not change: as staged after the third day
    for model in ("stg_web__events", "stg_marketing__touches"):
        pd.testing.assert_frame_equal(replaced["staged"][model], days["day3_full"][model], obj=model)


def _plan_after(days, tmp_path, change: str) -> dict[str, str | None]:
    """What the next build would do after ``change`` to a copy of the last warehouse (no dbt run needed)."""
    from orchestration.lib.staging_builds import keys_vouched_unique, plan_staging

    copy = tmp_path / "w.duckdb"
    shutil.copy(days["warehouse"], copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(change)
        plan = plan_staging(con, keys_vouched_unique(con))
    return {d.model: "view" if d.as_view else d.refresh_because for d in plan.decisions}


def test_rows_deleted_outside_the_loader_or_new_code_refresh_in_full(days, tmp_path):
    assert _plan_after(days, tmp_path, "select 1") == {  # as built: incremental tables and views
        "stg_shop__orders": None, "stg_marketing__touches": None, "stg_shop__order_items": "view",
        "stg_web__events": "view"}
    # shop's touches 1..10, and the till's 5 and 7
    deleted = _plan_after(days, tmp_path, "delete from raw.marketing_touches where touch_id < 11")
    assert deleted["stg_marketing__touches"] == ("12 rows of raw.marketing_touches the last build staged are no "
                                                 "longer there")
    assert deleted["stg_shop__orders"] is None
    changed = _plan_after(days, tmp_path, "update staging._incremental_builds set code_fingerprint = 'before' "
                                          "where model = 'stg_shop__orders'")
    assert changed["stg_shop__orders"] == "its code changed since the last build"
    by_hand = _plan_after(days, tmp_path, "insert into raw.orders (order_id, customer_id, order_ts) "
                                          "values (999, 1, timestamp '2026-06-01')")
    assert by_hand["stg_shop__orders"] == "1 row of raw.orders has no _loaded_at (written outside the loader)"
    # a row written outside the loader is not vouched for: its table is deduplicated into a table again
    assert _plan_after(days, tmp_path, "insert into raw.web_events (event_id, customer_id) values (999, 1)")[
        "stg_web__events"] is None
