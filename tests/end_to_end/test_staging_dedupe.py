"""Staging keeps one row per key: as loaded when only one source sent it, the newest export's across sources."""

import os
import subprocess
import time

import duckdb
import pandas as pd

from orchestration.lib.files import APPEND, REPLACE, load_files
from tests.conftest import AS_OF, DBT_DIR, dbt_executable

ORDER = {"customer_id": 7, "order_ts": "2026-06-01 10:00:00", "device": "mobile", "discount_pct": 0.0,
         "status": "completed"}


def _orders(path, rows: list[tuple[int, str]]):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"order_id": i, **ORDER, "channel": channel} for i, channel in rows]).to_csv(path, index=False)
    return path


def _staged_orders(warehouse, tmp_path) -> list[tuple]:
    subprocess.run([dbt_executable(), "run", "--quiet", "--target-path", str(tmp_path / "target"),
                    "-s", "stg_shop__orders", "--vars", f'{{"as_of_date": "{AS_OF}"}}'],
                   cwd=DBT_DIR, env={**os.environ, "MICROSEG_WAREHOUSE": str(warehouse)}, check=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select order_id, channel from staging.stg_shop__orders order by order_id").fetchall()


def test_one_row_per_order_the_newest_exports_across_sources(tmp_path, dbt_manifest):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_files(con, [_orders(tmp_path / "shop" / "orders.csv", [(1, "web"), (2, "store")])], source="shop",
                   mode=REPLACE, tables=["orders"])
    assert _staged_orders(warehouse, tmp_path) == [(1, "web"), (2, "store")]  # one source: every row as loaded

    time.sleep(0.01)  # a later export: a later _loaded_at
    with duckdb.connect(str(warehouse)) as con:
        load_files(con, [_orders(tmp_path / "inbox" / "orders_1.csv", [(2, "app"), (3, "web")])], source="inbox",
                   mode=APPEND, tables=["orders"])
        assert con.execute("select count(*) from raw.orders where order_id = 2").fetchone() == (2,)  # one per source
    # order 2 came from both sources: staging keeps one row, the inbox's (the newer export)
    assert _staged_orders(warehouse, tmp_path) == [(1, "web"), (2, "app"), (3, "web")]
