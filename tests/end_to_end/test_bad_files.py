"""A corpus of bad export files: each is loaded, quarantined or refused with file, line and column named,
read = loaded + duplicate + quarantined, and the good file after it still loads.

Most kinds go straight through the loader into a real temp DuckDB (one connection, one file after
another, as the inbox delivers them); one test takes bad and good files through the documented path,
the inbox folder, the sensor and real Dagster runs of ingest_and_score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import dagster as dg
import duckdb
import pandas as pd
import pytest

from orchestration.lib.files import APPEND, load_files
from orchestration.lib.loading import ensure_raw_tables
from tests.conftest import AS_OF, load_defs, query

TABLES = ["customers", "products", "orders", "order_items", "web_events", "marketing_touches"]
ORDERS = "order_id,customer_id,order_ts,channel,device,discount_pct,status\n"
ITEMS = "order_item_id,order_id,product_id,line_type,quantity,unit_price\n"
PRODUCTS = "product_id,product_name,category,subcategory,brand,price,is_private_label\n"
CUSTOMERS = ("customer_id,first_name,last_name,email,birth_date,gender,country_code,region,city,signup_date,"
             "acquisition_channel,is_loyalty_member\n")


def order(i: int, customer: int = 1, ts: str = "2026-05-01 10:00:00", discount: str = "0.1") -> str:
    return f"{i},{customer},{ts},web,mobile,{discount},completed\n"


def item(i: int, quantity: str = "2", price: str = "9.5") -> str:
    return f"{i},{i},{i},sale,{quantity},{price}\n"


def customer(i: int, email: str = "a@b.co", region: str = "west", birth: str = "1990-01-01") -> str:
    return f"{i},Ann,Lee,{email},{birth},F,US,{region},Oakland,2024-01-01,organic,true\n"


def product(i: int, price: str = "12.0") -> str:
    return f"{i},Mug,home,kitchen,Acme,{price},false\n"


@dataclass
class Kind:
    name: str
    file: str  # named after the raw table it feeds
    content: bytes | Callable[[Path], None]
    outcome: str  # loaded | quarantined | rejected | duplicate | conflict
    read: int = 0  # rows read (for loaded outcomes)
    loaded: int = 0
    quarantined: int = 0
    duplicate: int = 0
    lines: tuple[int, ...] = ()  # quarantined lines
    column: str | None = None  # the column the quarantine or the error names
    message: str = ""  # in the error, or in the quarantine's reason
    before: str | None = None  # a file loaded first (the rows a duplicate or conflict meets)


def _parquet(df: pd.DataFrame) -> Callable[[Path], None]:
    return lambda path: df.to_parquet(path, index=False)


def _truncated(path: Path) -> None:
    pd.DataFrame({"order_id": range(100), "customer_id": 1}).to_parquet(path, index=False)
    path.write_bytes(path.read_bytes()[:300])


GOOD_ORDERS = pd.DataFrame({"order_id": [1, 2], "customer_id": [1, 1], "order_ts": pd.to_datetime(["2026-05-01"] * 2),
                            "channel": "web", "device": "mobile", "discount_pct": [0.1, 0.0], "status": "completed"})

KINDS = [
    Kind("empty file", "orders_empty.csv", b"", "rejected", message="the file is empty"),
    Kind("header only", "orders_header.csv", ORDERS.encode(), "loaded"),
    Kind("semicolon delimiter", "orders_semicolon.csv", (ORDERS + order(10) + order(11)).replace(",", ";").encode(),
         "loaded", read=2, loaded=2),
    Kind("ragged rows", "orders_ragged.csv", (ORDERS + order(10) + "11,1,2026-05-01,web,mobile,0.1,completed,x\n"
                                              + "12,1\n" + order(13)).encode(),
         "quarantined", read=4, loaded=2, quarantined=2, lines=(3, 4), message="columns"),
    Kind("latin-1 bytes", "customers_latin1.csv", (CUSTOMERS + customer(10) + customer(11, email="jos\xe9@b.co"))
         .encode("latin-1"), "quarantined", read=2, loaded=1, quarantined=1, lines=(3,), column="email",
         message="not UTF-8"),
    Kind("UTF-8 byte-order mark", "orders_bom.csv", b"\xef\xbb\xbf" + (ORDERS + order(10)).encode(), "loaded",
         read=1, loaded=1),
    Kind("NUL byte", "orders_nul.csv", (ORDERS + order(10) + "11\x00,1,2026-05-01,web,mobile,0.1,completed\n").encode(),
         "quarantined", read=2, loaded=1, quarantined=1, lines=(3,), column="order_id", message="cannot read"),
    Kind("corrupt Parquet", "orders_corrupt.parquet", b"PAR1 this is not parquet at all", "rejected",
         message="not a readable Parquet file"),
    Kind("truncated Parquet", "orders_truncated.parquet", _truncated, "rejected", message="not a readable Parquet"),
    Kind("text in a number column", "order_items_types.csv", (ITEMS + item(10) + item(11, quantity="two")).encode(),
         "quarantined", read=2, loaded=1, quarantined=1, lines=(3,), column="quantity", message='"two"'),
    Kind("unparseable date", "orders_dates.csv", (ORDERS + order(10) + order(11, ts="31/13/2026")).encode(),
         "quarantined", read=2, loaded=1, quarantined=1, lines=(3,), column="order_ts", message="31/13/2026"),
    Kind("order in the future (staging quarantines it)", "orders_future.csv",
         (ORDERS + order(10, ts="2099-01-01 00:00:00")).encode(), "loaded", read=1, loaded=1),
    Kind("birth date 1900 (staging nulls and flags it)", "customers_1900.csv",
         (CUSTOMERS + customer(10, birth="1900-01-01")).encode(), "loaded", read=1, loaded=1),
    Kind("NULL key", "orders_null_key.csv", (ORDERS + order(10) + ",1,2026-05-01,web,mobile,0.1,completed\n").encode(),
         "quarantined", read=2, loaded=1, quarantined=1, lines=(3,), column="order_id", message="missing"),
    Kind("NULL required value", "orders_null_customer.csv", (ORDERS + "10,,2026-05-01,web,mobile,0.1,completed\n")
         .encode(), "quarantined", read=1, quarantined=1, lines=(2,), column="customer_id", message="missing"),
    Kind("duplicate rows within the file", "orders_dupes.csv", (ORDERS + order(10) + order(10) + order(11)).encode(),
         "duplicate", read=3, loaded=2, duplicate=1),
    Kind("a thousand copies of one order", "orders_copies.parquet",
         _parquet(pd.concat([GOOD_ORDERS.iloc[[0]]] * 1000, ignore_index=True)), "duplicate", read=1000, loaded=1,
         duplicate=999),
    Kind("rows already loaded", "orders_again_2.csv", (ORDERS + order(20) + order(21)).encode(), "duplicate",
         read=2, loaded=0, duplicate=2, before="orders_again_1.csv"),
    Kind("conflicting customer attributes", "customers_conflict_2.csv", (CUSTOMERS + customer(30, region="east"))
         .encode(), "conflict", read=1, loaded=1, before="customers_conflict_1.csv"),
    Kind("same order twice with other values", "orders_versions.csv",
         (ORDERS + order(40, discount="0.1") + order(40, discount="0.2")).encode(), "conflict", read=2, loaded=1,
         duplicate=1),
    Kind("NaN price", "products_nan.csv", (PRODUCTS + product(10) + product(11, price="NaN")).encode(), "quarantined",
         read=2, loaded=1, quarantined=1, lines=(3,), column="price", message="not a finite number"),
    Kind("infinite price", "order_items_inf.parquet",
         _parquet(pd.DataFrame({"order_item_id": [1, 2], "order_id": [1, 2], "product_id": [1, 1],
                                "line_type": "sale", "quantity": [1, 1], "unit_price": [5.0, float("inf")]})),
         "quarantined", read=2, loaded=1, quarantined=1, lines=(2,), column="unit_price", message="not a finite"),
    Kind("negative price", "order_items_negative.csv", (ITEMS + item(10) + item(11, price="-3.5")).encode(),
         "quarantined", read=2, loaded=1, quarantined=1, lines=(3,), column="unit_price", message="negative"),
    Kind("negative discount", "orders_discount.csv", (ORDERS + order(10, discount="-0.5")).encode(), "quarantined",
         read=1, quarantined=1, lines=(2,), column="discount_pct", message="negative"),
    Kind("huge quantity", "order_items_huge.csv", (ITEMS + item(10) + item(11, quantity="5000000")).encode(),
         "quarantined", read=2, loaded=1, quarantined=1, lines=(3,), column="quantity", message="beyond"),
    Kind("unreadable boolean", "customers_bool.csv", (CUSTOMERS + customer(10).replace("true", "maybe")).encode(),
         "quarantined", read=1, quarantined=1, lines=(2,), column="is_loyalty_member", message='"maybe"'),
    Kind("extra columns (ignored)", "orders_extra.csv",
         (ORDERS.strip() + ",note\n" + order(10).strip() + ",hello\n").encode(), "loaded", read=1, loaded=1),
    Kind("missing required column", "orders_missing.csv", b"order_id,customer_id\n1,1\n", "rejected",
         column="order_ts", message="missing columns"),
    Kind("renamed column", "orders_renamed.csv", ORDERS.replace("order_ts", "ordered_on").encode() + order(10).encode(),
         "rejected", column="order_ts", message="renamed?"),
    Kind("quoted delimiter in a value", "customers_quoted.csv",
         (CUSTOMERS + customer(10).replace("Oakland", '"Oakland, CA"')).encode(), "loaded", read=1, loaded=1),
    Kind("unknown customer in orders (staging quarantines the orphan)", "orders_orphan.csv",
         (ORDERS + order(10, customer=999999)).encode(), "loaded", read=1, loaded=1),
    Kind("name of no raw table", "refunds_2026.csv", b"a,b\n1,2\n", "rejected", message="no raw table matches"),
]
GOOD = ORDERS + order(500) + order(501)


def _write(folder: Path, name: str, content) -> Path:
    path = folder / name
    if callable(content):
        content(path)
    else:
        path.write_bytes(content)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Each kind into its own warehouse (after the file it meets, if any), then a good orders file after it.

    Returns {kind name: (connection, load or None, error or None, the good file's load)}.
    """
    seen = {}
    for kind in KINDS:
        folder = tmp_path_factory.mktemp("inbox")
        con = duckdb.connect(str(folder / "warehouse.duckdb"))
        if kind.before:
            first = (ORDERS + order(20) + order(21) + order(22)) if kind.before.startswith("orders") \
                else (CUSTOMERS + customer(30))
            load_files(con, [_write(folder, kind.before, first.encode())], source="inbox", mode=APPEND, tables=TABLES)
        path = _write(folder, kind.file, kind.content)
        try:
            (load,) = load_files(con, [path], source="inbox", mode=APPEND, tables=TABLES)
            error = None
        except (ValueError, FileNotFoundError) as exc:
            load, error = None, str(exc)
        (after,) = load_files(con, [_write(folder, "orders_good.csv", GOOD.encode())], source="inbox", mode=APPEND,
                              tables=TABLES)
        seen[kind.name] = (con, load, error, after)
    yield seen
    for con, *_ in seen.values():
        con.close()


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_each_bad_file_is_loaded_quarantined_or_refused_with_file_line_and_column(corpus, kind):
    con, load, error, after = corpus[kind.name]
    assert after.rows == 2, "the good file after a bad one loads"
    if kind.outcome == "rejected":
        assert load is None and error.startswith(str(Path(error.split(":")[0]))) and kind.file in error
        assert kind.message in error and (kind.column is None or kind.column in error), error
        assert not con.execute("select count(*) from raw._loads where file = ?", [kind.file]).fetchone()[0]
        return
    assert error is None, error
    assert (load.rows_read, load.rows, load.rows_quarantined, load.rows_duplicate) == \
        (kind.read, kind.loaded, kind.quarantined, kind.duplicate)
    assert load.rows_read == load.rows + load.rows_duplicate + load.rows_quarantined
    ledger = con.execute("select rows_read, rows, rows_duplicate, rows_quarantined from raw._loads where file = ?",
                         [kind.file]).fetchone()
    assert ledger == (load.rows_read, load.rows, load.rows_duplicate, load.rows_quarantined)
    bad = con.execute("select line, column_name, reason from raw._quarantine where file = ? order by line",
                      [kind.file]).fetchall()
    assert tuple(line for line, _, _ in bad) == kind.lines
    for _, column, reason in bad:
        assert kind.column in (None, column) and kind.message in reason, (column, reason)
    if kind.outcome == "conflict":
        (conflicts,) = con.execute("select count(*) from raw._conflicts where file = ?", [kind.file]).fetchone()
        assert conflicts == 1 == load.rows_conflicting


