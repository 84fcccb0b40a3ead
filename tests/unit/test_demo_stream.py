"""The demo generator streams blocks of customers into Parquet files, each block dirtied on its own.

A retailer of many blocks must still read as one retailer: ids never repeat across blocks, every
planted fault is in the files exactly as often as eval.planted_faults says, period 1's planted
changes reach every block, and a failed write leaves the previous files as they were. Small blocks
(a few hundred customers) give many blocks in seconds; the files are real, read back with DuckDB.
"""

from pathlib import Path

import duckdb
import pytest

from orchestration.defs.demo.synthetic import DemoData, GeneratorConfig, make_demo_data
from orchestration.defs.demo.synthetic.faults import FAULT_RATES, FUTURE_YEAR, TEST_EMAIL_DOMAIN
from orchestration.defs.demo.synthetic.generator import (
    ID_SPACE,
    NEW_NICHE,
    NICHE_ID_OFFSET,
    SHIFT_ID_OFFSET,
    SHIFTED_PERSONA,
    IdCounters,
)
from orchestration.lib.parquet import ParquetTables

BLOCKS = GeneratorConfig(n_customers=2_500, seed=3, block_customers=600, reference_date="2026-06-30")  # 5 blocks
KEYS = {"customers": "customer_id", "products": "product_id", "orders": "order_id", "order_items": "order_item_id",
        "web_events": "event_id", "marketing_touches": "touch_id"}


def _stream(config: GeneratorConfig, folder: Path) -> DemoData:
    data = DemoData(config)
    with ParquetTables(folder) as out:
        for chunk in data:
            out.append({**chunk.tables, "planted_personas": chunk.planted})
    return data


def _sql(folder: Path):
    con = duckdb.connect()
    for path in folder.glob("*.parquet"):
        con.execute(f"create view {path.stem} as select * from read_parquet('{path}')")
    return lambda q: con.execute(q).fetchone()[0]


@pytest.fixture(scope="module")
def streamed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    return folder, _stream(BLOCKS, folder), _sql(folder)


def test_ids_never_repeat_across_blocks(streamed):
    _, _, sql = streamed
    for table, key in KEYS.items():
        # the only repeated ids are the planted exact duplicates
        assert sql(f"select count(distinct {key}) from {table}") == sql(
            f"select count(*) from (select distinct * from {table})"), table


def test_every_planted_fault_is_in_the_files_as_often_as_logged(streamed):
    _, data, sql = streamed
    planted = data.faults.set_index("fault")["planted_rows"]
    assert set(planted.index) == set(FAULT_RATES)
    found = {f"{prefix}_duplicate_rows": sql(f"select count(*) - (select count(*) from (select distinct * from "
                                             f"{table})) from {table}")
             for prefix, table in (("customer", "customers"), ("order", "orders"), ("item", "order_items"),
                                   ("product", "products"), ("web_event", "web_events"),
                                   ("touch", "marketing_touches"))}
    distinct = {t: f"(select distinct * from {t})" for t in KEYS}
    found |= {
        "customer_test_accounts": sql(f"select count(*) from {distinct['customers']} "
                                      f"where email like '%@{TEST_EMAIL_DOMAIN}'"),
        "customer_null_gender": sql(f"select count(*) from {distinct['customers']} where gender is null"),
        "customer_null_birth_date": sql(f"select count(*) from {distinct['customers']} where birth_date is null"),
        "customer_birth_year_1900": sql(f"select count(*) from {distinct['customers']} where year(birth_date) = 1900"),
        "customer_future_signup": sql(f"select count(*) from {distinct['customers']} "
                                      f"where year(signup_date) = {FUTURE_YEAR}"),
        "order_future_timestamp": sql(f"select count(*) from {distinct['orders']} "
                                      f"where year(order_ts) = {FUTURE_YEAR}"),
        "order_orphan": sql(f"select count(*) from {distinct['orders']} "
                            "where customer_id not in (select customer_id from customers)"),
        "item_orphan": sql(f"select count(*) from {distinct['order_items']} "
                           "where order_id not in (select order_id from orders)"),
        "item_refund_lines": sql(f"select count(*) from {distinct['order_items']} where line_type = 'refund'"),
        "item_negative_quantity": sql(f"select count(*) from {distinct['order_items']} "
                                      "where line_type = 'sale' and quantity <= 0"),
    }
    for fault, rows in found.items():
        assert rows == planted[fault] > 0, fault
    # and at their documented rates (within four standard deviations): blocks neither skip nor repeat a fault
    for fault, (table, rate, _) in FAULT_RATES.items():
        expected = rate * sql(f"select count(*) from {table}")
        assert abs(planted[fault] - expected) <= 4 * expected ** 0.5 or fault == "item_refund_lines", fault


