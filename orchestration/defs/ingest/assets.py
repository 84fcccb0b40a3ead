"""Raw exports in schema ``raw``: a sources file's exports, the landing folder's, and inbox files.

One asset per raw table, keyed like the dbt sources (``raw/<table>``) so the staging
models hang under them in the asset graph. Which tables exist and what they hold is
declared once, in the dbt sources file. On the engine spark the same loader fills the DuckDB
load area, then the validated tables are published to Spark as ``raw.<table>``.
"""


from pathlib import Path

import dagster as dg
from pydantic import Field

from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.lib.dbt import raw_tables
import pandas as pd

from orchestration.lib import spark
from orchestration.lib.engine import refuse_run_reading_duckdb
from orchestration.lib.files import APPEND, REPLACE, LoadedFile, landing_sources, load_files
from orchestration.lib.loading import FileLoad, ensure_raw_tables, load_source, load_sources, source_for_file
from orchestration.lib.metadata import markdown_table, table_metadata
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL, demo_mode, landing_path, sources_file
from orchestration.lib.sources import load_sources_file

# In demo mode the demo generator writes the "demo" source's exports into the landing folder first.
DEMO_EXPORTS_KEY = dg.AssetKey(["demo", "synthetic_exports"])


class IngestConfig(dg.Config):
    files: list[str] = Field(
        default=[],
        description="Files to append, named <table>[_anything].csv|parquet (the inbox sensor fills this in). "
                    "Empty: load every source folder of the landing folder as a full export.",
    )
    source: str = Field(default="inbox", description="Source name recorded on the rows of appended files.")
    sources_file: str = Field(
        default_factory=lambda: str(sources_file() or ""),
        description="Sources file mapping your exports onto the input contract (default $MICROSEG_SOURCES). "
                    "Empty: only the landing folder and the files above.",
    )


def _raw_specs() -> list[dg.AssetSpec]:
    deps = [DEMO_EXPORTS_KEY] if demo_mode() else []
    return [
        dg.AssetSpec(dg.AssetKey(["raw", table]), description=description, group_name="raw", deps=deps,
                     kinds={"duckdb"}, owners=OWNERS, skippable=True)
        for table, description in raw_tables().items()
    ]


def _log_loads(context: dg.AssetExecutionContext, loads: list[LoadedFile]) -> None:
    for load in loads:
        what = "unchanged, not reloaded" if load.skipped else (
            f"{load.rows_read:,} rows read = {load.rows:,} loaded + {load.rows_duplicate:,} duplicate + "
            f"{load.rows_quarantined:,} quarantined ({load.mode})"
            + (f"; {load.rows_conflicting:,} keys loaded before with other values, this file's won "
               "(raw._conflicts)" if load.rows_conflicting else "")
            + (f"; columns not in the contract, not loaded: {list(load.ignored_columns)}"
               if load.ignored_columns else ""))
        context.log.info(f"raw.{load.table} <- {load.source}/{load.file}: {what}")


