"""The fast daily path: assign every customer in the feature mart to the current model, no refit.

New customers (not in the last fit) get a segment; customers whose features moved
may change segment. Both are counted, so a user can see how far behaviour drifted
since the last refit and decide when to refit. Scoring is one SQL statement built
from the persisted model (``ml.scoring_sql``), so it runs inside the warehouse.
"""

import time

import dagster as dg

from ml.scoring_sql import scoring_sql, sql_string
from orchestration.defs.resources import WarehouseResource
from orchestration.lib.metadata import markdown_table, table_metadata
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL

SCORES_KEY = dg.AssetKey(["segments", "customer_scores"])


@dg.asset(
    key=SCORES_KEY,
    deps=[dg.AssetKey(["marts", "customer_features_wide"]), dg.AssetKey(["segments", "model_scaling"]),
          dg.AssetKey(["segments", "model_centroids"])],
    group_name="segmentation",
    kinds={"sql", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description="Every customer assigned to the current (latest) model without refitting: segment, distance, "
                "whether the customer is new since the fit or changed segment.",
)
def customer_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect(read_only=True) as con:
        has_model = con.execute("select count(*) from information_schema.tables "
                                "where table_schema = 'segments' and table_name = 'segmentation_runs'").fetchone()[0]
        if not has_model:
            raise dg.Failure("No segmentation model yet: run the segment_customers job once before scoring.")
        (model_run,) = con.execute("select run_id from segments.segmentation_runs "
                                   "order by finished_at desc limit 1").fetchone()
        # the model is a few hundred rows; the customers never leave the warehouse
        scaling = con.execute("select * from segments.model_scaling where run_id = ?", [model_run]).df()
        centroids = con.execute("select * from segments.model_centroids where run_id = ?", [model_run]).df()

    scored = scoring_sql(scaling, centroids, "marts.customer_features_wide")
    select = f"""
        select s.customer_id, s.macro_segment_id, s.segment_id, s.macro_distance, s.distance,
               fit.segment_id as fitted_segment_id,
               fit.segment_id is null as is_new_customer,
               fit.segment_id is not null and s.segment_id <> fit.segment_id as changed_segment,
               {sql_string(model_run)} as model_run_id,
               current_timestamp as scored_at,
               {sql_string(context.run.run_id)} as dagster_run_id
        from ({scored}) as s
        left join segments.customer_segments as fit on s.customer_id = fit.customer_id"""
    started = time.perf_counter()
    counts = warehouse.replace_tables_from_sql("segments", {"customer_scores": select})
    seconds = time.perf_counter() - started

    with warehouse.connect(read_only=True) as con:
        new, changed = con.execute("select count(*) filter (where is_new_customer), "
                                   "count(*) filter (where changed_segment) from segments.customer_scores").fetchone()
        moves = con.execute("select fitted_segment_id, segment_id, count(*) as customers from segments.customer_scores "
                            "where changed_segment group by all order by customers desc, 1, 2 limit 15").df()
        metadata = table_metadata(con, "segments", "customer_scores")
    total = counts["customer_scores"]
    context.log.info(f"Scored {total:,} customers in the warehouse in {seconds:.1f} s with model {model_run}: "
                     f"{new:,} new, {changed:,} changed segment.")
    return dg.MaterializeResult(metadata={
        **metadata, "model_run_id": model_run, "new_customers": new, "changed_segment": changed,
        "changed_share": float(changed / max(total - new, 1)),
        "scoring_seconds": round(seconds, 2),
        "largest_moves": markdown_table(moves, max_rows=15) if len(moves) else "none",
    })