def test_the_newest_export_wins_a_conflict_and_the_replaced_values_are_kept(corpus):
    con = corpus["conflicting customer attributes"][0]
    assert con.execute("select region from raw.customers where customer_id = 30").fetchall() == [("east",)]
    (changed, replaced, new) = con.execute(
        "select changed_columns, replaced_values, new_values from raw._conflicts where raw_table = 'customers'"
    ).fetchone()
    assert changed == "region" and "west" in replaced and "east" in new
    # within one file the later line is the newer version
    con = corpus["same order twice with other values"][0]
    assert con.execute("select discount_pct from raw.orders where order_id = 40").fetchall() == [(0.2,)]


def test_raw_holds_each_key_once_and_no_value_that_cannot_be_right(corpus):
    for con, *_ in corpus.values():
        ensure_raw_tables(con)  # as the ingest asset does after loading
        for table, key in [("orders", "order_id"), ("order_items", "order_item_id"), ("customers", "customer_id"),
                           ("products", "product_id")]:
            (repeats,) = con.execute(f"select count(*) - count(distinct {key}) from raw.{table}").fetchone()
            assert repeats == 0, table
        assert not con.execute("select count(*) from raw.order_items where not isfinite(unit_price) "
                               "or unit_price < 0 or abs(quantity) > 10000").fetchone()[0]
        assert not con.execute("select count(*) from raw.products where not isfinite(price)").fetchone()[0]


