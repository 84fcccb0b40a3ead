"""The segment report as an asset: after the dbt segment marts, one static HTML page per scoring result."""

import dagster as dg

from orchestration.defs.report.render import build_report
from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.lib.engine import refuse_run_reading_duckdb
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL, reports_path
from orchestration.lib.sql_warehouse import open_warehouse

# what the page reads; the dbt marts are built after the segmentation and the scoring
READS = [["segments", "segment_profiles"], ["segments", "segment_traits"], ["marts", "segment_kpi_history"],
         ["marts", "segment_migrations"]]


@dg.asset(
    key=["report", "segment_report"],
    group_name="report",
    deps=[dg.AssetKey(k) for k in READS],
    kinds={"python", "html"},
    owners=OWNERS,
    # read-only, but DuckDB refuses a reader while another process writes the file: queue with the writers
    pool=WAREHOUSE_POOL,
)
def segment_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                   engine: ComputeEngine) -> dg.MaterializeResult:
    """A page per segment result for marketers: a card per segment (traits, action, KPIs, uplift, stability), the
    segment map and the migrations, written to $MICROSEG_REPORTS/<result_id>/index.html and latest/index.html,
    read from the run's engine."""
    refuse_run_reading_duckdb(context, engine.engine)
    engine.require_ready()
    with open_warehouse(engine.on_spark, warehouse.resolved_path()) as tables:
        path, data, seconds = build_report(tables, reports_path())
    levels = data.profiles["level"].value_counts()
    context.log.info(f"Segment report written to {path} in {seconds:.1f} s.")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)),
        "url": dg.MetadataValue.url(path.as_uri()),
        "latest": dg.MetadataValue.path(str(path.parent.parent / "latest" / "index.html")),
        "segments": len(data.profiles),
        "macro_segments": int(levels.get("macro", 0)),
        "micro_segments": int(levels.get("micro", 0)),
        "report_id": data.report_id,
        "not_in_report": "; ".join(data.missing) or "nothing left out",
        "seconds": round(seconds, 2),
    })
