"""The few SQL operations a step does over warehouse tables, on either engine: the one home of how DuckDB and
Spark differ in running them.

A step asks its warehouse for short sessions (``session``) and for one publish (``publishing``), and speaks
the portable SQL of ``ml`` in the session's ``dialect``. DuckDB: a connection per session (never held open
between steps), the publish one transaction. Spark: the step's one SparkSession (the Derby metastore admits a
single JVM), tables as Parquet; Spark's tables have no transactions, so a publish writes every replaced table
aside (``<table>__next``) and swaps them in only when all of them are written, then appends the history rows.
A failure while writing leaves the published tables as they were; one during the swap (a metastore rename
failing) can leave some tables of the new result beside some of the old, with no ledger row for the new run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import contextmanager
from typing import Iterator, Mapping, Protocol

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa

from orchestration.lib.metadata import table_metadata
from orchestration.lib.warehouse import connect, fetch_df, fetch_df_chunks, has_table, transaction, write_frames


class SqlSession(Protocol):
    dialect: str

    def df(self, sql: str) -> pd.DataFrame: ...
    def one(self, sql: str) -> tuple: ...
    def rows(self, sql: str) -> list[tuple]: ...
    def run(self, sql: str) -> None: ...
    def has_table(self, schema: str, name: str) -> bool: ...
    def columns(self, relation: str) -> list[str]: ...
    def create_table_as(self, name: str, select: str) -> None: ...
    def write_frame(self, name: str, frame: pd.DataFrame, append: bool = False) -> None: ...
    def chunks(self, sql: str, rows: int) -> Iterator[pd.DataFrame]: ...


class Publisher(Protocol):
    sql: SqlSession  # reads inside the publish: what it has written, before anyone else sees it

    def previous(self, table: str, columns: str) -> str: ...
    def written(self, table: str) -> str: ...
    def table_as(self, table: str, select: str) -> None: ...
    def frames(self, replace: Mapping[str, pd.DataFrame], append: Mapping[str, pd.DataFrame]) -> None: ...
    def metadata(self, table: str) -> dict[str, object]: ...


# --- DuckDB ------------------------------------------------------------------------------------------------
class DuckDBSession:
    dialect = "ansi"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def df(self, sql: str) -> pd.DataFrame:
        return fetch_df(self.con, sql)

    def one(self, sql: str) -> tuple:
        return self.con.execute(sql).fetchone()

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def run(self, sql: str) -> None:
        self.con.execute(sql)

    def has_table(self, schema: str, name: str) -> bool:
        return has_table(self.con, schema, name)

    def columns(self, relation: str) -> list[str]:
        return [d[0] for d in self.con.execute(f"select * from {relation} limit 0").description]

    def create_table_as(self, name: str, select: str) -> None:
        self.con.execute(f"create schema if not exists {name.split('.')[0]}")
        self.con.execute(f"create or replace table {name} as {select}")

    def write_frame(self, name: str, frame: pd.DataFrame, append: bool = False) -> None:
        # as Arrow: DuckDB reads pandas' Arrow-backed text columns value by value (300k explanation rows:
        # 0.44 s as a frame, 0.20 s as Arrow)
        self.con.register("_frame", pa.Table.from_pandas(frame, preserve_index=False))
        verb = f"insert into {name}" if append else f"create or replace table {name} as"
        self.con.execute(f"{verb} select * from _frame")
        self.con.unregister("_frame")

    def chunks(self, sql: str, rows: int) -> Iterator[pd.DataFrame]:
        reader = self.con.cursor()  # its own session: the chunks stream while this one writes
        try:
            yield from fetch_df_chunks(reader, sql, rows)
        finally:
            reader.close()


class DuckDBPublisher:
    def __init__(self, con: duckdb.DuckDBPyConnection, schema: str):
        self.con, self.schema = con, schema
        self.sql = DuckDBSession(con)  # the transaction's own connection

    def previous(self, table: str, columns: str) -> str:
        """A relation holding ``columns`` of the table as published before this publish replaces it (call it
        first): a temporary copy, since the transaction reads its own replacement."""
        self.con.execute(f"create or replace temp table previous_{table} as select {columns} "
                         f"from {self.schema}.{table}")
        return f"previous_{table}"

    def written(self, table: str) -> str:
        return f"{self.schema}.{table}"

    def table_as(self, table: str, select: str) -> None:
        self.con.execute(f"create or replace table {self.schema}.{table} as {select}")

    def frames(self, replace: Mapping[str, pd.DataFrame], append: Mapping[str, pd.DataFrame]) -> None:
        write_frames(self.con, self.schema, replace=replace, append=append)

    def metadata(self, table: str) -> dict[str, object]:
        return table_metadata(self.con, self.schema, table)


class DuckDBWarehouse:
    """The DuckDB file: a connection per session, closed when it ends; the publish one transaction."""
    dialect = "ansi"

    def __init__(self, path):
        self.path = path

    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[SqlSession]:
        with connect(read_only=read_only, path=self.path) as con:
            yield DuckDBSession(con)

    @contextmanager
    def publishing(self, schema: str) -> Iterator[Publisher]:
        with transaction(schema, path=self.path) as con:
            yield DuckDBPublisher(con, schema)


# --- Spark -------------------------------------------------------------------------------------------------
def _pandas(frame) -> pd.DataFrame:
    """A Spark DataFrame collected as pandas, decimals as floats (Spark types some literals and sums as
    DECIMAL; DuckDB's are DOUBLE, and the fit needs numbers, not objects)."""
    from pyspark.sql.types import DecimalType

    out = frame.toPandas()
    for field in frame.schema.fields:
        if isinstance(field.dataType, DecimalType):
            out[field.name] = pd.to_numeric(out[field.name], errors="coerce").astype("float64")
    return out


def _spark_type(column: pd.Series) -> str:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    # a column of datetime.date (DuckDB's DATE as pandas has it) stays a date, not its text
    values = column.dropna()
    if len(values) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in values):
        return "date"
    return "string"


