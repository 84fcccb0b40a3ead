"""The published snapshot: after a run's last writer, the tables analysts query, copied to a file of their own.

`make sql` and the README's read path open it instead of the live warehouse, so an analyst's open session
never blocks a scheduled run. It is written last in each run, so it always holds one complete run's results:
a run that fails or is killed before this step leaves the previous snapshot in place.

On Spark there is no file to copy and no lock to avoid: analysts query Spark's own tables (the metastore), whose
every publish swaps a result in whole (``orchestration.lib.sql_warehouse``). The step then records what those
published schemas hold, so the asset still says what analysts see after the run.
"""

import time

import dagster as dg
import pandas as pd

# modules, not their objects: an asset imported by name is loaded again from the importing file
from orchestration.defs.audiences import assets as audiences
from orchestration.defs.report import assets as report
from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.defs.scoring import assets as scoring
from orchestration.defs.segmentation import assets as segmentation
from orchestration.defs.transform import assets as transform
from orchestration.lib.engine import refuse_run_reading_duckdb
from orchestration.lib.metadata import markdown_table
from orchestration.lib.settings import OWNERS, PUBLISHED_SNAPSHOT_ASSET, WAREHOUSE_POOL, snapshot_path
from orchestration.lib.sql_warehouse import ASIDE
from orchestration.lib.warehouse import PUBLISHED_SCHEMAS, write_snapshot

SNAPSHOT_KEY = dg.AssetKey(PUBLISHED_SNAPSHOT_ASSET)


@dg.asset(
    key=SNAPSHOT_KEY,
    group_name="snapshot",
    # after every step that writes what analysts query, whichever of them the job runs
    deps=[transform.dbt_features, transform.dbt_segment_marts, segmentation.customer_segmentation,
          scoring.customer_scores, audiences.segment_exports, report.segment_report],
    kinds={"duckdb", "spark"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,  # reads the warehouse: not while another step writes it
)
def published_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       engine: ComputeEngine) -> dg.MaterializeResult:
    """The schemas analysts query (marts, segments, segments_history, audiences), copied beside the warehouse."""
    refuse_run_reading_duckdb(context, engine.engine)
    engine.require_ready()
    started = time.perf_counter()
    if engine.on_spark:
        return _published_on_spark(context, started)
    target = snapshot_path(warehouse.resolved_path())
    rows = write_snapshot(warehouse.resolved_path(), target)
    seconds = time.perf_counter() - started
    context.log.info(f"Published snapshot {target}: {len(rows)} tables in {seconds:.1f} s.")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(target)),
        "tables": len(rows),
        "dagster/row_count": sum(rows.values()),
        "megabytes": round(target.stat().st_size / 1e6, 1),
        "seconds": round(seconds, 2),
    })


def _published_on_spark(context: dg.AssetExecutionContext, started: float) -> dg.MaterializeResult:
    """Spark's published schemas as analysts find them: every table and its rows (no copy: see the docstring)."""
    from orchestration.lib.spark import step_session

    with step_session() as spark:
        rows = {f"{schema}.{t.name}": int(spark.table(f"{schema}.{t.name}").count())
                for schema in PUBLISHED_SCHEMAS if spark.catalog.databaseExists(schema)
                for t in spark.catalog.listTables(schema)
                if not t.isTemporary and not t.name.endswith(ASIDE)}  # a publish's own, until swapped in
    seconds = time.perf_counter() - started
    context.log.info(f"On Spark analysts query the published tables themselves: {len(rows)} tables in "
                     f"{', '.join(PUBLISHED_SCHEMAS)} (no copy made), counted in {seconds:.1f} s.")
    return dg.MaterializeResult(metadata={
        "engine": "spark",
        "tables": len(rows),
        "dagster/row_count": sum(rows.values()),
        "published_tables": markdown_table(pd.DataFrame({"table": list(rows), "rows": list(rows.values())})),
        "copy": "none: on Spark the published tables are the ones analysts query",
        "seconds": round(seconds, 2),
    })
