"""The one place that knows how to read and write the warehouse.

DuckDB allows a single writing process per file, and an open session blocks
writers, so every helper here opens a connection, does its work and closes it.
A lock another process holds (an analyst's session on the live file) is waited
for with backoff, up to MICROSEG_LOCK_WAIT_SECONDS, naming the file and the PID.
Tables are replaced inside one transaction: a reader sees the old tables or the
new ones, never half of either.
"""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import duckdb
import pandas as pd
import pyarrow as pa

from ml.scoring_sql import sql_string
from orchestration.lib.settings import (DUCKDB_MEMORY_ENV, LOCK_WAIT_ENV, duckdb_memory_limit, lock_wait_seconds,
                                        snapshot_path, warehouse_path)

log = logging.getLogger("microseg.warehouse")  # a Dagster-managed logger (dagster.yaml): its lines reach the run log
LOCK_ERROR = re.compile(r"Could not set lock|Conflicting lock", re.IGNORECASE)
FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS = 0.25, 5.0


def lock_holder(message: str) -> str:
    """"PID 123 (/usr/bin/duckdb)" out of DuckDB's lock error, or the message itself if it names none."""
    found = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    return f"PID {found.group(2)} ({found.group(1)})" if found else message


def open_with_retry(path: Path, read_only: bool = False,
                    wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, waiting with backoff while another process holds the file's lock; then a clear error."""
    budget = lock_wait_seconds() if wait_seconds is None else wait_seconds
    deadline, pause, told = time.monotonic() + budget, FIRST_RETRY_SECONDS, False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as error:
            if not LOCK_ERROR.search(str(error)):
                raise
            if time.monotonic() + pause > deadline:
                raise RuntimeError(
                    f"The warehouse {path} is still locked by {lock_holder(str(error))} after {budget:.0f} s. "
                    f"Close that session (analysts: query the published snapshot, `make sql`), "
                    f"or wait longer with {LOCK_WAIT_ENV}.") from error
            if not told:  # once per wait, not once per retry
                log.warning(f"The warehouse {path} is locked by {lock_holder(str(error))}; "
                            f"waiting up to {budget:.0f} s for it ({LOCK_WAIT_ENV}).")
                told = True
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_RETRY_SECONDS)
    return capped(con)


