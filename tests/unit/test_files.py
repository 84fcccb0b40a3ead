"""Loading export files into raw: name matching, append once, full exports replace only their source's rows."""

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.lib.files import APPEND, REPLACE, landing_sources, load_files, table_for_file

TABLES = ["customers", "orders", "order_items"]


def test_file_names_map_to_raw_tables():
    assert table_for_file(Path("orders_2026-11-22.csv"), TABLES) == "orders"
    assert table_for_file(Path("order_items_2026.parquet"), TABLES) == "order_items"  # not taken for orders
    assert table_for_file(Path("Customers.CSV"), TABLES) == "customers"
    assert table_for_file(Path("notes.txt"), TABLES) is None
    assert table_for_file(Path("ordersheet.csv"), TABLES) is None


def test_landing_folders_are_sources(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "orders.csv").write_text("order_id\n1\n")
    (tmp_path / "shop" / "readme.md").write_text("ignored")
    (tmp_path / ".hidden").mkdir()
    assert landing_sources(tmp_path) == {"shop": [tmp_path / "shop" / "orders.csv"]}
    assert landing_sources(tmp_path / "missing") == {}


CUSTOMER = {"first_name": "x", "last_name": "Lee", "email": "a@b.co", "birth_date": "1990-01-01", "gender": "F",
            "country_code": "US", "region": "west", "city": "Oakland", "signup_date": "2024-01-01",
            "acquisition_channel": "organic", "is_loyalty_member": True}


def _write(path: Path, ids: list[int], name: str = "x") -> Path:
    """A customers export (every contract column but contacts and consents) of ``ids``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"customer_id": i, **CUSTOMER, "first_name": name} for i in ids]).to_csv(path, index=False)
    return path


def test_an_appended_file_is_loaded_once(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    f = _write(tmp_path / "inbox" / "customers_1.csv", [1, 2])
    first = load_files(con, [f], source="inbox", mode=APPEND, tables=TABLES)
    again = load_files(con, [f], source="inbox", mode=APPEND, tables=TABLES)
    assert [(r.rows, r.skipped) for r in first] == [(2, False)]
    assert [(r.rows, r.skipped) for r in again] == [(0, True)]
    assert con.execute("select count(*) from raw.customers").fetchone()[0] == 2
    assert con.execute("select distinct _source, _file from raw.customers").fetchall() == [("inbox", "customers_1.csv")]


def test_a_full_export_replaces_only_its_own_sources_rows(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_files(con, [_write(tmp_path / "shop" / "customers.csv", [1, 2, 3], "shop")], source="shop", mode=REPLACE,
               tables=TABLES)
    load_files(con, [_write(tmp_path / "demo" / "customers.csv", [7, 8], "demo")], source="demo", mode=REPLACE,
               tables=TABLES)
    load_files(con, [_write(tmp_path / "demo" / "customers.csv", [9], "demo")], source="demo", mode=REPLACE,
               tables=TABLES)
    rows = con.execute("select _source, customer_id from raw.customers order by all").fetchall()
    assert rows == [("demo", 9), ("shop", 1), ("shop", 2), ("shop", 3)]
    # the same export again is recognised by its content and not reloaded
    (again,) = load_files(con, [tmp_path / "demo" / "customers.csv"], source="demo", mode=REPLACE, tables=TABLES)
    assert again.skipped


def test_another_sources_rows_with_the_same_key_are_never_replaced(tmp_path):
    """Keys are a source's own at load: the inbox's customer 2 stays beside the shop's (staging keeps the newer)."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_files(con, [_write(tmp_path / "shop" / "customers.csv", [1, 2], "shop")], source="shop", mode=REPLACE,
               tables=TABLES)
    (inbox,) = load_files(con, [_write(tmp_path / "inbox" / "customers_1.csv", [2, 3], "inbox")], source="inbox",
                          mode=APPEND, tables=TABLES)
    assert (inbox.rows, inbox.rows_duplicate, inbox.rows_conflicting) == (2, 0, 0)
    rows = con.execute("select _source, customer_id, first_name from raw.customers order by all").fetchall()
    assert rows == [("inbox", 2, "inbox"), ("inbox", 3, "inbox"), ("shop", 1, "shop"), ("shop", 2, "shop")]
    # within a source the newest export wins, and the replaced row is kept in raw._conflicts
    (again,) = load_files(con, [_write(tmp_path / "inbox" / "customers_2.csv", [3], "inbox, again")], source="inbox",
                          mode=APPEND, tables=TABLES)
    assert (again.rows, again.rows_conflicting) == (1, 1)
    assert con.execute("select first_name from raw.customers where customer_id = 3").fetchall() == [("inbox, again",)]


def test_a_file_missing_columns_is_refused_naming_file_and_columns(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_files(con, [_write(tmp_path / "customers.csv", [1])], source="shop", mode=APPEND, tables=TABLES)
    bad = tmp_path / "customers_bad.csv"
    pd.DataFrame([{"customer_id": 5, **CUSTOMER}]).drop(columns="first_name").to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"customers_bad\.csv: missing columns \['first_name'\]"):
        load_files(con, [bad], source="shop", mode=APPEND, tables=TABLES)
    with pytest.raises(ValueError, match="no raw table matches"):
        load_files(con, [_write(tmp_path / "refunds.csv", [1])], source="shop", mode=APPEND, tables=TABLES)


def test_a_customers_file_from_before_contacts_and_consents_loads_them_as_unknown(tmp_path):
    from orchestration.lib.loading import ensure_raw_tables

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_raw_tables(con)  # raw.customers has every contract column, phone and consents included
    old = tmp_path / "customers_2025.csv"
    pd.DataFrame({"customer_id": [7], "first_name": ["Ann"], "last_name": ["Lee"], "email": ["a@b.co"],
                  "birth_date": ["1990-01-01"], "gender": ["F"], "country_code": ["US"], "region": ["west"],
                  "city": ["Oakland"], "signup_date": ["2024-01-01"], "acquisition_channel": ["organic"],
                  "is_loyalty_member": [True]}).to_csv(old, index=False)
    load_files(con, [old], source="shop", mode=APPEND, tables=TABLES)
    row = con.execute("select customer_id, phone, email_consent, sms_consent, ads_consent from raw.customers").fetchall()
    assert row == [(7, None, None, None, None)]  # NULL consent: staging reads it as no consent
