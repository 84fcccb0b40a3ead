"""The fast daily path: assign every customer in the feature mart to the current model, no refit.

New customers (not in the last fit) get a segment; customers whose features moved
may change segment. Both are counted, so a user can see how far behaviour drifted
since the last refit and decide when to refit.
"""

import datetime as dt

import dagster as dg

from ml.scoring import score_customers
from orchestration.assets.metadata import markdown_table, table_metadata
from orchestration.resources import OWNERS, WAREHOUSE_POOL, WarehouseResource
from orchestration.warehouse import publish

SCORES_KEY = dg.AssetKey(["segments", "customer_scores"])


@dg.asset(
    key=SCORES_KEY,
    deps=[dg.AssetKey(["marts", "customer_features"]), dg.AssetKey(["segments", "model_scaling"]),
          dg.AssetKey(["segments", "model_centroids"])],
    group_name="segmentation",
    kinds={"python", "duckdb"},
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
        scaling = con.execute("select * from segments.model_scaling where run_id = ?", [model_run]).df()
        centroids = con.execute("select * from segments.model_centroids where run_id = ?", [model_run]).df()
        features = con.execute("select * from marts.customer_features order by customer_id").df()
        fitted = con.execute("select customer_id, segment_id as fitted_segment_id from segments.customer_segments").df()

    scores = score_customers(features, scaling, centroids)
    scores = scores.merge(fitted, on="customer_id", how="left")
    scores["is_new_customer"] = scores["fitted_segment_id"].isna()
    scores["changed_segment"] = ~scores["is_new_customer"] & (scores["segment_id"] != scores["fitted_segment_id"])
    scores["model_run_id"] = model_run
    scores["scored_at"] = dt.datetime.now(dt.timezone.utc)
    scores["dagster_run_id"] = context.run.run_id
    publish("segments", replace={"customer_scores": scores}, append={}, path=warehouse.resolved_path())

    new, changed = int(scores["is_new_customer"].sum()), int(scores["changed_segment"].sum())
    context.log.info(f"Scored {len(scores):,} customers with model {model_run}: {new:,} new, {changed:,} changed segment.")
    moves = (scores[scores["changed_segment"]].groupby(["fitted_segment_id", "segment_id"]).size()
             .rename("customers").reset_index().sort_values("customers", ascending=False))
    with warehouse.connect(read_only=True) as con:
        metadata = table_metadata(con, "segments", "customer_scores")
    return dg.MaterializeResult(metadata={
        **metadata, "model_run_id": model_run, "new_customers": new, "changed_segment": changed,
        "changed_share": float(changed / max(len(scores) - new, 1)),
        "largest_moves": markdown_table(moves, max_rows=15) if len(moves) else "none",
    })
