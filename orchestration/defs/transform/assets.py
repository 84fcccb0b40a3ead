"""Every dbt model as a Dagster asset; dbt tests as asset checks.

Two dbt assets, because the Python segmentation sits between them: ``dbt_features``
(raw exports -> staging -> intermediate -> the feature marts) and ``dbt_segment_marts``
(the marts over the segmentation's tables, dbt folder ``marts/segments``).

Row counts, column types and column lineage are read once dbt has exited: while dbt
runs it holds DuckDB's single write lock, so querying alongside it (as dagster-dbt's
``fetch_row_counts`` and ``fetch_column_metadata`` do) is refused.

On the engine spark, ``dbt_features`` builds on dbt's spark target from Spark's raw tables (which
``raw_exports`` published); row counts and columns are then read from Spark, and DuckDB's bookkeeping
(incremental staging, skip-when-unchanged, column lineage) is left out and the metadata says so.
``dbt_segment_marts`` builds there the same way, from Spark's segments.*, and marks the result complete in
Spark's ledger.
"""


import datetime as dt
import json
import os
import time
from functools import partial
from graphlib import TopologicalSorter
from typing import Callable, Iterator

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from ml.scoring_sql import sql_string
from orchestration.defs.resources import AnalysisSettings, ComputeEngine, WarehouseResource
from orchestration.defs.transform.translator import translator
from orchestration.lib import spark
from orchestration.lib.column_lineage import column_lineage_metadata, column_types, runtime_manifest
from orchestration.lib.customer_builds import (CustomerPlan, customer_fingerprints, forget_customer_builds,
                                               plan_customers)
from orchestration.lib.dbt import build_waiting_for_lock, dbt_project, project_vars
from orchestration.lib.engine import refuse_run_reading_duckdb
from orchestration.lib.feature_builds import inputs_fingerprint, last_complete_build, record_complete_build
from orchestration.lib.metadata import table_metadata
from orchestration.lib.sql_warehouse import SparkWarehouse
from orchestration.lib.settings import (DUCKDB, DUCKDB_MEMORY_ENV, SPARK, WAREHOUSE_ENV, WAREHOUSE_POOL,
                                        duckdb_memory_limit, parse_as_of_date)
from orchestration.lib.staging_builds import (StagingPlan, code_fingerprints, incremental_models, keys_vouched_unique,
                                             plan_staging)

SEGMENT_MARTS = "marts.segments resource_type:snapshot"  # dbt selector: the models over the segmentation's tables, and the membership snapshot
# the models listing the changed customers and orders: a build without them rebuilds every customer
CHANGED_LISTS = {"int_customers__changed", "int_orders__changed"}

if not dbt_project.manifest_path.exists():
    raise FileNotFoundError(
        f"dbt manifest not found at {dbt_project.manifest_path}. Run `make setup` (it runs `dbt parse`)."
    )


def dbt_build_args(dbt_vars: dict, full_refresh: bool = False) -> list[str]:
    """The dbt command line: `build`, with the run's vars when there are any (and --full-refresh when asked)."""
    return ["build", *(["--vars", json.dumps(dbt_vars, sort_keys=True)] if dbt_vars else []),
            *(["--full-refresh"] if full_refresh else [])]


def _with_table_metadata(events: list, invocation, context: dg.AssetExecutionContext,
                         warehouse: WarehouseResource, staging: StagingPlan | None,
                         customers: CustomerPlan | None) -> Iterator:
    """Row counts, column schema and column lineage for every model dbt built; for an incremental staging
    model, whether it was built incrementally or refreshed, and why; for a per-customer model, which customers
    it rebuilt."""
    incremental = {d.model for d in staging.decisions} if staging else set()
    per_customer = set(customers.models) if customers else set()
    with warehouse.connect(read_only=True) as con:
        types, manifest = column_types(con), runtime_manifest(invocation)
        for event in events:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                if len(key.path) == 2:
                    unique_id = event.metadata["unique_id"].value
                    event = event.with_metadata({
                        **event.metadata,
                        "engine": DUCKDB,
                        **table_metadata(con, *key.path, column_types=types.get(tuple(key.path))),
                        **column_lineage_metadata(unique_id, manifest, invocation.target_path, types, translator,
                                                  dbt_project),
                        **({"staging_build": staging.describe(key.path[1])} if key.path[1] in incremental else {}),
                        **({"customer_build": customers.describe()} if key.path[1] in per_customer else {}),
                    })
            yield event


