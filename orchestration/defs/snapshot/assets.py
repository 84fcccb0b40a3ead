"""The published snapshot: after a run's last writer, the tables analysts query, copied to a file of their own.

`make sql` and the README's read path open it instead of the live warehouse, so an analyst's open session
never blocks a scheduled run. It is written last in each run, so it always holds one complete run's results:
a run that fails or is killed before this step leaves the previous snapshot in place.
"""

import time

import dagster as dg

# modules, not their objects: an asset imported by name is loaded again from the importing file
from orchestration.defs.audiences import assets as audiences
from orchestration.defs.report import assets as report
from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.lib.engine import refuse_on_spark
from orchestration.defs.scoring import assets as scoring
from orchestration.defs.segmentation import assets as segmentation
from orchestration.defs.transform import assets as transform
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL, snapshot_path
from orchestration.lib.warehouse import write_snapshot

SNAPSHOT_KEY = dg.AssetKey(["snapshot", "published_warehouse"])


@dg.asset(
    key=SNAPSHOT_KEY,
    group_name="snapshot",
    # after every step that writes what analysts query, whichever of them the job runs
    deps=[transform.dbt_features, transform.dbt_segment_marts, segmentation.customer_segmentation,
          scoring.customer_scores, audiences.segment_exports, report.segment_report],
    kinds={"duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,  # reads the warehouse: not while another step writes it
)
def published_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       engine: ComputeEngine) -> dg.MaterializeResult:
    """The schemas analysts query (marts, segments, segments_history, audiences), copied beside the warehouse."""
    refuse_on_spark(engine.engine, "The published snapshot")
    started = time.perf_counter()
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
