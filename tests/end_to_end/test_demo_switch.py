"""The demo is behind a switch and is one source among others: no job run with default config touches
rows that did not come from the demo, and without the switch the demo does not load at all."""

import dagster as dg
import pandas as pd
import pytest

from orchestration.defs.demo.synthetic import GeneratorConfig, make_demo_data
from tests.conftest import load_defs, query

JOBS = ["full_pipeline", "refresh_features", "segment_customers", "score_customers", "ingest_and_score"]


@pytest.fixture
def own_export(tmp_path, monkeypatch, dbt_manifest):
    """A warehouse whose landing folder holds a user's own full export (source "shop"), demo mode on."""
    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("MICROSEG_DEMO", "1")
    monkeypatch.setenv("MICROSEG_DEMO_CUSTOMERS", "1500")  # the default config, at a size a test affords
    monkeypatch.delenv("MICROSEG_LANDING", raising=False)
    monkeypatch.delenv("MICROSEG_INBOX", raising=False)
    raw, _, _, _ = make_demo_data(GeneratorConfig(n_customers=60, seed=5))
    shop = tmp_path / "landing" / "shop"
    shop.mkdir(parents=True)
    customers = raw["customers"].assign(customer_id=raw["customers"]["customer_id"] + 800_000)
    customers.to_parquet(shop / "customers.parquet", index=False)
    return tmp_path / "warehouse.duckdb", customers


def test_every_job_with_default_config_leaves_a_users_rows_intact(own_export):
    warehouse, customers = own_export
    defs = load_defs()
    instance = dg.DagsterInstance.ephemeral()
    for job in JOBS:
        result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
        assert result.success, job
        mine = query(warehouse, "select * exclude (_source, _file, _loaded_at) from raw.customers "
                                "where _source = 'shop' order by customer_id")
        # the load keeps each of the user's keys once, the file's later line winning (the export's own
        # duplicate customer row); after that, no job may change them
        expected = (customers.drop_duplicates("customer_id", keep="last").sort_values("customer_id")
                    .reset_index(drop=True))
        assert len(mine) == len(expected), job
        assert mine["customer_id"].tolist() == expected["customer_id"].tolist(), job
        assert mine["email"].fillna("").tolist() == expected["email"].astype(object).fillna("").tolist(), job
    sources = query(warehouse, "select _source, count(*) as n from raw.customers group by 1 order by 1")
    assert sources["_source"].tolist() == ["demo", "shop"]


def test_without_the_switch_no_demo_asset_or_check_loads(monkeypatch):
    monkeypatch.setenv("MICROSEG_DEMO", "0")
    graph = load_defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert not any(k.startswith(("demo/", "eval/")) for k in keys)
    assert "raw/orders" in keys and "segments/customer_segments" in keys
    assert "planted_persona_recovery" not in {c.name for c in graph.asset_check_keys}
    monkeypatch.setenv("MICROSEG_DEMO", "1")
    graph = load_defs().resolve_asset_graph()
    assert dg.AssetKey(["demo", "synthetic_exports"]) in graph.get(dg.AssetKey(["raw", "orders"])).parent_keys