def test_the_files_hold_the_same_retailer_as_the_frames(streamed):
    _, data, sql = streamed
    raw, planted, faults, _ = make_demo_data(BLOCKS)
    assert data.customers == len(planted) == sql("select count(*) from planted_personas") == 2_500
    for table, key in KEYS.items():
        assert (sql(f"select count(*) from {table}"), sql(f"select sum({key}) from {table}")) == (
            len(raw[table]), raw[table][key].sum()), table
    assert faults.equals(data.faults)
    # blocks draw from seeds of their own: block 1 is not block 0 again
    assert planted["micro_persona"].iloc[:600].tolist() != planted["micro_persona"].iloc[600:1200].tolist()


def test_period_1_shifts_the_persona_in_every_block_and_adds_the_niche(tmp_path):
    config = GeneratorConfig(n_customers=1_500, seed=3, block_customers=50, reference_date="2026-06-30", period=1)
    data = _stream(config, tmp_path)
    sql = _sql(tmp_path)
    changes = data.changes.set_index("change")["customers"]
    niche = f"{NEW_NICHE.macro}/{NEW_NICHE.micro}"
    assert changes["new_niche"] == 60 == sql(f"select count(*) from planted_personas where micro_persona = '{niche}'")
    assert sql(f"select count(distinct customer_id) from customers where customer_id >= {NICHE_ID_OFFSET} "
               f"and customer_id < {SHIFT_ID_OFFSET}") == 60  # two blocks of niche customers, in the customers file
    shifted = f"(select customer_id from planted_personas where micro_persona = '{SHIFTED_PERSONA}')"
    assert changes["behaviour_shift"] == sql(f"select count(*) from {shifted}")
    assert sql(f"select count(distinct (customer_id - 100001) // 50) from {shifted}") >= 10  # in many blocks
    # every shifted customer's orders, events and touches are the redrawn ones, none of period 0's is left
    for table, key in (("orders", "order_id"), ("web_events", "event_id"), ("marketing_touches", "touch_id")):
        outside = sql(f"select count(*) from {table} where customer_id in {shifted} "
                      f"and not ({key} between {SHIFT_ID_OFFSET} and {SHIFT_ID_OFFSET + ID_SPACE})")
        assert outside == 0, table
    assert sql(f"select count(distinct customer_id) from orders where customer_id in {shifted}") == changes[
        "behaviour_shift"]
    assert sql("select count(*) from order_items where order_id not in (select order_id from orders)") == \
        data.faults.set_index("fault").loc["item_orphan", "planted_rows"]


def test_a_failed_write_leaves_the_previous_files_and_no_partial_ones(tmp_path):
    with ParquetTables(tmp_path) as out:
        out.append({"orders": make_demo_data(GeneratorConfig(n_customers=50))[0]["orders"]})
    before = (tmp_path / "orders.parquet").read_bytes()
    with pytest.raises(RuntimeError, match="disk full"):
        with ParquetTables(tmp_path) as out:
            out.append({"orders": make_demo_data(GeneratorConfig(n_customers=80, seed=9))[0]["orders"]})
            raise RuntimeError("disk full")
    assert (tmp_path / "orders.parquet").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["orders.parquet"]


def test_a_chunk_that_does_not_fit_its_file_fails_the_write_after_the_fact_and_leaves_nothing(tmp_path):
    # chunks are written by a thread of their own: its error reaches the caller, naming the table
    orders = make_demo_data(GeneratorConfig(n_customers=50))[0]["orders"]
    with pytest.raises(ValueError, match="orders: a chunk's columns .* do not fit the file's"):
        with ParquetTables(tmp_path) as out:
            out.append({"orders": orders})
            out.append({"orders": orders.drop(columns=["channel"])})
    assert list(tmp_path.iterdir()) == []


def test_ids_stop_with_a_clear_error_before_they_would_meet_the_next_range():
    ids = IdCounters()
    ids.next["touch"] = ID_SPACE - 10  # as if ~20M customers had been drawn
    assert ids.take("touch", 5).tolist() == list(range(ID_SPACE - 10, ID_SPACE - 5))
    with pytest.raises(ValueError, match="touch ids would run into the next id range"):
        ids.take("touch", 100)
    assert IdCounters(NICHE_ID_OFFSET).take("touch", 1).tolist() == [NICHE_ID_OFFSET + 1]