def _as_of_date(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                analysis: AnalysisSettings) -> dt.date:
    """The run's as-of date: the configured one, else the last transaction date (not today: an export
    taken a year ago must not look a year stale). Refuses a window with no transactions, saying so."""
    history_days = int(project_vars()["history_days"])
    with warehouse.connect(read_only=True) as con:
        (last,) = con.execute("select cast(max(order_ts) as date) from raw.orders "
                              "where cast(order_ts as date) <= current_date").fetchone()
        as_of = parse_as_of_date(analysis.as_of_date) or last
        if as_of is None:
            raise dg.Failure("raw.orders holds no transaction dated today or earlier: nothing to compute features "
                             "from. Load your transactions first (see the README's input contract).")
        (in_window,) = con.execute(
            "select count(*) from raw.orders where cast(order_ts as date) <= ? and cast(order_ts as date) > ?",
            [as_of, as_of - dt.timedelta(days=history_days)]).fetchone()
    if not in_window:
        raise dg.Failure(f"No transactions in the {history_days} days up to the as-of date {as_of} "
                         f"(the last one is dated {last}): set as_of_date to a date inside your history.")
    context.log.info(f"Features as of {as_of} ({'configured' if analysis.as_of_date else 'last transaction date'}), "
                     f"over {in_window:,} orders of the {history_days} days before.")
    return as_of


def _vouched(warehouse: WarehouseResource) -> list[str]:
    """The raw tables whose keys the load ledger vouches unique: staging reads them without deduplicating."""
    with warehouse.connect(read_only=True) as con:
        return keys_vouched_unique(con)


def _duckdb_vars(context: dg.AssetExecutionContext, warehouse: WarehouseResource, analysis: AnalysisSettings) -> dict:
    """The vars of both dbt steps on DuckDB: the as-of date, each incremental staging model's code and each
    per-customer model's code and vars (recorded with their builds: a change means a full rebuild next time) and
    the raw tables staged as views. The same in both, so that the second step reuses the first's parsed project
    (dbt parses everything again when the vars differ)."""
    return {"as_of_date": _as_of_date(context, warehouse, analysis).isoformat(),
            "staging_fingerprints": code_fingerprints(), "customer_fingerprints": customer_fingerprints(),
            "keys_vouched_unique": _vouched(warehouse)}


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
           dbt_vars: dict, staging: StagingPlan | None = None, customers: CustomerPlan | None = None) -> Iterator:
    # dbt runs from dbt_project/; hand it the same absolute warehouse path Dagster uses.
    os.environ[WAREHOUSE_ENV] = str(warehouse.resolved_path())
    os.environ[DUCKDB_MEMORY_ENV] = duckdb_memory_limit()  # the same memory cap as the run's own sessions
    args = dbt_build_args(dbt_vars, full_refresh=bool(staging and staging.full_refresh))
    # waits while another process (an analyst's session on the live file) holds the lock
    invocation, events = build_waiting_for_lock(context, dbt, args, warehouse.resolved_path())
    yield from _with_table_metadata(events, invocation, context, warehouse, staging, customers)
    if not invocation.is_successful():
        raise dg.Failure(
            description="dbt build failed (see the dbt log above); models downstream of the failure were skipped "
            "and keep their previous contents.",
        )


def _unchanged(context: dg.AssetExecutionContext, since_run: str) -> Iterator[dg.Output]:
    """Every model as the last complete build left it: said so in the log and on each asset, dbt not run."""
    why = (f"unchanged: the raw tables, load ledger, as-of date and dbt code are those of run {since_run}'s "
           "complete build, so its tables (and their passed tests) stand; dbt was not run")
    context.log.info(f"features: {why}")
    deps = context.assets_def.asset_deps  # a multi-asset yields its assets upstream first
    order = TopologicalSorter({key: deps.get(key, set()) & context.selected_asset_keys
                               for key in context.selected_asset_keys}).static_order()
    for key in order:
        yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key),
                        metadata={"engine": DUCKDB, "feature_build": why})


