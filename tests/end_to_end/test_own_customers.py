"""A customers export whose optional fields are empty drops no one: every customer gets features."""

import dagster as dg
import pandas as pd

from tests.conftest import load_defs, query


def test_empty_optional_customer_fields_remove_no_customer(tmp_path, monkeypatch, dbt_manifest):
    pd.DataFrame({"id": [1, 2, 3, 4], "vorname": ["", None, "Ann", ""], "mail": [None, "", "ann@example.com", None],
                  "gebiet": [None, "", "Nord", None]}).to_csv(tmp_path / "kunden.csv", index=False)
    pd.DataFrame({"id": [1, 2, 3, 3, 4], "tag": ["2025-05-01", "2025-05-02", "2025-05-03", "2025-06-01", "2025-06-30"],
                  "summe": [10.0, 20.0, 5.0, 7.0, 3.0]}).to_csv(tmp_path / "bons.csv", index=False)
    (tmp_path / "sources.yml").write_text("""
sources:
  - {name: crm, entity: customers, path: kunden.csv, columns: {customer_id: id, first_name: vorname, email: mail, region: gebiet}}
  - {name: till, entity: transactions, path: bons.csv, columns: {customer_id: id, ordered_at: tag, amount: summe}}
""")
    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("MICROSEG_DEMO", "0")
    monkeypatch.setenv("MICROSEG_SOURCES", str(tmp_path / "sources.yml"))
    result = load_defs().resolve_job_def("refresh_features").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    warehouse = tmp_path / "warehouse.duckdb"
    features = query(warehouse, "select customer_id, region from marts.customer_features order by 1")
    assert features["customer_id"].tolist() == [1, 2, 3, 4]
    assert features["region"].tolist() == ["unknown", "unknown", "nord", "unknown"]
    report = query(warehouse, "select rule, affected_rows from marts.data_quality_report where raw_table = 'customers'")
    report = dict(zip(report["rule"], report["affected_rows"]))
    assert report["test_account"] == 0 and report["derived_from_transactions"] == 0
