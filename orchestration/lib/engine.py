"""Which steps run on which engine: the one home of the rule that no step reads DuckDB's tables while the run's
features are in Spark.

The engine is the run's ``engine`` resource (orchestration/defs/resources.py, default ``$MICROSEG_ENGINE``). Every
step runs on Spark: the demo generator (it writes export files either engine loads), ``raw_exports`` (the DuckDB
loader and its quarantine, then the raw tables to Spark), ``dbt_features`` and ``dbt_segment_marts`` (dbt's spark
target), the segmentation and the scoring (their SQL in Spark, segments.* written there), the audience exports, the
segment report and the published snapshot (on Spark, the published tables themselves). A step added without a
Spark path is left out of ``SPARK_STEPS``: a run on Spark that holds it is refused at its first step, before
anything is loaded, rather than reading DuckDB's tables beside Spark's.
"""

from __future__ import annotations

import dagster as dg

from orchestration.lib.settings import ENGINE_ENV, SPARK

ENGINE_RESOURCE = "engine"  # the resource key of the engine
ENGINE_FIELD = f"resources.{ENGINE_RESOURCE}.config.engine"  # where a run sets it (the launchpad, run config)
# the steps (ops) that run on Spark; the demo generator writes export files, which the loader reads on either engine
SPARK_STEPS = frozenset({"demo_exports", "raw_exports", "dbt_features", "customer_segmentation", "customer_scores",
                         "dbt_segment_marts", "audiences__segment_exports", "report__segment_report",
                         "snapshot__published_warehouse"})
WHY = "read DuckDB's tables, not the features built in Spark (issue #13)"
AS_DUCKDB = f"run with engine duckdb ({ENGINE_FIELD} or ${ENGINE_ENV})"


def steps_not_on_spark(context: dg.AssetExecutionContext) -> list[str]:
    """The steps of this run that do not run on Spark."""
    layer = context.job_def.asset_layer
    steps = {layer.asset_graph.get(key).assets_def.op.name for key in layer.selected_asset_keys}
    return sorted(steps - SPARK_STEPS)


def refuse_run_reading_duckdb(context: dg.AssetExecutionContext, engine: str) -> None:
    """On Spark, refuse a run that also holds steps which do not run there yet, before this step does anything."""
    steps = steps_not_on_spark(context) if engine == SPARK else []
    if steps:
        raise dg.Failure(
            f"This run builds its features on Spark, but {', '.join(steps)} do not run on Spark yet: each would "
            f"{WHY}. "
            "On Spark, materialise only the steps that run there (README: Running on Spark), "
            f"or {AS_DUCKDB}.")
