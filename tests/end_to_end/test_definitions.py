"""The code location loads cleanly, without touching the warehouse or running dbt."""

import json
import os
import subprocess
import sys

import dagster as dg

from tests.conftest import DBT_DIR, ROOT, load_defs


def test_definitions_load_with_dbt_models_as_assets_and_tests_as_checks():
    graph = load_defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"raw/customers", "raw/orders", "staging/stg_shop__orders", "marts/customer_features"} <= keys
    # dbt sources hang under the raw assets: staging depends on raw/<table>
    assert dg.AssetKey(["raw", "orders"]) in graph.get(dg.AssetKey(["staging", "stg_shop__orders"])).parent_keys
    # layers are groups users can filter on
    assert graph.get(dg.AssetKey(["marts", "customer_features"])).group_name == "marts"
    assert graph.get(dg.AssetKey(["intermediate", "int_customer__rfm"])).group_name == "intermediate"
    checks = {c.name for c in graph.asset_check_keys if c.asset_key == dg.AssetKey(["marts", "customer_features"])}
    assert "unique_customer_features_customer_id" in checks


def test_importing_definitions_opens_no_warehouse(tmp_path):
    target = tmp_path / "never" / "warehouse.duckdb"
    env = {**os.environ, "MICROSEG_WAREHOUSE": str(target)}
    code = "import orchestration.definitions as d; d.defs().resolve_asset_graph()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    assert not target.exists() and not target.parent.exists()


def test_dagster_definitions_validate_passes(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "passed validation" in out.stderr + out.stdout


def test_dbt_project_parses_with_clean_schemas_and_enforced_contract(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert models["customer_features"]["schema"] == "marts"
    assert models["stg_shop__orders"]["schema"] == "staging"
    assert models["int_customer__rfm"]["schema"] == "intermediate"
    features = models["customer_features"]
    assert features["config"]["contract"]["enforced"] is True
    undocumented = [c for c, v in features["columns"].items() if not v.get("description")]
    assert undocumented == []
    unit_tests = [n for n in manifest.get("unit_tests", {}).values()]
    assert len(unit_tests) >= 3
    sources = [s for s in manifest["sources"].values() if s["source_name"] == "raw"]
    assert all(s["description"] for s in sources) and len(sources) == 6
    assert (DBT_DIR / "target" / "manifest.json").exists()
