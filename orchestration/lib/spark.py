"""The Spark engine's pure helpers: its session, and the raw tables in Spark from the DuckDB load area.

Raw data reaches Spark through the same loader as DuckDB (orchestration/lib/loading.py), so the same
quarantine rules judge every row: the validated raw tables are exported from the DuckDB file to Parquet and
registered in Spark as ``raw.<table>`` over those files. The session's settings are the dbt profile's
(dbt_project/profiles.yml, target ``spark``): dbt-spark's session method and this module share one
SparkSession per process (``getOrCreate``), configured in one place. Needs the ``spark`` extra and Java 17.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ml.scoring_sql import quote_identifier, sql_string
from orchestration.lib.dbt import manifest
from orchestration.lib.settings import DBT_PROJECT_DIR, SPARK_DIR_ENV, spark_path
from orchestration.lib.warehouse import connect

RAW_SCHEMA = "raw"
SPARK_LOG_CONFIG_ENV = "MICROSEG_SPARK_LOG_CONFIG"  # Spark's log4j2 settings (profiles.yml reads it too)


def spark_settings(target: str = "spark") -> dict[str, str]:
    """The Spark settings of the dbt profile's ``target`` (its server_side_parameters), rendered as dbt
    renders them: ``env_var`` read now, with ``MICROSEG_SPARK_DIR`` made absolute first, so a session started
    here and dbt in this process agree on the warehouse folder and metastore."""
    import jinja2
    import yaml

    os.environ[SPARK_DIR_ENV] = str(spark_path())
    os.environ.setdefault(SPARK_LOG_CONFIG_ENV, str(DBT_PROJECT_DIR / "spark" / "log4j2.properties"))

    def env_var(name: str, default: str | None = None) -> str:
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise KeyError(f"{DBT_PROJECT_DIR / 'profiles.yml'}: env var {name} is not set and has no default")
        return default

    text = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    rendered = jinja2.Environment().from_string(text).render(env_var=env_var)
    output = yaml.safe_load(rendered)["microseg"]["outputs"][target]
    settings = {str(k): str(v) for k, v in output.get("server_side_parameters", {}).items()}
    settings["spark.sql.ansi.enabled"] = "false"  # dbt-spark forces this too; the same semantics either way
    return settings


def require_spark() -> None:
    """Refuse, saying what to install, when this machine cannot start Spark (checked before any work is done)."""
    missing = [what for what, ok in [
        ("pyspark (the spark extra: `uv sync --frozen --extra spark`, or `make test-spark`)",
         importlib.util.find_spec("pyspark") is not None),
        ("Java 17 (`apt-get install openjdk-17-jre-headless`, or JAVA_HOME)",
         bool(os.environ.get("JAVA_HOME") or shutil.which("java")))] if not ok]
    if missing:
        raise RuntimeError("The engine spark needs " + " and ".join(missing))


def spark_environment() -> dict[str, str]:
    """This process's environment made ready for Spark, here or in a dbt started from it (it inherits the
    environment): the Spark folder absolute and created, the log settings named. Returns the profile's settings."""
    # the machine's name may resolve to a loopback address: bind there, without Spark's warning about it
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = spark_settings()
    spark_path().mkdir(parents=True, exist_ok=True)
    return settings


def spark_session():
    """This process's SparkSession with the profile's settings (started once; later calls return it).

    Hive support as dbt-spark starts it: the catalog is the Derby metastore of the profile, so the databases
    dbt builds (staging, intermediate, marts, raw) are the ones this session sees."""
    from pyspark.sql import SparkSession

    settings = spark_environment()
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")  # Spark's INFO/WARN chatter (Hive, Derby, codegen) is not for users
    return session


def stop_spark(session) -> None:
    """Stop ``session`` and end the JVM behind it: the Derby metastore admits one JVM at a time and lets go only
    when its JVM ends, and the next step's dbt starts a JVM of its own. A later ``spark_session`` starts anew."""
    from pyspark import SparkContext

    session.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    process = getattr(gateway, "proc", None)  # pyspark keeps the JVM's process here; it exits when stdin closes
    if process is not None:
        process.stdin.close()
        process.wait(timeout=60)
    SparkContext._gateway = SparkContext._jvm = None


@contextmanager
def step_session() -> Iterator:
    """A SparkSession for one step, stopped with its JVM when the step is done (see ``stop_spark``). Refuses to
    borrow a session already running in this process: its metastore may be another folder's, and it is not ours
    to stop."""
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is not None:
        raise RuntimeError("A SparkSession is already running in this process: a step starts and stops its own")
    session = spark_session()
    try:
        yield session
    finally:
        stop_spark(session)


def source_tables() -> list[str]:
    """Every table the dbt sources declare in schema raw (the raw tables and the loader's audit tables)."""
    sources = manifest()["sources"].values()
    return sorted({s["name"] for s in sources if s["schema"] == RAW_SCHEMA})