def _spark_frame(spark, frame: pd.DataFrame):
    """A pandas frame as a Spark DataFrame, typed from its dtypes (Spark cannot infer a type from a column of
    no rows or only missing values); pandas' own missing markers (pd.NA, NaN in text) as None."""
    types = {c: _spark_type(frame[c]) for c in frame.columns}
    schema = ", ".join(f"`{c}` {t}" for c, t in types.items())
    if not len(frame):
        return spark.createDataFrame([], schema)
    plain = frame.astype({c: object for c, t in types.items() if t != "double"})
    plain = plain.where(plain.notna(), None)
    for column, dtype in frame.dtypes.items():
        if pd.api.types.is_datetime64_any_dtype(dtype):  # Spark takes datetime itself, not pandas' subclass
            plain[column] = [None if pd.isna(t) else t.to_pydatetime() for t in plain[column]]
    return spark.createDataFrame(plain, schema)


ASIDE = "__next"  # the suffix of a table a Spark publish has written but not yet swapped in
CHUNK_SCHEMA = "chunk_work"  # Spark's work tables of a chunked read, dropped when it ends


class SparkSqlSession:
    dialect = "spark"

    def __init__(self, spark):
        self.spark = spark

    def df(self, sql: str) -> pd.DataFrame:
        return _pandas(self.spark.sql(sql))

    def one(self, sql: str) -> tuple:
        row = self.spark.sql(sql).first()
        return None if row is None else tuple(row)

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def run(self, sql: str) -> None:
        self.spark.sql(sql)

    def has_table(self, schema: str, name: str) -> bool:
        return self.spark.catalog.tableExists(f"{schema}.{name}")

    def columns(self, relation: str) -> list[str]:
        return self.spark.sql(f"select * from {relation} limit 0").columns

    def create_table_as(self, name: str, select: str) -> None:
        # Hive's Parquet tables have no CREATE OR REPLACE
        self.spark.sql(f"create database if not exists {name.split('.')[0]}")
        self.spark.sql(f"drop table if exists {name}")
        self.spark.sql(f"create table {name} using parquet as {select}")

    def write_frame(self, name: str, frame: pd.DataFrame, append: bool = False) -> None:
        _spark_frame(self.spark, frame).write.mode("append" if append else "overwrite") \
            .format("parquet").saveAsTable(name)

    def chunks(self, sql: str, rows: int) -> Iterator[pd.DataFrame]:
        """The rows of ``sql`` about ``rows`` at a time, so the driver never holds the whole result: it is
        written once into a work table partitioned into that many buckets by a hash of customer_id, and each
        bucket is read from its own files (a filter on a cached result would scan all of it per bucket)."""
        (total,) = self.spark.sql(f"select count(*) from ({sql}) as counted").first()
        buckets = max(1, -(-int(total) // rows))
        table = f"{CHUNK_SCHEMA}.chunks_{uuid.uuid4().hex}"
        self.run(f"create database if not exists {CHUNK_SCHEMA}")
        self.run(f"create table {table} using parquet partitioned by (bucket__) as "
                 f"select *, pmod(hash(customer_id), {buckets}) as bucket__ from ({sql}) as b")
        try:
            for bucket in range(buckets):
                chunk = _pandas(self.spark.table(table).where(f"bucket__ = {bucket}").drop("bucket__"))
                if len(chunk):
                    yield chunk
        finally:
            self.run(f"drop table if exists {table}")


class SparkPublisher:
    """Writes aside, then swaps in: see the module's docstring for what a failure leaves."""

    def __init__(self, session: SparkSqlSession, schema: str):
        self.session, self.schema = session, schema
        self.sql = session
        self.aside: list[str] = []
        self.appended: dict[str, pd.DataFrame] = {}

    def previous(self, table: str, columns: str) -> str:
        """A view of the published table itself: its replacement is written aside until the swap."""
        self.session.run(f"create or replace temporary view previous_{table} as select {columns} "
                         f"from {self.schema}.{table}")
        return f"previous_{table}"

    def written(self, table: str) -> str:
        return f"{self.schema}.{table}{ASIDE}" if table in self.aside else f"{self.schema}.{table}"

    def _next(self, table: str) -> str:
        self.aside.append(table)
        return f"{self.schema}.{table}{ASIDE}"

    def table_as(self, table: str, select: str) -> None:
        self.session.create_table_as(self._next(table), select)

    def frames(self, replace: Mapping[str, pd.DataFrame], append: Mapping[str, pd.DataFrame]) -> None:
        for table, frame in replace.items():
            self.session.write_frame(self._next(table), frame)
        self.appended.update(append)

    def swap(self) -> None:
        spark = self.session.spark
        for table in self.aside:
            spark.sql(f"drop table if exists {self.schema}.{table}")
            spark.sql(f"alter table {self.schema}.{table}{ASIDE} rename to {self.schema}.{table}")
        for table, frame in self.appended.items():  # the history rows last: a run is in the ledger once published
            name = f"{self.schema}.{table}"
            if self.session.has_table(self.schema, table):
                have = spark.table(name).columns
                new = [c for c in frame.columns if c not in have]
                if new:  # a history table made by an earlier version gains the columns added since
                    spark.sql(f"alter table {name} add columns ("
                              + ", ".join(f"`{c}` {_spark_type(frame[c])}" for c in new) + ")")
                fields = spark.table(name).schema.fields
                # in the table's order and types: a column this step does not write (a mark a later step sets,
                # like scoring_runs.completed_at) arrives as NULL text and is cast to the table's type
                rows = _spark_frame(spark, frame.reindex(columns=[f.name for f in fields]))
                rows.selectExpr(*[f"cast(`{f.name}` as {f.dataType.simpleString()}) as `{f.name}`"
                                  for f in fields]).write.insertInto(name)
            else:
                self.session.write_frame(name, frame)

    def discard(self) -> None:
        for table in self.aside:
            self.session.spark.sql(f"drop table if exists {self.schema}.{table}{ASIDE}")

    def metadata(self, table: str) -> dict[str, object]:
        frame = self.session.spark.table(self.written(table))
        return {
            "dagster/row_count": dg.MetadataValue.int(int(frame.count())),
            "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(f.name, f.dataType.simpleString())
                                                             for f in frame.schema.fields]),
            "dagster/table_name": f"{self.schema}.{table}",
        }


class SparkWarehouse:
    """The step's SparkSession: every session is it; the publish writes aside and swaps in at the end."""
    dialect = "spark"

    def __init__(self, spark):
        self.spark = spark

    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[SqlSession]:
        yield SparkSqlSession(self.spark)

    @contextmanager
    def publishing(self, schema: str) -> Iterator[Publisher]:
        session = SparkSqlSession(self.spark)
        session.run(f"create database if not exists {schema}")
        publisher = SparkPublisher(session, schema)
        try:
            yield publisher
        except BaseException:
            publisher.discard()
            raise
        publisher.swap()


@contextmanager
def open_warehouse(on_spark: bool, duckdb_path) -> Iterator[DuckDBWarehouse | SparkWarehouse]:
    """The run's engine for one step: the DuckDB file, or a SparkSession started for the step and stopped with
    its JVM when the step ends (``orchestration.lib.spark.step_session``)."""
    if not on_spark:
        yield DuckDBWarehouse(duckdb_path)
        return
    from orchestration.lib.spark import step_session

    with step_session() as spark:
        yield SparkWarehouse(spark)