def test_the_per_kind_table(corpus, capsys):
    """The table for the lead's note: what happened to each kind of file (printed with -s)."""
    rows = []
    for kind in KINDS:
        con, load, error, _ = corpus[kind.name]
        example = con.execute("select line, column_name, reason from raw._quarantine order by line limit 1").fetchone()
        if error:
            what = f"rejected: {error.split(': ', 1)[1][:110]}"
        else:
            what = (f"read {load.rows_read} = loaded {load.rows} + duplicate {load.rows_duplicate} + "
                    f"quarantined {load.rows_quarantined}" + (f"; {load.rows_conflicting} conflict(s), newest wins"
                                                            if load.rows_conflicting else "")
                    + (f"; e.g. line {example[0]}, {example[1]}: {example[2][:70]}" if example else ""))
        rows.append(f"| {kind.name} | {kind.outcome} | {what} |")
    assert len(rows) >= 25
    print("\n| kind | outcome | what happened |\n|---|---|---|\n" + "\n".join(rows))


def _run(request: dg.RunRequest, instance: dg.DagsterInstance):
    config = {**request.run_config, "resources": {"analysis": {"config": {"as_of_date": AS_OF}}}}
    return load_defs().resolve_job_def("ingest_and_score").execute_in_process(
        run_config=config, instance=instance, raise_on_error=False)


