"""One home for the settings every room shares: where things live, the demo switch, the writer pool.

Every path comes from an environment variable with a default beside the warehouse
file, so dbt, Dagster, the CLI and the tests agree without passing paths around.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

WAREHOUSE_ENV = "MICROSEG_WAREHOUSE"  # the DuckDB file; dbt's profiles.yml reads the same variable
LANDING_ENV = "MICROSEG_LANDING"  # full exports, one folder per source: <landing>/<source>/<table>.csv|parquet
INBOX_ENV = "MICROSEG_INBOX"  # incremental files the inbox sensor appends: <table>[_anything].csv|parquet
DEMO_ENV = "MICROSEG_DEMO"  # "1" loads the demo generator and its checks (make run turns it on)
SOURCES_ENV = "MICROSEG_SOURCES"  # a sources file mapping a retailer's exports onto the input contract
EXPORTS_ENV = "MICROSEG_EXPORTS"  # audience exports, one folder per run: <exports>/<export_id>/
REPORTS_ENV = "MICROSEG_REPORTS"  # the segment report: <reports>/<result_id>/index.html and latest/index.html
SPARK_DIR_ENV = "MICROSEG_SPARK_DIR"  # the Spark target's Parquet warehouse and metastore (profiles.yml reads it too)
ENGINE_ENV = "MICROSEG_ENGINE"  # where the feature build runs, unless the run's `engine` resource says otherwise
DUCKDB, SPARK = "duckdb", "spark"  # the engines; each is also the name of its dbt target in profiles.yml
ENGINES = (DUCKDB, SPARK)

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
SNAPSHOT_ENV = "MICROSEG_SNAPSHOT"  # the published read-only copy `make sql` opens (default: beside the warehouse)
LOCK_WAIT_ENV = "MICROSEG_LOCK_WAIT_SECONDS"  # how long a writer waits for a lock another process holds
DEFAULT_LOCK_WAIT_SECONDS = 180.0
# DuckDB's own default is 80% of the machine's memory, per process: with a Python step's frames beside it,
# a 10M-customer build would run the machine out of memory (no swap). Beyond the limit DuckDB spills to disk.
# Not lower by default: a 3 GB cap kept the 1M pipeline at 3.94 GB in no more time, but at 10M it made dbt's
# joins spill (24 GB of spill files, the checked order lines 380 s), so 1M runs on small machines set it.
DUCKDB_MEMORY_ENV = "MICROSEG_DUCKDB_MEMORY_LIMIT"
DEFAULT_DUCKDB_MEMORY_SHARE = 0.5

# DuckDB allows one writing process per file: every asset that writes the warehouse runs in
# this pool, and dagster.yaml gives pools one slot, so writers queue instead of colliding.
WAREHOUSE_POOL = "duckdb_warehouse"
OWNERS = ["team:marketing-analytics"]
# the published snapshot's asset, the last step of every job: the scoring asks when it last ran
PUBLISHED_SNAPSHOT_ASSET = ("snapshot", "published_warehouse")


def _from_root(path: str) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def warehouse_path() -> Path:
    """Absolute warehouse path from ``MICROSEG_WAREHOUSE`` (relative paths are from the repo root)."""
    return _from_root(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE)


def snapshot_path(warehouse: Path | None = None) -> Path:
    """The published snapshot analysts query: ``MICROSEG_SNAPSHOT``, else ``<warehouse>.published.duckdb`` beside it."""
    value = os.environ.get(SNAPSHOT_ENV)
    return _from_root(value) if value else (warehouse or warehouse_path()).with_suffix(".published.duckdb")


def lock_wait_seconds() -> float:
    """``MICROSEG_LOCK_WAIT_SECONDS`` (default 180): the bounded total wait for a DuckDB file lock."""
    value = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        return float(value) if value else DEFAULT_LOCK_WAIT_SECONDS
    except ValueError:
        raise ValueError(f"{LOCK_WAIT_ENV} must be a number of seconds, not {value!r}") from None


def duckdb_memory_limit() -> str:
    """``MICROSEG_DUCKDB_MEMORY_LIMIT`` (e.g. ``4GB``), else half this machine's memory: every DuckDB session's cap,
    dbt's included (profiles.yml reads the same variable)."""
    return os.environ.get(DUCKDB_MEMORY_ENV, "").strip() or default_duckdb_memory_limit()


def default_duckdb_memory_limit() -> str:
    """Half this machine's memory (at least 512 MB): the cap when ``MICROSEG_DUCKDB_MEMORY_LIMIT`` is not set."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(int(total * DEFAULT_DUCKDB_MEMORY_SHARE / 2**20), 512)}MB"


def _beside_warehouse(env: str, folder: str) -> Path:
    """The folder ``$env`` names (relative paths are from the repo root), else ``<folder>/`` beside the warehouse."""
    value = os.environ.get(env)
    return _from_root(value) if value else warehouse_path().parent / folder


def landing_path() -> Path:
    """Folder of full exports: ``MICROSEG_LANDING``, else ``landing/`` beside the warehouse."""
    return _beside_warehouse(LANDING_ENV, "landing")


def inbox_path() -> Path:
    """Folder the inbox sensor watches: ``MICROSEG_INBOX``, else ``inbox/`` beside the warehouse."""
    return _beside_warehouse(INBOX_ENV, "inbox")


def exports_path() -> Path:
    """Folder of audience exports: ``MICROSEG_EXPORTS``, else ``exports/`` beside the warehouse."""
    return _beside_warehouse(EXPORTS_ENV, "exports")


def reports_path() -> Path:
    """Folder of the static segment reports: ``MICROSEG_REPORTS``, else ``reports/`` beside the warehouse."""
    return _beside_warehouse(REPORTS_ENV, "reports")


def spark_path() -> Path:
    """The Spark target's folder (warehouse/, metastore_db/, raw exports): ``MICROSEG_SPARK_DIR``, else ``spark/``
    beside the warehouse."""
    return _beside_warehouse(SPARK_DIR_ENV, "spark")


def engine_name(value: str, where: str) -> str:
    """``value`` as an engine name (case and spaces ignored); anything else is refused naming ``where`` it was set."""
    name = value.strip().lower()
    if name not in ENGINES:
        raise ValueError(f"{where} must be one of {', '.join(ENGINES)}, not {value!r}")
    return name


def configured_engine() -> str:
    """``MICROSEG_ENGINE``, else duckdb: the engine a run uses when its ``engine`` resource is not configured."""
    return engine_name(os.environ.get(ENGINE_ENV) or DUCKDB, f"${ENGINE_ENV}")


def sources_file() -> Path | None:
    """The sources file from ``MICROSEG_SOURCES`` (relative paths are from the repo root), if one is set."""
    value = os.environ.get(SOURCES_ENV, "").strip()
    return _from_root(value) if value else None


def demo_mode() -> bool:
    """True when ``MICROSEG_DEMO`` is set to 1/true/yes: the demo generator's assets and checks load."""
    return os.environ.get(DEMO_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def parse_as_of_date(value: str | None) -> dt.date | None:
    """A run's as-of date as a real date (None for 'not set'); anything else is refused with the value named.

    Dates reach SQL only after this, so a crafted string can never change a query.
    """
    if value is None or not str(value).strip():
        return None
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"as_of_date must be a date written YYYY-MM-DD, not {value!r}") from None
