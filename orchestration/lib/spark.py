"""The Spark engine's pure helpers: its session, and the raw tables in Spark from the DuckDB load area.

Raw data reaches Spark through the same loader as DuckDB (orchestration/lib/loading.py), so the same
quarantine rules judge every row: the validated raw tables are exported from the DuckDB file to Parquet and
registered in Spark as ``raw.<table>`` over those files. The session's settings are the dbt profile's
(dbt_project/profiles.yml, target ``spark``): dbt-spark's session method and this module share one
SparkSession per process (``getOrCreate``), configured in one place. Needs the ``spark`` extra and Java 17.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


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


def spark_session():
    """This process's SparkSession with the profile's settings (started once; later calls return it).

    Hive support as dbt-spark starts it: the catalog is the Derby metastore of the profile, so the databases
    dbt builds (staging, intermediate, marts, raw) are the ones this session sees."""
    from pyspark.sql import SparkSession

    # the machine's name may resolve to a loopback address: bind there, without Spark's warning about it
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = spark_settings()
    spark_path().mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")  # Spark's INFO/WARN chatter (Hive, Derby, codegen) is not for users
    return session


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


def load_raw_into_spark(warehouse: Path, spark, folder: Path | None = None) -> list[RawExport]:
    """The DuckDB load area's raw tables as Spark's ``raw.<table>`` over ``folder`` (default ``<spark dir>/raw``)."""
    exports = replace_raw_export(warehouse, folder or spark_path() / "raw")
    register_raw_tables(spark, exports)
    return exports


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