def test_through_the_inbox_a_refused_file_blocks_nothing_and_its_fix_is_loaded_with_bad_rows_quarantined(
        warehouse_copy, tmp_path):
    """The documented path: files in the inbox, the sensor, real ingest_and_score runs on the built warehouse."""
    from orchestration.defs.ingest.sensors import inbox_sensor

    inbox = tmp_path / "inbox"
    scored_before = query(warehouse_copy, "select count(*) as n from segments.scoring_runs")["n"].item()
    broken = inbox / "orders_2026-06-30.csv"
    broken.write_text("order_id,customer_id\n1,100001\n")  # no order_ts: refused whole
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance)
    (first,) = list(inbox_sensor(context))
    failed = _run(first, instance)
    assert not failed.success
    message = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE").step_failure_data.error.message
    assert "orders_2026-06-30.csv" in message and "order_ts" in message

    # the user fixes the file (same name): two good orders, a NULL order id and a NaN discount
    broken.write_text(ORDERS + order(930_000_001, customer=100001) + order(930_000_002, customer=100002)
                      + ",100001,2026-06-01,web,mobile,0.1,completed\n" + order(930_000_003, discount="NaN"))
    (fixed,) = list(inbox_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor)))
    assert fixed.run_key != first.run_key
    assert _run(fixed, instance).success
    load = query(warehouse_copy, "select rows_read, rows, rows_duplicate, rows_quarantined from raw._loads "
                                 "where file = 'orders_2026-06-30.csv'").iloc[0].tolist()
    assert load == [4, 2, 0, 2]
    bad = query(warehouse_copy, "select line, column_name from raw._quarantine where file = 'orders_2026-06-30.csv' "
                                "order by line")
    assert bad.values.tolist() == [[4, "order_id"], [5, "discount_pct"]]
    assert query(warehouse_copy, "select order_id from raw.orders where _file = 'orders_2026-06-30.csv' "
                                 "order by order_id")["order_id"].tolist() == [930_000_001, 930_000_002]
    # the good rows reached the scores; nothing that cannot be right reached the marts
    assert query(warehouse_copy, "select count(*) as n from segments.scoring_runs")["n"].item() == scored_before + 1
    (nan,) = query(warehouse_copy, "select count(*) filter (where not isfinite(net_revenue) or not isfinite("
                                   "avg_order_value)) from marts.customer_features").iloc[0]
    assert nan == 0