def capped(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The session capped at ``duckdb_memory_limit()`` (DuckDB's own default is 80% of memory per process)."""
    limit = duckdb_memory_limit()
    try:  # a SET, not a connect option: another session of this process may have opened the file without one
        con.execute(f"set memory_limit = {sql_string(limit)}")
    except duckdb.Error as error:
        con.close()
        raise ValueError(f"{DUCKDB_MEMORY_ENV} must be a size such as 4GB or 512MB, not {limit!r}") from error
    return con


@contextmanager
def connect(read_only: bool = False, path: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    path = path or warehouse_path()
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = open_with_retry(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def transaction(schema: str, path: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writing connection inside one transaction on ``schema``: committed on success, rolled back on any error."""
    with connect(path=path) as con:
        con.execute(f"create schema if not exists {schema}")
        con.execute("begin transaction")
        try:
            yield con
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise


def _select_list(df: pd.DataFrame) -> str:
    # pandas categoricals arrive as DuckDB ENUMs; raw exports are plain text, so cast them back.
    cols = []
    for name, dtype in df.dtypes.items():
        quoted = '"' + str(name).replace('"', '""') + '"'
        cols.append(f"cast({quoted} as varchar) as {quoted}" if isinstance(dtype, pd.CategoricalDtype) else quoted)
    return ", ".join(cols)


def replace_tables(schema: str, tables: Mapping[str, pd.DataFrame], path: Path | None = None) -> dict[str, int]:
    """Create or replace ``schema.<name>`` for every frame, all in one transaction; return row counts."""
    publish(schema, replace=tables, append={}, path=path)
    return {name: len(df) for name, df in tables.items()}


def replace_tables_from_sql(schema: str, selects: Mapping[str, str], path: Path | None = None) -> dict[str, int]:
    """Create or replace ``schema.<name>`` as each SELECT, all in one transaction, inside the warehouse.

    Nothing passes through Python, so this scales with DuckDB, not with pandas. Returns row counts.
    """
    with transaction(schema, path) as con:
        for name, select in selects.items():
            con.execute(f"create or replace table {schema}.{name} as {select}")
        return {name: con.execute(f"select count(*) from {schema}.{name}").fetchone()[0] for name in selects}


def has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, name]).fetchone()[0] > 0


def column_names(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> set[str]:
    """The columns ``schema.name`` has (none when there is no such table)."""
    return {r[0] for r in con.execute("select column_name from information_schema.columns "
                                      "where table_schema = ? and table_name = ?", [schema, name]).fetchall()}


def fetch_df(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """``sql``'s result as DuckDB's ``df()`` makes it, its text columns handed over through Arrow.

    ``df()`` makes a pandas string of each text value one at a time (at 1M customers the audiences' eight text
    columns took 2.9-4.2 s, through Arrow 1.4 s). Only the text columns take that path: Arrow's pandas differs
    from ``df()`` for the others (nullable integers and booleans, dates, decimals), so DuckDB converts those.
    """
    result = con.execute(sql, params or [])
    if not _has_text(result.description):
        return result.df()
    return _as_duckdb_df(con, result.to_arrow_table(), result.description)


def fetch_df_chunks(con: duckdb.DuckDBPyConnection, sql: str, rows: int) -> Iterator[pd.DataFrame]:
    """``fetch_df`` a chunk of about ``rows`` rows at a time."""
    result = con.execute(sql)
    description = result.description
    if not _has_text(description):
        while len(chunk := result.fetch_df_chunk(max(1, rows // duckdb.__standard_vector_size__))):
            yield chunk
        return
    converter = con.cursor()  # another query on ``con`` would end the stream
    try:
        for batch in result.to_arrow_reader(rows):
            yield _as_duckdb_df(converter, pa.Table.from_batches([batch]), description)
    finally:
        converter.close()


def _has_text(description) -> bool:
    names = [d[0] for d in description]
    # columns pandas could not tell apart are left to df()
    return "VARCHAR" in {str(d[1]) for d in description} and len(set(names)) == len(names)


def _as_duckdb_df(con: duckdb.DuckDBPyConnection, table: pa.Table, description) -> pd.DataFrame:
    # a text column with no value at all is left to DuckDB, whose df() makes it an object column of None
    text = [i for i, d in enumerate(description) if str(d[1]) == "VARCHAR" and table.column(i).null_count < len(table)]
    rest = sorted(set(range(len(description))) - set(text))
    parts = [table.select(text).to_pandas()] if text else []
    if rest:
        parts.append(con.from_arrow(table.select(rest)).df())
    return pd.concat(parts, axis=1)[[d[0] for d in description]]


def query_df(sql: str, params: list | None = None, path: Path | None = None) -> pd.DataFrame:
    with connect(read_only=True, path=path) as con:
        return fetch_df(con, sql, params)


def publish(schema: str, replace: Mapping[str, pd.DataFrame], append: Mapping[str, pd.DataFrame],
            path: Path | None = None) -> None:
    """Replace the ``replace`` tables and append to the ``append`` tables, all in one transaction.

    Readers see the previous results or the new ones, never a mix: a failure anywhere
    rolls everything back.
    """
    with transaction(schema, path) as con:
        write_frames(con, schema, replace=replace, append=append)


def write_frames(con: duckdb.DuckDBPyConnection, schema: str, replace: Mapping[str, pd.DataFrame],
                 append: Mapping[str, pd.DataFrame]) -> None:
    """Inside the caller's transaction: replace the ``replace`` tables, append to the ``append`` tables."""
    for name, df in replace.items():
        con.register("_incoming", df)
        con.execute(f"create or replace table {schema}.{name} as select {_select_list(df)} from _incoming")
        con.unregister("_incoming")
    for name, df in append.items():
        con.register("_incoming", df)
        con.execute(f"create table if not exists {schema}.{name} as "
                    f"select {_select_list(df)} from _incoming where false")
        # a history table made by an earlier version gains the columns added since (older rows: NULL)
        have = column_names(con, schema, name)
        for column, sql_type, *_ in con.execute(f"describe select {_select_list(df)} from _incoming").fetchall():
            if column not in have:
                con.execute(f'alter table {schema}.{name} add column "{column}" {sql_type}')
        con.execute(f"insert into {schema}.{name} by name select {_select_list(df)} from _incoming")
        con.unregister("_incoming")


PUBLISHED_SCHEMAS = ("marts", "segments", "segments_history", "audiences")  # what analysts query


def write_snapshot(source: Path | None = None, target: Path | None = None,
                   schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> dict[str, int]:
    """Copy the published schemas into a file of their own, written aside and renamed into place.

    Analysts open the snapshot, not the live warehouse, so their sessions never block a writer; a session
    already open keeps reading the old file (the rename leaves its inode alone), and nobody ever sees a
    snapshot half-written. Views are materialised as tables (they cannot point back at the live file).
    Returns each copied table's row count.
    """
    source = source or warehouse_path()
    target = target or snapshot_path(source)
    for stale in target.parent.glob(f"{target.name}.tmp-*"):  # left behind by a run killed mid-copy
        stale.unlink()
    aside = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    rows = {}
    # attached under the name dbt's views use for it (the file's stem), so the views resolve
    catalog = source.stem.replace('"', '""')
    # in memory: the warehouse attached read-only, the snapshot read-write; capped like every session (at 10M
    # the uncapped copy peaked at 19.2 GB) and spilling beside the snapshot, not into the working directory
    con = capped(duckdb.connect())
    try:
        con.execute(f"set temp_directory = {sql_string(str(target) + '.tmp')}")
        con.execute(f'attach {sql_string(source)} as "{catalog}" (read_only)')  # ATTACH takes no parameters
        con.execute(f"attach {sql_string(aside)} as published_snapshot__")
        tables = con.execute("select table_schema, table_name from information_schema.tables "
                             "where table_catalog = ? and table_schema in "
                             f"({', '.join('?' * len(schemas))}) order by all", [source.stem, *schemas]).fetchall()
        con.execute("begin transaction")  # one consistent read of every table
        for schema in sorted({s for s, _ in tables}):
            con.execute(f'create schema published_snapshot__."{schema}"')
        for schema, name in tables:
            copy = f'published_snapshot__."{schema}"."{name}"'
            con.execute(f'create table {copy} as select * from "{catalog}"."{schema}"."{name}"')
            rows[f"{schema}.{name}"] = con.execute(f"select count(*) from {copy}").fetchone()[0]
        con.execute("commit")
        con.execute("detach published_snapshot__")
    finally:
        con.close()
    os.replace(aside, target)
    return rows
