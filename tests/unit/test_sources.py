"""The sources file and the loader on files the tests make: errors a user can act on, counts that reconcile."""

import duckdb
import pandas as pd
import pytest

from orchestration.lib.loading import load_sources
from orchestration.lib.sources import load_sources_file


def _sources(tmp_path, text: str):
    path = tmp_path / "sources.yml"
    path.write_text(text)
    return load_sources_file(path)


def test_mistakes_in_the_sources_file_are_all_named(tmp_path):
    with pytest.raises(ValueError) as error:
        _sources(tmp_path, """
sources:
  - {name: kasse, entity: transactions, path: x.csv, columns: {amount_eur: Betrag}}
  - {name: 2nd, entity: shoppers, path: y.csv}
""")
    message = str(error.value)
    assert "sources.yml: 3 problem(s)" in message
    assert "sources[0] (kasse): columns names ['amount_eur'], which transactions does not have" in message
    assert "sources[1] (2nd).name" in message and "sources[1] (2nd).entity" in message
    with pytest.raises(ValueError, match="no source feeds transactions"):
        _sources(tmp_path, "sources:\n  - {name: crm, entity: customers, path: c.csv}\n")


def test_an_incremental_file_is_loaded_once_and_counts_reconcile(tmp_path):
    pd.DataFrame({"cid": [1, 2, 2], "day": ["2025-01-02", "2025-01-03", "not a day"], "paid": [5.0, 7.5, 1.0]}
                 ).to_csv(tmp_path / "sales_1.csv", index=False)
    sources = _sources(tmp_path, """
sources:
  - name: till
    entity: transactions
    path: sales_*.csv
    columns: {customer_id: cid, ordered_at: day, amount: paid}
    mode: incremental
""")
    con = duckdb.connect()
    (first,) = load_sources(con, sources)
    assert (first.rows_read, first.rows_loaded, first.rows_quarantined) == (3, 2, 1)
    (again,) = load_sources(con, sources)
    assert again.skipped and con.execute("select count(*) from raw.order_items").fetchone()[0] == 2
    line, column, reason, customer = con.execute(
        "select line, column_name, reason, customer_id from raw._quarantine").fetchone()
    assert (line, column) == (4, "ordered_at") and 'cannot read "not a day" as TIMESTAMP' in reason
    assert customer == 2  # whose line it was, so a customer with only bad lines is still accounted for


def test_a_parquet_export_of_every_entity_loads_and_empty_optional_fields_drop_no_one(tmp_path):
    frames = {
        "transactions": pd.DataFrame({"customer_id": [1, 2], "ordered_at": pd.to_datetime(["2025-01-01", "2025-02-01"]),
                                      "amount": [10.0, -4.0], "product_id": [7, 7], "channel": ["web", "store"]}),
        "customers": pd.DataFrame({"customer_id": [1, 2, 3], "first_name": [None, "", "Ann"],
                                   "email": [None, None, "ann@example.com"], "region": [None, "west", None]}),
        "products": pd.DataFrame({"product_id": [7], "category": ["Toys"], "price": [10.0]}),
        "web_events": pd.DataFrame({"event_id": [1], "session_id": [1], "customer_id": [1],
                                    "event_ts": pd.to_datetime(["2025-01-01"]), "event_type": ["search"]}),
        "marketing_touches": pd.DataFrame({"touch_id": [1], "customer_id": [3], "channel": ["email"],
                                           "sent_at": pd.to_datetime(["2025-01-01"]), "opened": [True]}),
    }
    lines = ["sources:"]
    for entity, df in frames.items():
        df.to_parquet(tmp_path / f"{entity}.parquet", index=False)
        lines.append(f"  - {{name: shop_{entity}, entity: {entity}, path: {entity}.parquet}}")
    con = duckdb.connect()
    loads = load_sources(con, _sources(tmp_path, "\n".join(lines) + "\n"))
    assert all(load.rows_read == load.rows_loaded and not load.rows_quarantined for load in loads)
    assert con.execute("select count(*) from raw.customers").fetchone()[0] == 3  # no derived duplicate of 1 or 2
    assert con.execute("select line_type, quantity from raw.order_items order by 1").fetchall() == [
        ("refund", -1), ("sale", 1)]
    assert con.execute("select count(*) from raw.products").fetchone()[0] == 1


