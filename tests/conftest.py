"""Shared fixtures: one real materialisation of the whole pipeline into a temp warehouse.

No mocks: the demo generator writes real export files, DuckDB loads them, dbt-duckdb
builds the models, Dagster materialises every asset. Small data keeps it to seconds.
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
    """`dbt parse` once per test session, as the set-up step does (never at import time).

    Under pytest-xdist (`make test` runs two workers) the first worker parses and the others wait for it:
    two parses writing one target/ folder at once could hand a dbt run half a manifest."""
    from filelock import FileLock

    basetemp = tmp_path_factory.getbasetemp()
    # a worker's basetemp is <session basetemp>/popen-gwN: its parent is shared by this session's workers only
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    with FileLock(str(shared / "dbt_parse.lock")):
        done = shared / "dbt_parse.done"
        if not done.exists():
            env = {**os.environ, "MICROSEG_WAREHOUSE": str(tmp_path_factory.mktemp("parse") / "w.duckdb")}
            subprocess.run([dbt_executable(), "parse", "--quiet"], cwd=DBT_DIR, env=env, check=True)
            done.touch()
    return DBT_DIR / "target" / "manifest.json"


def load_defs():
    """The code location's Definitions, loaded as `dg dev` loads them (reads the demo switch now)."""
    from orchestration.definitions import defs

    return defs()


@pytest.fixture(scope="session")
def warehouse_env(tmp_path_factory):
    """A fresh temp warehouse (landing and inbox beside it) in demo mode, for the session."""
    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    saved = {k: os.environ.get(k) for k in ("MICROSEG_WAREHOUSE", "MICROSEG_DEMO", "MICROSEG_LANDING",
                                            "MICROSEG_INBOX")}
    os.environ.update({"MICROSEG_WAREHOUSE": str(path), "MICROSEG_DEMO": "1"})
    os.environ.pop("MICROSEG_LANDING", None)
    os.environ.pop("MICROSEG_INBOX", None)
    yield path
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def pipeline_run_config(n_customers: int = SMALL_CUSTOMERS, seed: int = 42, segmentation: dict | None = None) -> dict:
    return {
        "ops": {
            "demo_exports": {"config": {"n_customers": n_customers, "seed": seed, "reference_date": AS_OF}},
            "customer_segmentation": {"config": segmentation or FAST_SEGMENTATION},
        },
        "resources": {"analysis": {"config": {"as_of_date": AS_OF}}},
    }


@pytest.fixture(scope="session")
def built_warehouse(warehouse_env, dbt_manifest):
    """Materialise every asset (the full_pipeline job) through Dagster; return (warehouse path, result)."""
    import dagster as dg

    result = load_defs().resolve_job_def("full_pipeline").execute_in_process(
        run_config=pipeline_run_config(), instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    return warehouse_env, result


@pytest.fixture
def warehouse_copy(built_warehouse, tmp_path, monkeypatch):
    """A copy of the built warehouse for a test that writes to it, with its inbox folder in the test's tmp."""
    import shutil

    path, _ = built_warehouse
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(path, copy)
    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(copy))
    monkeypatch.setenv("MICROSEG_INBOX", str(tmp_path / "inbox"))
    (tmp_path / "inbox").mkdir()
    return copy


def run_on_sources(root: Path, job: str = "full_pipeline"):
    """Run ``job`` on the user's sources file ``root/sources.yml`` (demo off) into ``root/warehouse.duckdb``,
    with the fast segmentation settings; the environment is restored afterwards. Returns the result."""
    import dagster as dg

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROSEG_WAREHOUSE", str(root / "warehouse.duckdb"))
        mp.setenv("MICROSEG_DEMO", "0")
        mp.setenv("MICROSEG_SOURCES", str(root / "sources.yml"))
        mp.delenv("MICROSEG_LANDING", raising=False)
        return load_defs().resolve_job_def(job).execute_in_process(
            run_config={"ops": {"customer_segmentation": {"config": FAST_SEGMENTATION}}},
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def query(path: Path, sql: str, params: list | None = None):
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).df()


@pytest.fixture
def sql(built_warehouse):
    """Run a query read-only against the built warehouse and return a DataFrame."""
    path, _ = built_warehouse
    return lambda q, params=None: query(path, q, params)


def pytest_configure(config):
    """The product's list of library warnings a user cannot act on, as pytest's own filters: pytest resets the
    filters around every test, and applies these to its fixtures' setup too (the shared runs included)."""
    from orchestration.lib.warnings import IGNORED

    for category, message in IGNORED:
        config.addinivalue_line("filterwarnings", f"ignore:{message}:{category.__module__}.{category.__qualname__}")


def pytest_collection_modifyitems(items):
    """Modules whose Dagster steps start and stop their own Spark JVMs (``RUNS_SPARK_STEPS``) run after the ones
    reading what the shared runs left (tests/spark/conftest.py ``spark``, a session per module): they change
    Spark's tables, and the Derby metastore admits one JVM at a time. The order is otherwise kept."""
    items.sort(key=lambda item: bool(getattr(getattr(item, "module", None), "RUNS_SPARK_STEPS", False)))
