"""Metadata helpers: what a user sees about a table in the Dagster UI."""

from __future__ import annotations

from typing import Mapping

import dagster as dg
import duckdb
import pandas as pd


def table_schema(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dg.TableSchema:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return dg.TableSchema(columns=[dg.TableColumn(name, dtype) for name, dtype in rows])


def table_metadata(con: duckdb.DuckDBPyConnection, schema: str, table: str,
                   column_types: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, object]:
    """Row count, column schema and table name, under Dagster's standard metadata keys.

    ``column_types`` ({column: {"data_type": ...}}, as ``column_lineage.column_types`` reads them
    for every table at once) saves a query per table when the caller has it already.
    """
    (rows,) = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
    columns = (dg.TableSchema(columns=[dg.TableColumn(name, t["data_type"]) for name, t in column_types.items()])
               if column_types is not None else table_schema(con, schema, table))
    return {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/column_schema": columns,
        "dagster/table_name": f"{schema}.{table}",
    }


def markdown_table(df: pd.DataFrame, max_rows: int = 50) -> dg.MetadataValue:
    return dg.MetadataValue.md(df.head(max_rows).to_markdown(index=False))


def frame_metadata(df: pd.DataFrame, table_name: str) -> dict[str, object]:
    """The same standard keys as ``table_metadata``, from a frame just published (no query)."""
    return {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(str(c), str(t)) for c, t in df.dtypes.items()]),
        "dagster/table_name": table_name,
    }