@dataclass(frozen=True)
class RawExport:
    table: str
    rows: int
    path: Path


def export_raw_tables(warehouse: Path, folder: Path, tables: list[str] | None = None) -> list[RawExport]:
    """Each raw table of the DuckDB ``warehouse`` to ``folder/<table>/data.parquet`` (a Spark table's location is
    a folder), in one read-only session closed before returning (an open one would block the next writer). A
    table the sources declare but the load area never created is skipped; dbt names it if a model reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = tables or source_tables()
    exports = []
    with connect(read_only=True, path=warehouse) as con:  # the one home of sessions: lock waits, memory cap
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [RAW_SCHEMA]).fetchall()}
        for table in wanted:
            if table not in present:
                continue
            path = folder / table
            path.mkdir()
            name = f"{RAW_SCHEMA}.{quote_identifier(table)}"
            con.execute(f"copy (select * from {name}) to {sql_string(str(path / 'data.parquet'))} (format parquet)")
            (rows,) = con.execute(f"select count(*) from {name}").fetchone()
            exports.append(RawExport(table, rows, path))
    return exports


def register_raw_tables(spark, exports: list[RawExport]) -> None:
    """``raw.<table>`` in Spark over each exported Parquet file (replacing an earlier registration); the row
    count Spark reads must be the one DuckDB wrote, or the table is named in the error."""
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    for export in exports:
        name = f"{RAW_SCHEMA}.`{export.table}`"
        spark.sql(f"drop table if exists {name}")
        spark.sql(f"create table {name} using parquet location '{export.path.resolve().as_uri()}'")
        (rows,) = spark.sql(f"select count(*) from {name}").first()
        if rows != export.rows:
            raise RuntimeError(f"Spark reads {rows} rows in {name} ({export.path}) but DuckDB exported {export.rows}")


def replace_raw_export(warehouse: Path, folder: Path) -> list[RawExport]:
    """``export_raw_tables`` into ``folder``, written beside it first and swapped in whole once every table is
    written: an export that fails leaves the previous files as they were, and no file of an earlier one lingers."""
    staged = folder.with_name(folder.name + ".next")
    if staged.exists():
        shutil.rmtree(staged)  # a failed export's leftovers
    exports = export_raw_tables(warehouse, staged)
    if folder.exists():
        shutil.rmtree(folder)
    staged.rename(folder)
    return [RawExport(e.table, e.rows, folder / e.table) for e in exports]


def raw_export_folder() -> Path:
    """Where the raw tables Spark reads are exported: ``<spark dir>/raw``."""
    return spark_path() / RAW_SCHEMA


def load_raw_into_spark(warehouse: Path, spark, folder: Path | None = None) -> list[RawExport]:
    """The DuckDB load area's raw tables as Spark's ``raw.<table>`` over ``folder`` (default ``<spark dir>/raw``)."""
    exports = replace_raw_export(warehouse, folder or raw_export_folder())
    register_raw_tables(spark, exports)
    return exports


def stale_raw_tables(warehouse: Path, folder: Path | None = None) -> list[str]:
    """Each raw table whose rows in the DuckDB load area and in the export Spark reads differ (or that was never
    exported), described for an error: Spark's features must be built from the raw tables the run loaded."""
    folder = folder or raw_export_folder()
    stale = []
    with connect(read_only=True, path=warehouse) as con:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [RAW_SCHEMA]).fetchall()}
        for table in (t for t in source_tables() if t in present):
            (rows,) = con.execute(f"select count(*) from {RAW_SCHEMA}.{quote_identifier(table)}").fetchone()
            files = folder / table / "data.parquet"
            exported = con.execute(f"select count(*) from read_parquet({sql_string(str(files))})").fetchone()[0] \
                if files.exists() else None
            if exported != rows:
                stale.append(f"raw.{table}: {rows:,} row{'s' if rows != 1 else ''} in DuckDB, "
                             + (f"{exported:,} in Spark" if exported is not None else f"not exported ({files})"))
    return stale


def run_dbt(args: list[str], work_dir: Path) -> None:
    """``dbt <args> --target spark`` in this process, on its SparkSession (dbt-spark's session method finds it).
    dbt's target/ and logs/ go to ``work_dir``: the project's own manifest, which Dagster reads, stays DuckDB's.
    A failed build raises with every failed node and its message."""
    from dbt.cli.main import dbtRunner

    spark_session()  # first, so the profile's MICROSEG_SPARK_DIR is absolute when dbt renders it
    result = dbtRunner().invoke([
        *args, "--target", "spark", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")])
    if not result.success:
        failed = [f"{r.node.unique_id}: {r.message}" for r in getattr(result.result, "results", None) or []
                  if str(r.status) in ("error", "fail")]
        raise RuntimeError(f"dbt {' '.join(args)} on Spark failed: " + ("; ".join(failed) or str(result.exception)))
