"""Users' export files into the ``raw`` tables, with DuckDB's own readers and a load ledger.

Two ways in, one loader:
- full exports in the landing folder, one folder per source (``<landing>/<source>/<table>.csv``):
  each load *replaces that source's rows* of the table, never another source's;
- incremental files (the inbox, or files named in the launchpad): *appended*.

Every raw row carries where it came from (``_source``, ``_file``, ``_loaded_at``) and every
load is a row of ``raw._loads`` with the file's content hash, so a file already loaded is not
loaded again and a user's rows are never replaced by another source's export (the demo is just
the source called "demo").
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import duckdb

from orchestration.lib.contract import ENTITIES

READERS = {".csv": "read_csv", ".parquet": "read_parquet"}
PROVENANCE_COLUMNS = {"_source": "varchar", "_file": "varchar", "_loaded_at": "timestamp"}
LEDGER = "raw._loads"
APPEND, REPLACE = "append", "replace"


@dataclass(frozen=True)
class LoadedFile:
    source: str
    table: str
    file: str
    sha256: str
    rows: int
    mode: str
    skipped: bool  # already loaded with the same content


def table_for_file(path: Path, tables: Iterable[str]) -> str | None:
    """The raw table a file feeds, from its name (``orders_2026-11-22.csv`` -> orders); None when none matches."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        return None
    name = path.name.lower()
    # longest name first, so order_items_*.csv is not taken for orders
    for table in sorted(tables, key=len, reverse=True):
        if name == f"{table}{suffix}" or name.startswith(f"{table}_") or name.startswith(f"{table}."):
            return table
    return None


def landing_sources(landing: Path) -> dict[str, list[Path]]:
    """Each folder under the landing folder is a source; its export files, sorted by name."""
    if not landing.is_dir():
        return {}
    return {
        folder.name: sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in READERS)
        for folder in sorted(landing.iterdir()) if folder.is_dir() and not folder.name.startswith(".")
    }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _reader(path: Path) -> str:
    return f"{READERS[path.suffix.lower()]}({_literal(str(path))})"


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
        "order by ordinal_position", [table]).fetchall()]


LEDGER_COLUMNS = {"source": "varchar", "raw_table": "varchar", "file": "varchar", "sha256": "varchar",
                  "rows": "bigint", "mode": "varchar", "loaded_at": "timestamp", "dagster_run_id": "varchar",
                  "entity": "varchar", "rows_read": "bigint", "rows_quarantined": "bigint"}


def _ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """raw._loads: one row per file loaded (rows = rows loaded; read = loaded + quarantined)."""
    con.execute("create schema if not exists raw")
    con.execute(f"create table if not exists {LEDGER} "
                f"({', '.join(f'{c} {t}' for c, t in LEDGER_COLUMNS.items())})")
    existing = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                          "where table_schema = 'raw' and table_name = '_loads'").fetchall()}
    for column, sql_type in LEDGER_COLUMNS.items():
        if column not in existing:
            con.execute(f"alter table {LEDGER} add column {column} {sql_type}")


def _already_loaded(con: duckdb.DuckDBPyConnection, source: str, table: str, sha: str) -> bool:
    return bool(con.execute(f"select count(*) from {LEDGER} where source = ? and raw_table = ? and sha256 = ?",
                            [source, table, sha]).fetchone()[0])


def _file_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    try:
        return [r[0] for r in con.execute(f"describe select * from {_reader(path)}").fetchall()]
    except duckdb.Error as exc:
        raise ValueError(f"{path}: cannot be read as {path.suffix.lower()[1:]}: {exc}") from exc