ON_SPARK = ("built in full on Spark (dbt target spark); not computed there: skip-when-unchanged (every build "
            "runs), incremental staging (staging models are tables) and column lineage, which are DuckDB's")


def _spark_metadata(context: dg.AssetExecutionContext, events: list, note: dict[str, str],
                    then: Callable | None = None) -> list:
    """Row counts and columns of every model dbt built on Spark, read in a short session once dbt has exited
    (its JVM held the metastore), with ``note`` (what the build on Spark leaves out); the incremental staging
    models say they were built as tables. ``then(session)`` runs last in the same session (a JVM start saved)."""
    incremental = set(incremental_models())
    out = []
    with spark.step_session() as session:
        for event in events:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                name = ".".join(key.path)
                if len(key.path) == 2 and session.catalog.tableExists(name):
                    table = session.table(name)
                    event = event.with_metadata({
                        **event.metadata, "engine": SPARK, **note,
                        "dagster/row_count": dg.MetadataValue.int(table.count()),
                        "dagster/column_schema": dg.TableSchema(columns=[
                            dg.TableColumn(f.name, f.dataType.simpleString()) for f in table.schema.fields]),
                        "dagster/table_name": name,
                        **({"staging_build": "table: rebuilt in full on Spark"} if key.path[1] in incremental else {}),
                    })
            out.append(event)
        if then:
            then(session)
    return out


def _build_on_spark(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
                    analysis: AnalysisSettings, note: dict[str, str], then: Callable | None = None) -> Iterator:
    """dbt build on the spark target of the asset's models, from the raw tables raw_exports published to Spark
    (refused if they are not the DuckDB load area's: the tables would be another load's); ``note`` goes into
    each model's metadata; ``then(session)`` follows a successful build in Spark. dbt's target/ and logs/ are
    this invocation's own folder (dagster-dbt's default), so the project's manifest stays DuckDB's."""
    stale = spark.stale_raw_tables(warehouse.resolved_path())
    if stale:
        raise dg.Failure("Spark's raw tables are not the ones loaded into DuckDB (" + "; ".join(stale) + "): "
                         "materialise raw_exports with the engine spark first.")
    # Spark's raw tables are DuckDB's load area published (checked above): its ledger vouches for their keys too
    dbt_vars = {"as_of_date": _as_of_date(context, warehouse, analysis).isoformat(),
                "keys_vouched_unique": _vouched(warehouse)}
    step = context.op_def.name
    for why in note.values():
        context.log.info(f"{step}: {why}")
    spark.spark_environment()  # dbt inherits it: the same Spark folder and metastore as this process
    started = time.monotonic()
    invocation = dbt.model_copy(update={"target": SPARK}).cli(
        dbt_build_args(dbt_vars), context=context, raise_on_error=False)
    events = list(invocation.stream())
    built = time.monotonic()
    events = _spark_metadata(context, events, note, then if invocation.is_successful() else None)
    context.log.info(f"{step} on Spark: dbt build {built - started:.1f} s, then row counts and columns read "
                     f"from Spark in {time.monotonic() - built:.1f} s")
    yield from events
    if not invocation.is_successful():
        raise dg.Failure(description="dbt build on Spark failed (see the dbt log above); models downstream of the "
                                     "failure were skipped and keep their previous contents.")


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=SEGMENT_MARTS,
    pool=WAREHOUSE_POOL,
)
def dbt_features(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
                 analysis: AnalysisSettings, engine: ComputeEngine):
    """dbt build: staging cleans raw exports, intermediate builds per-customer blocks, marts publish features."""
    refuse_run_reading_duckdb(context, engine.engine)
    engine.require_ready()
    if engine.on_spark:
        yield from _build_on_spark(context, dbt, warehouse, analysis, {"feature_build": ON_SPARK})
        return
    dbt_vars = _duckdb_vars(context, warehouse, analysis)
    whole = context.selected_asset_keys == set(context.assets_def.keys)  # a subset is never skipped
    with warehouse.connect(read_only=True) as con:
        inputs = inputs_fingerprint(con, dbt_vars)
        since_run = whole and last_complete_build(con, inputs, [tuple(k.path) for k in context.assets_def.keys])
        # the facts' staging: views, incremental, or a full refresh and why
        staging = plan_staging(con, dbt_vars["keys_vouched_unique"])
        # the per-customer models: only the changed customers, or every customer and why
        customers = plan_customers(con, dbt_vars, staging.full_refresh, finds_changed=whole or CHANGED_LISTS <= {
            key.path[-1] for key in context.selected_asset_keys})
    if since_run:
        yield from _unchanged(context, since_run)
        return
    context.log.info(staging.summary())
    context.log.info(customers.summary())
    if customers.rebuild_all_because:
        with warehouse.transaction("staging") as con:
            forget_customer_builds(con, customers.models)
    yield from _build(context, dbt, warehouse, dbt_vars, staging, customers)
    if whole:  # dbt's on-run-start cleared the last record; this build succeeded in full
        with warehouse.transaction("staging") as con:
            record_complete_build(con, inputs, context.run.run_id)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    select=SEGMENT_MARTS,
    pool=WAREHOUSE_POOL,
)
def dbt_segment_marts(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
                      analysis: AnalysisSettings, engine: ComputeEngine):
    """dbt models over the Python segmentation results (the campaign table, segment KPIs)."""
    refuse_run_reading_duckdb(context, engine.engine)  # a run without the feature steps is not refused earlier
    engine.require_ready()
    if engine.on_spark:
        yield from _build_on_spark(context, dbt, warehouse, analysis, {"segment_marts_build": MARTS_ON_SPARK},
                                   then=partial(_mark_result_complete_on_spark, context))
        return
    yield from _build(context, dbt, warehouse, _duckdb_vars(context, warehouse, analysis))
    _mark_result_complete(context, warehouse)