def test_a_file_missing_a_required_column_fails_naming_file_and_column(tmp_path):
    pd.DataFrame({"cid": [1], "paid": [5.0]}).to_csv(tmp_path / "sales.csv", index=False)
    sources = _sources(tmp_path, "sources:\n  - {name: till, entity: transactions, path: sales.csv, "
                                 "columns: {customer_id: cid, amount: paid}}\n")
    with pytest.raises(ValueError, match=r"sales\.csv: required column 'ordered_at' \(file column 'ordered_at'\) "
                                         r"is not in the file"):
        load_sources(duckdb.connect(), sources)


def test_ids_that_are_not_integers_load_under_a_stable_key_that_maps_back(tmp_path):
    pd.DataFrame({"kunde": ["C-001", "C-002", "C-001", "17", "0042", "C-003"], "tag": ["2025-01-02"] * 6,
                  "summe": ["5.0", "6.0", "7.0", "8.0", "9.0", "lots"]}).to_csv(tmp_path / "sales.csv", index=False)
    sources = _sources(tmp_path, "sources:\n  - {name: till, entity: transactions, path: sales.csv, "
                                 "columns: {customer_id: kunde, ordered_at: tag, amount: summe}}\n")
    con = duckdb.connect()
    (load,) = load_sources(con, sources)
    assert (load.rows_loaded, load.rows_quarantined) == (5, 1)
    keys = dict(con.execute("select source_value, id from raw._id_keys where column_name = 'customer_id'").fetchall())
    # "17" is written as its integer and needs no mapping; "0042" loads as 42 and keeps its zeros here;
    # C-003, whose only line was quarantined, is mapped too, so the marts can still name it
    assert set(keys) == {"C-001", "C-002", "0042", "C-003"} and keys["0042"] == 42
    per_customer = dict(con.execute("select customer_id, count(*) from raw.orders group by 1").fetchall())
    assert per_customer == {keys["C-001"]: 2, keys["C-002"]: 1, 17: 1, 42: 1}


def test_a_customers_export_meeting_known_ids_loads_each_once_and_the_newest_wins(tmp_path):
    """Same id, same values: a duplicate, not loaded again. Same id, other values: the newer export wins."""
    pd.DataFrame({"customer_id": [1, 2], "region": ["west", "west"]}).to_csv(tmp_path / "crm_1.csv", index=False)
    pd.DataFrame({"customer_id": [1, 2, 2], "region": ["west", "east", "east"]}).to_csv(tmp_path / "crm_2.csv",
                                                                                        index=False)
    pd.DataFrame({"cid": [1], "day": ["2025-01-02"], "paid": [5.0]}).to_csv(tmp_path / "sales.csv", index=False)
    sources = _sources(tmp_path, """
sources:
  - {name: crm, entity: customers, path: crm_*.csv, mode: incremental}
  - {name: till, entity: transactions, path: sales.csv, columns: {customer_id: cid, ordered_at: day, amount: paid}}
""")
    con = duckdb.connect()
    loads = {load.file: load for load in load_sources(con, sources)}
    second = loads["crm_2.csv"]
    assert (second.rows_read, second.rows_loaded, second.rows_duplicate, second.rows_conflicting) == (3, 1, 2, 1)
    assert con.execute("select customer_id, region, _file from raw.customers order by 1").fetchall() == [
        (1, "west", "crm_1.csv"), (2, "east", "crm_2.csv")]
    changed, replaced = con.execute("select changed_columns, replaced_file from raw._conflicts").fetchone()
    assert (changed, replaced) == ("region", "crm_1.csv")