def _insert(con: duckdb.DuckDBPyConnection, table: str, files: list[Path], source: str, loaded_at: dt.datetime) -> int:
    """Insert ``files`` into raw.<table> (creating it from the first file if new); rows inserted."""
    existing = _columns(con, table)
    expected = [c for c in existing if c not in PROVENANCE_COLUMNS]
    for column, sql_type in PROVENANCE_COLUMNS.items():
        if existing and column not in existing:  # a table made before provenance was recorded
            con.execute(f"alter table raw.{table} add column {column} {sql_type}")
    rows = 0
    for path in files:
        incoming = _file_columns(con, path)
        if not expected:
            expected = incoming
            con.execute(f"create table raw.{table} as select *, cast(null as varchar) as _source, "
                        f"cast(null as varchar) as _file, cast(null as timestamp) as _loaded_at "
                        f"from {_reader(path)} where false")
        absent_ok = {c.name for c in ENTITIES.get(table, ()) if c.may_be_absent}
        missing = [c for c in expected if c not in incoming and c not in absent_ok]
        if missing:
            raise ValueError(f"{path}: missing columns {missing} required by raw.{table} (file has {incoming})")
        # columns the contract lets an export lack load as NULL (insert by name)
        select = ", ".join(f'"{c}"' for c in expected if c in incoming)
        try:
            (inserted,) = con.execute(
                f"insert into raw.{table} by name select {select}, {_literal(source)} as _source, "
                f"{_literal(path.name)} as _file, ? as _loaded_at from {_reader(path)}", [loaded_at]).fetchone()
        except duckdb.Error as exc:  # conversion errors from DuckDB name the column and line
            raise ValueError(f"{path}: could not load into raw.{table}: {exc}") from exc
        rows += inserted
    return rows


def load_files(con: duckdb.DuckDBPyConnection, files: list[Path], *, source: str, mode: str, tables: Iterable[str],
               run_id: str | None = None) -> list[LoadedFile]:
    """Load ``files`` from ``source`` into their raw tables, in the caller's transaction.

    ``replace``: the files are the source's full export of each table they match; that source's
    rows are replaced (other sources' rows are untouched). Skipped when every file's content is
    what the last load of that table from that source had. ``append``: each file not loaded
    before (by content hash) is added. Errors name the file and what is wrong with it.
    """
    if mode not in (APPEND, REPLACE):
        raise ValueError(f"load mode must be {APPEND!r} or {REPLACE!r}, not {mode!r}")
    tables = list(tables)
    by_table: dict[str, list[Path]] = {}
    for path in files:
        table = table_for_file(path, tables)
        if table is None:
            raise ValueError(f"{path}: no raw table matches this file name; name it <table>[_anything].csv|parquet "
                             f"with <table> one of {', '.join(sorted(tables))}")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file not found")
        by_table.setdefault(table, []).append(path)

    _ensure_ledger(con)
    loaded_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    results: list[LoadedFile] = []
    for table, paths in by_table.items():
        hashes = {p: sha256_of(p) for p in paths}
        if mode == REPLACE:
            last = con.execute(
                f"select list(sha256 order by sha256) from {LEDGER} where source = ? and raw_table = ? and mode = ? "
                f"and loaded_at = (select max(loaded_at) from {LEDGER} where source = ? and raw_table = ?)",
                [source, table, REPLACE, source, table]).fetchone()[0]
            if last and sorted(last) == sorted(hashes.values()) and _columns(con, table):
                results += [LoadedFile(source, table, p.name, h, 0, mode, True) for p, h in hashes.items()]
                continue
            if "_source" in _columns(con, table):
                (others,) = con.execute(f"select count(*) from raw.{table} where _source is distinct from ?",
                                        [source]).fetchone()
                # only this source's rows: drop and re-create (cheaper than deleting millions of rows)
                con.execute(f"drop table raw.{table}" if others == 0 else
                            f"delete from raw.{table} where _source = {_literal(source)}")
            todo = paths
        else:
            todo = [p for p in paths if not _already_loaded(con, source, table, hashes[p])]
            results += [LoadedFile(source, table, p.name, hashes[p], 0, mode, True) for p in paths if p not in todo]
        for path in todo:
            rows = _insert(con, table, [path], source, loaded_at)
            con.execute(f"insert into {LEDGER} (source, raw_table, file, sha256, rows, mode, loaded_at, "
                        f"dagster_run_id, entity, rows_read, rows_quarantined) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                        [source, table, path.name, hashes[path], rows, mode, loaded_at, run_id, table, rows])
            results.append(LoadedFile(source, table, path.name, hashes[path], rows, mode, False))
    return results
