"""Which steps run on which engine: the one home of the rule that no step reads DuckDB's tables while the run's
features are in Spark.

The engine is the run's ``engine`` resource (orchestration/defs/resources.py, default ``$MICROSEG_ENGINE``). On
Spark so far: the demo generator (it writes export files either engine loads), ``raw_exports`` (the DuckDB loader
and its quarantine, then the raw tables to Spark) and ``dbt_features`` (dbt's spark target). The steps after the
features still read and write DuckDB, so a run on Spark that holds any of them is refused before anything is
loaded, at its first step that takes the engine resource. A step that runs on Spark takes that resource; one
that does not yet can refuse itself with ``refuse_on_spark``.
"""

from __future__ import annotations

import dagster as dg

from orchestration.lib.settings import ENGINE_ENV, SPARK

ENGINE_RESOURCE = "engine"  # the resource key of the engine; an asset that takes it knows which engine it runs on
ENGINE_FIELD = f"resources.{ENGINE_RESOURCE}.config.engine"  # where a run sets it (the launchpad, run config)
ANY_ENGINE_GROUPS = {"demo"}  # the demo generator writes export files, which the loader reads on either engine
WHY = "read DuckDB's tables, not the features built in Spark (issue #13)"
AS_DUCKDB = f"run with engine duckdb ({ENGINE_FIELD} or ${ENGINE_ENV})"


def refuse_on_spark(engine: str, what: str) -> None:
    """For a step that does not run on Spark yet: stop here, saying so, when the run's engine is Spark."""
    if engine == SPARK:
        raise dg.Failure(f"{what} on Spark is not built yet: it would {WHY}; {AS_DUCKDB}.")


def steps_not_on_engine(context: dg.AssetExecutionContext) -> list[str]:
    """The run's steps whose assets do not take the engine resource, so work on DuckDB whatever it says."""
    layer = context.job_def.asset_layer
    steps = set()
    for key in layer.selected_asset_keys:
        node = layer.asset_graph.get(key)
        if node.group_name not in ANY_ENGINE_GROUPS and ENGINE_RESOURCE not in node.assets_def.required_resource_keys:
            steps.add(node.assets_def.op.name)
    return sorted(steps)


def refuse_run_reading_duckdb(context: dg.AssetExecutionContext, engine: str) -> None:
    """On Spark, refuse a run that also holds steps which do not run there yet, before this step does anything."""
    steps = steps_not_on_engine(context) if engine == SPARK else []
    if steps:
        raise dg.Failure(
            f"This run builds its features on Spark, but {', '.join(steps)} do not run on Spark yet: each would "
            f"{WHY}. "
            "On Spark, materialise the raw tables and the feature models only (README: Running on Spark), "
            f"or {AS_DUCKDB}.")