MARTS_ON_SPARK = ("built on Spark (dbt target spark); the membership history is rewritten aside and swapped in, "
                  "as Spark's Parquet tables have no MERGE (dbt_project/macros/snapshot_spark.sql)")
LATEST = "order by scored_at desc, result_id desc limit 1"  # the ledger's latest result


def _mark_result_complete(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> None:
    """The last step a result needs: its scores, segment marts and membership history are now in place, so the
    ledger says so (segments.scoring_runs.completed_at). A run that failed before here leaves it NULL."""
    if not warehouse.has_table("segments", "scoring_runs"):
        return
    with warehouse.transaction("segments") as con:
        con.execute("alter table segments.scoring_runs add column if not exists completed_at timestamptz")
        row = con.execute(f"""update segments.scoring_runs set completed_at = now()
            where completed_at is null and result_id = (select result_id from segments.scoring_runs {LATEST})
            returning result_id""").fetchone()
    if row:
        _log_complete(context, row[0])


def _mark_result_complete_on_spark(context: dg.AssetExecutionContext, spark_session) -> None:
    """The same mark in Spark's ledger, whose Parquet table has no UPDATE: the ledger (a row per result) is
    rewritten aside with the mark and swapped in (SparkWarehouse's publish), so a failure leaves it as it was."""
    spark_warehouse = SparkWarehouse(spark_session)
    with spark_warehouse.session() as session:
        if not session.has_table("segments", "scoring_runs"):
            return
        columns = session.columns("segments.scoring_runs")
        marked = "completed_at" in columns
        wanted = "result_id, completed_at" if marked else "result_id"
        latest = session.one(f"select {wanted} from segments.scoring_runs {LATEST}")
    if latest is None or (marked and latest[1] is not None):
        return
    mark = f"case when result_id = {sql_string(latest[0], SPARK)} then current_timestamp() end"
    kept = ", ".join(f"`{c}`" for c in columns if c != "completed_at")
    completed = f"coalesce(completed_at, {mark})" if marked else mark
    with spark_warehouse.publishing("segments") as publish:
        publish.table_as("scoring_runs", f"select {kept}, {completed} as completed_at from segments.scoring_runs")
    _log_complete(context, latest[0])


def _log_complete(context: dg.AssetExecutionContext, result_id: str) -> None:
    context.log.info(f"Result {result_id} complete: scores, segment marts and history in place "
                     "(segments.scoring_runs.completed_at).")
