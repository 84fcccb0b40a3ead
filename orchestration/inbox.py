"""Users' own exports dropped into the inbox folder ($MICROSEG_INBOX, default data/inbox).

A file is matched to a raw table by its name (``orders_2026-11-22.csv`` -> raw.orders)
and appended to it after its columns are checked against the table's. Staging
dedupes, so a file loaded twice cannot double-count.
"""

import os
from pathlib import Path

import duckdb

from ml.synthetic import RAW_TABLES
from orchestration.warehouse import PROJECT_ROOT

INBOX_ENV = "MICROSEG_INBOX"
SUFFIXES = {".csv": "read_csv", ".parquet": "read_parquet"}


def inbox_path() -> Path:
    path = Path(os.environ.get(INBOX_ENV) or "data/inbox").expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def table_for_file(path: Path) -> str | None:
    """The raw table a file feeds, from its name; None when it matches no table or format."""
    if path.suffix.lower() not in SUFFIXES:
        return None
    stem = path.name.lower()
    # longest name first, so order_items_*.csv is not taken for orders
    for table in sorted(RAW_TABLES, key=len, reverse=True):
        if stem == f"{table}{path.suffix.lower()}" or stem.startswith(f"{table}_") or stem.startswith(f"{table}."):
            return table
    return None


def append_files(con: duckdb.DuckDBPyConnection, files: list[Path]) -> dict[str, int]:
    """Append each file to its raw table in the caller's transaction; errors name file, column and row."""
    loaded: dict[str, int] = {}
    for path in files:
        table = table_for_file(path)
        if table is None:
            raise ValueError(f"{path}: no raw table matches this file name; name it <table>[_anything].csv|parquet "
                             f"with <table> one of {', '.join(RAW_TABLES)}")
        if not path.exists():
            raise FileNotFoundError(f"{path}: file not found")
        reader = SUFFIXES[path.suffix.lower()]
        source = f"{reader}('{str(path).replace(chr(39), chr(39) * 2)}')"
        incoming = {r[0] for r in con.execute(f"describe select * from {source}").fetchall()}
        expected = [r[0] for r in con.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
            "order by ordinal_position", [table]).fetchall()]
        if not expected:
            raise ValueError(f"{path}: raw.{table} does not exist yet; load the demo data or a full export first")
        missing = [c for c in expected if c not in incoming]
        if missing:
            raise ValueError(f"{path}: missing columns {missing} required by raw.{table} "
                             f"(file has {sorted(incoming)})")
        before = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
        try:
            con.execute(f"insert into raw.{table} by name select {', '.join(expected)} from {source}")
        except duckdb.Error as exc:  # conversion errors from DuckDB name the column and line
            raise ValueError(f"{path}: could not load into raw.{table}: {exc}") from exc
        loaded[table] = loaded.get(table, 0) + con.execute(f"select count(*) from raw.{table}").fetchone()[0] - before
    return loaded
