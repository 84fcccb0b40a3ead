"""The one place that knows how to read and write the warehouse.

DuckDB allows a single writing process per file, and an open session blocks
writers, so every helper here opens a connection, does its work and closes it.
Tables are replaced inside one transaction: a reader sees the old tables or the
new ones, never half of either.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import duckdb
import pandas as pd

from orchestration.lib.settings import warehouse_path


@contextmanager
def connect(read_only: bool = False, path: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    path = path or warehouse_path()
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
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


def query_df(sql: str, params: list | None = None, path: Path | None = None) -> pd.DataFrame:
    with connect(read_only=True, path=path) as con:
        return con.execute(sql, params or []).df()


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
        have = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                          "where table_schema = ? and table_name = ?", [schema, name]).fetchall()}
        for column, sql_type, *_ in con.execute(f"describe select {_select_list(df)} from _incoming").fetchall():
            if column not in have:
                con.execute(f'alter table {schema}.{name} add column "{column}" {sql_type}')
        con.execute(f"insert into {schema}.{name} by name select {_select_list(df)} from _incoming")
        con.unregister("_incoming")