def _publish_to_spark(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dict[str, int]:
    """The loaded raw tables (and the loader's audit tables) as Spark's raw.<table>; their rows in Spark by table."""
    try:
        with spark.step_session() as session:
            exports = spark.load_raw_into_spark(warehouse.resolved_path(), session)
    except Exception as exc:
        raise dg.Failure(f"The raw tables were loaded into DuckDB ({warehouse.resolved_path()}) but not published to "
                         f"Spark ({spark.raw_export_folder()}), which keeps its previous raw tables: {exc}") from exc
    context.log.info(f"raw tables in Spark ({spark.raw_export_folder()}): "
                     + ", ".join(f"raw.{e.table} {e.rows:,} rows" for e in exports))
    return {e.table: e.rows for e in exports}


def _load_raw_exports(context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource,
                      engine: ComputeEngine):
    """Load export files into the raw tables in one transaction: all of them or none (then, on Spark, publish them)."""
    refuse_run_reading_duckdb(context, engine.engine)
    engine.require_ready()  # before loading: a run that cannot reach Spark changes nothing
    tables = list(raw_tables())
    file_loads: list[FileLoad] = []
    with warehouse.transaction("raw") as con:
        try:
            sources = load_sources_file(Path(config.sources_file)) if config.sources_file else None
            if sources and not config.files:
                file_loads = load_sources(con, sources, context.run.run_id)
            if config.files:
                # a file one of your sources names is loaded with that source's mapping; others by table name
                by_table = []
                for path in map(Path, config.files):
                    source = source_for_file(sources, path) if sources else None
                    if source:
                        file_loads += load_source(con, sources, source, context.run.run_id, files=[path])
                    else:
                        by_table.append(path)
                loads = load_files(con, by_table, source=config.source, mode=APPEND, tables=tables,
                                   run_id=context.run.run_id) if by_table else []
            else:
                loads = []
                for source, files in landing_sources(landing_path()).items():
                    loads += load_files(con, files, source=source, mode=REPLACE, tables=tables,
                                        run_id=context.run.run_id)
            ensure_raw_tables(con)  # entities no source feeds exist, empty, as do the ledger and quarantine
        except (ValueError, FileNotFoundError) as exc:
            raise dg.Failure(str(exc), metadata={"files": dg.MetadataValue.json(config.files)}) from exc
        existing = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    _log_loads(context, loads)
    for load in file_loads:
        context.log.info(f"{load.source}/{load.file} ({load.entity}): " + (
            "unchanged, not reloaded" if load.skipped else
            f"{load.rows_read:,} rows read = {load.rows_loaded:,} loaded + {load.rows_duplicate:,} duplicate + "
            f"{load.rows_quarantined:,} quarantined" + (f"; {load.rows_conflicting:,} keys loaded before with other "
                                                        "values, this file's won (raw._conflicts)"
                                                        if load.rows_conflicting else "")))
    per_file = pd.DataFrame([vars(load) for load in file_loads])
    missing = [t for t in tables if t not in existing]
    if missing:
        raise dg.Failure(f"No data yet for raw tables {missing}: put full exports in "
                         f"{landing_path()}/<source>/<table>.csv|parquet, or drop files in the inbox.")
    in_spark = _publish_to_spark(context, warehouse) if engine.on_spark else {}

    with warehouse.connect(read_only=True) as con:
        for table in tables:
            key = dg.AssetKey(["raw", table])
            if key not in context.selected_asset_keys:
                continue
            mine = [load for load in loads if load.table == table]
            by_source = con.execute(f"select _source as source, count(*) as rows from raw.{table} "
                                    "group by all order by source").df()
            run_id = context.run.run_id
            quarantined = con.execute("select file, line, column_name, reason from raw._quarantine where "
                                      "dagster_run_id = ? and entity = ? order by file, line limit 20",
                                      [run_id, table]).df()
            conflicts = con.execute("select key, file, line, replaced_file, changed_columns from raw._conflicts "
                                    "where dagster_run_id = ? and raw_table = ? order by file, line limit 20",
                                    [run_id, table]).df()
            yield dg.MaterializeResult(asset_key=key, metadata={
                **table_metadata(con, "raw", table),
                "engine": engine.engine,
                **({"spark_table": f"raw.{table}", "spark_rows": in_spark[table]} if engine.on_spark else {}),
                "loaded_rows": sum(load.rows for load in mine),
                "duplicate_rows": sum(load.rows_duplicate for load in mine),
                "quarantined_rows": sum(load.rows_quarantined for load in mine),
                "conflicting_keys": sum(load.rows_conflicting for load in mine),
                **({"quarantine_examples": markdown_table(quarantined)} if len(quarantined) else {}),
                **({"conflict_examples": markdown_table(conflicts)} if len(conflicts) else {}),
                "files": dg.MetadataValue.json([f"{load.source}/{load.file}" for load in mine if not load.skipped]),
                "unchanged_files": dg.MetadataValue.json([f"{load.source}/{load.file}" for load in mine
                                                          if load.skipped]),
                "rows_by_source": markdown_table(by_source),
                **({"files_read_loaded_quarantined": markdown_table(per_file)} if len(per_file) else {}),
            })


@dg.definitions
def ingest() -> dg.Definitions:
    # built when the code location loads, so the demo switch is read then, not at import
    raw_exports = dg.multi_asset(specs=_raw_specs(), can_subset=True, pool=WAREHOUSE_POOL,
                                 name="raw_exports")(_load_raw_exports)
    return dg.Definitions(assets=[raw_exports])
