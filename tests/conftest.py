"""Shared fixtures: one real materialisation of the whole pipeline into a temp warehouse.

No mocks: the generator writes a real DuckDB file, dbt-duckdb builds it, Dagster
materialises every asset. Small data keeps it to seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
DBT_DIR = ROOT / "dbt_project"
AS_OF = "2026-06-30"
SMALL_CUSTOMERS = 3_000
# Fewer candidates and bootstrap rounds than the defaults: the same code paths, in seconds.
FAST_SEGMENTATION = {"macro_k_min": 4, "macro_k_max": 7, "micro_k_max": 4, "bootstrap_rounds": 2,
                     "total_budget": 50_000.0}


def dbt_executable() -> str:
    return str(Path(sys.executable).parent / "dbt")


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest(tmp_path_factory) -> Path:
    """`dbt parse` once per session, as the set-up step does (never at import time)."""
    env = {**os.environ, "MICROSEG_WAREHOUSE": str(tmp_path_factory.mktemp("parse") / "w.duckdb")}
    subprocess.run([dbt_executable(), "parse", "--quiet"], cwd=DBT_DIR, env=env, check=True)
    return DBT_DIR / "target" / "manifest.json"


@pytest.fixture(scope="session")
def warehouse_env(tmp_path_factory):
    """Point MICROSEG_WAREHOUSE at a fresh temp file for the session."""
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    old = os.environ.get("MICROSEG_WAREHOUSE")
    os.environ["MICROSEG_WAREHOUSE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("MICROSEG_WAREHOUSE", None)
    else:
        os.environ["MICROSEG_WAREHOUSE"] = old


def pipeline_run_config(n_customers: int = SMALL_CUSTOMERS, seed: int = 42) -> dict:
    return {
        "ops": {
            "demo_raw_exports": {"config": {"n_customers": n_customers, "seed": seed, "reference_date": AS_OF}},
            "dbt_models": {"config": {"as_of_date": AS_OF}},
            "customer_segmentation": {"config": FAST_SEGMENTATION},
            "dbt_segment_models": {"config": {"as_of_date": AS_OF}},
        }
    }


@pytest.fixture(scope="session")
def built_warehouse(warehouse_env, dbt_manifest):
    """Materialise every asset (the full_pipeline job) through Dagster; return (warehouse path, result)."""
    import dagster as dg

    from orchestration.definitions import defs

    result = defs.resolve_job_def("full_pipeline").execute_in_process(
        run_config=pipeline_run_config(), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    return warehouse_env, result


@pytest.fixture
def sql(built_warehouse):
    """Run a query read-only against the built warehouse and return a DataFrame."""
    path, _ = built_warehouse

    def run(query: str, params: list | None = None):
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(query, params or []).df()

    return run
