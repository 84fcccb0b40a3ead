"""Segmentation: marts.customer_features_wide -> segments.* tables, with a run ledger.

The asset fits on a bounded sample of the feature mart (``ml/``), then assigns, matches ids,
profiles and explains every customer inside the warehouse (``warehouse_steps``), judges the
blocking checks *before* publishing (a failed one is reported and publishes nothing), then
replaces the result tables and appends the ledger and model rows in one transaction.
"""


import datetime as dt
import time

import dagster as dg
import numpy as np
import pandas as pd

from ml.segment_ids import match_from_overlaps
from ml.segmentation import UNSTABLE_BELOW, SegmentationResult, fit_segments
from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.defs.segmentation.config import SegmentationRunConfig
from orchestration.defs.segmentation.run_record import (
    BLOCKING_CHECKS,
    blocking_verdicts,
    code_version,
    ledger_row,
    new_run_id,
    published_tables,
)
from orchestration.defs.segmentation.warehouse_steps import FEATURES, read_fit_input, work_tables
from orchestration.lib.charts import segments_chart
from orchestration.lib.engine import refuse_run_reading_duckdb
from orchestration.lib.metadata import frame_metadata, markdown_table
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL
from orchestration.lib.sql_warehouse import open_warehouse

FEATURES_KEY = dg.AssetKey(["marts", "customer_features_wide"])
SEGMENT_TABLES = {
    "customer_segments": "One row per customer: macro and micro segment, segment name, distance to its centroid, run_id.",
    "segment_profiles": "One row per macro and micro segment: size, value, name, description, KPIs with targets, "
                        "recommended channel/message/offer, budget share, stability, niche flag, run_id.",
    "segment_traits": "Long form: segment x feature with segment mean, population mean, index and z-score, run_id.",
    "segmentation_runs": "The run ledger: one row per segmentation run with its parameters, chosen k and every "
                         "candidate's scores, input fingerprint, code version and the dbt run that built the features.",
    "model_scaling": "Fitted feature scaling per level/parent and run_id: replay it to score new customers (also in SQL).",
    "model_centroids": "Centroids per segment in the scaled feature space, per run_id: nearest centroid = segment.",
    "model_reference": "What the customers looked like at fit time, per run_id: per-feature decile bins and shares "
                       "(base and per macro segment), the 95th percentile distance, segment shares. Drift is "
                       "measured against it.",
    "customer_explanations": "Why each customer is in their segment: up to 3 rows per customer (rank 1 = most), "
                             "the feature whose part of the margin over the runner-up segment is largest, that "
                             "part (contribution), and it in words (e.g. 'buys beauty 3.1x the average'), run_id.",
    "segment_lineage": "How each run's segments descend from the previous run's: previous and new id, shared "
                       "customers, Jaccard overlap, and the event (kept, split, merged, flow, new, retired).",
}
CHECK_DESCRIPTIONS = {
    "every_customer_assigned_once": "Every customer in customer_features has exactly one segment.",
    "no_segment_below_minimum_size": "No macro or micro segment is smaller than the configured minimum.",
    "segment_names_unique": "Segment names are unique across both levels.",
}


def _features_lineage(context: dg.AssetExecutionContext) -> dict[str, str | None]:
    """Which Dagster run (and dbt invocation) last built customer_features."""
    event = context.instance.get_latest_materialization_event(FEATURES_KEY)
    if event is None or event.asset_materialization is None:
        return {"features_dagster_run_id": None, "dbt_invocation_id": None}
    invocation = event.asset_materialization.metadata.get("invocation_id")
    return {"features_dagster_run_id": event.run_id, "dbt_invocation_id": getattr(invocation, "value", None)}


class Laps:
    """Seconds per step of the segmentation, for its log line and metadata (where a big base's time goes)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, step: str) -> float:
        now = time.perf_counter()
        self.seconds[step], self._last = round(now - self._last, 2), now
        return self.seconds[step]

    def __str__(self) -> str:
        return ", ".join(f"{step} {seconds:.1f}" for step, seconds in self.seconds.items())


REFIT_TRIGGER_TAG = "microseg/refit_trigger"  # set by the drift sensor: which measure launched the refit


def _refit_trigger(context: dg.AssetExecutionContext) -> str:
    tags = context.run.tags
    if REFIT_TRIGGER_TAG in tags:
        return tags[REFIT_TRIGGER_TAG]
    return f"schedule {tags['dagster/schedule_name']}" if "dagster/schedule_name" in tags else "manual"


def _profile_metadata(profiles: pd.DataFrame, result: SegmentationResult, features: pd.DataFrame,
                      seed: int) -> dict[str, object]:
    """What the UI shows for segment_profiles: sizes, scores and a chart of a few thousand customers."""
    candidates = result.candidates()
    chosen_macro = candidates[candidates["chosen"] & (candidates["level"] == "macro")]
    plotted = np.random.default_rng(seed).choice(len(features), size=min(len(features), 3000), replace=False)
    sizes = profiles[["level", "segment_id", "segment_name", "customers", "share_of_customers", "share_of_revenue",
                      "budget_share", "stability", "is_niche"]]
    return {
        "macro_segments": len(result.macro_ids),
        "micro_segments": sum(len(v) for v in result.micro_ids.values()),
        "segment_sizes": markdown_table(sizes.round(3), max_rows=200),
        "chosen_macro_k_silhouette": float(chosen_macro["silhouette"].iloc[0]) if len(chosen_macro) else 0.0,
        "mean_stability": float(profiles["stability"].mean()),
        # transform only the plotted customers, not the whole base
        "chart": segments_chart(profiles, result.macro.scaler.transform(features.iloc[plotted]),
                                result.assignments["macro_segment_id"].to_numpy()[plotted], seed),
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(dg.AssetKey(["segments", t]), description=d, group_name="segmentation", deps=[FEATURES_KEY],
                     kinds={"python", "scikitlearn", "duckdb", "spark"}, owners=OWNERS, skippable=True)
        for t, d in SEGMENT_TABLES.items()
    ],
    check_specs=[
        *[dg.AssetCheckSpec(name, asset=list(BLOCKING_CHECKS[name]), blocking=True, description=description)
          for name, description in CHECK_DESCRIPTIONS.items()],
        dg.AssetCheckSpec("segments_are_stable", asset=["segments", "segment_profiles"],
                          description=f"Every segment's bootstrap Jaccard stability is at least {UNSTABLE_BELOW}."),
    ],
    pool=WAREHOUSE_POOL,
)
def customer_segmentation(context: dg.AssetExecutionContext, config: SegmentationRunConfig,
                          warehouse: WarehouseResource, engine: ComputeEngine):
    """Fit macro and nested micro segments, profile them, and publish the results with a run ledger."""
    refuse_run_reading_duckdb(context, engine.engine)
    engine.require_ready()
    started = dt.datetime.now(dt.timezone.utc)
    fit_config = config.to_engine()
    laps = Laps()
    with open_warehouse(engine.on_spark, warehouse.resolved_path()) as tables:
        fit_input = read_fit_input(tables, config.fit_customers, fit_config.seed)
        inputs, sample = fit_input.inputs, fit_input.sample
        laps.lap("read the sample")
        if not inputs.customers:
            raise dg.Failure(f"{FEATURES} is empty: nothing to segment. Materialise the dbt models first.")
        fitted_on = "all of them" if len(sample) == inputs.customers else f"a sample of {len(sample):,}"
        context.log.info(f"Segmenting {inputs.customers:,} customers with {fit_config.algorithm}, "
                         f"seed {fit_config.seed}, fitted on {fitted_on}.")
        # warm-started from the published segments
        fitted = fit_segments(sample, fit_config, previous=fit_input.previous_sample, population=inputs.customers)
        laps.lap("fit")
        run_id = new_run_id(started)
        with work_tables(tables, run_id) as work:
            work.assign_fitted(fitted)
            laps.lap("assign every customer")
            # keep the previous run's ids where a segment still holds the same customers, who still fit it
            match = match_from_overlaps(work.overlaps(fit_input.previous_run_id), fit_input.issued)
            result = fitted.relabel(match.mapping)
            counts = work.assign_stable(match.mapping, inputs.customers)
            laps.lap("match ids")
            traits, profiles = work.profiles(result.stability(), config.total_budget)
            laps.lap("profile")

            verdicts = blocking_verdicts(counts, profiles, fit_config)
            failed = sorted(name for name, verdict in verdicts.items() if not verdict.passed)
            if failed:
                # report every verdict, failed ones with their reason, then stop: nothing is published
                for name, verdict in verdicts.items():
                    yield dg.AssetCheckResult(check_name=name, asset_key=list(BLOCKING_CHECKS[name]),
                                              passed=verdict.passed, description=verdict.reason,
                                              metadata=verdict.metadata)
                raise dg.Failure(f"Segmentation not published; failed checks: {failed}",
                                 metadata={name: dg.MetadataValue.text(verdicts[name].reason) for name in failed})

            ledger = ledger_row(run_id=run_id, dagster_run_id=context.run.run_id, started=started,
                                finished=dt.datetime.now(dt.timezone.utc), parameters=config.model_dump(),
                                result=result,
                                inputs=inputs, features_lineage=_features_lineage(context), version=code_version(),
                                history={"refit_trigger": _refit_trigger(context),
                                         "previous_run_id": fit_input.previous_run_id, "ids_kept": match.kept_share(),
                                         "engine": engine.engine})
            reference = work.reference(result, sample)
            laps.lap("drift reference")
            first_features, example = work.explain(result, sample)
            explain_seconds = laps.lap("explain")
            context.log.info(f"Explained {inputs.customers:,} customers in {explain_seconds:.1f} s.")
            replace, append = published_tables(run_id, result, profiles, traits, ledger,
                                               lineage=match.lineage.assign(previous_run_id=fit_input.previous_run_id),
                                               reference=reference)
            written = work.publish(run_id, profiles.set_index("segment_id")["segment_name"].to_dict(), replace, append)
            laps.lap("publish")
    context.log.info(f"Published run {run_id}: {len(result.macro_ids)} macro, "
                     f"{ledger['micro_k'].item()} micro segments for {inputs.customers:,} customers; "
                     f"{match.kept_share():.0%} of segments kept their id from "
                     f"{fit_input.previous_run_id or 'no previous run'}. Seconds per step: {laps}.")

    extra = {
        "segment_profiles": _profile_metadata(profiles, result, sample, fit_config.seed),
        "segmentation_runs": {"k_candidates": markdown_table(result.candidates().round(4), max_rows=100),
                              "seconds_per_step": laps.seconds},
        "segment_lineage": {"lineage": markdown_table(match.lineage.round(3), max_rows=100)},
        "customer_explanations": {
            "seconds": round(explain_seconds, 2),
            "top_features": markdown_table(first_features.rename("customers").rename_axis("feature")
                                           .reset_index().head(20)),
            "example": markdown_table(example.round(3))},
    }
    for table, metadata in written.items():  # the per-customer tables, written inside the warehouse
        yield dg.MaterializeResult(asset_key=["segments", table], metadata={
            **metadata, "run_id": run_id, **extra.get(table, {})})
    for table, df in replace.items():
        yield dg.MaterializeResult(asset_key=["segments", table], metadata={
            **frame_metadata(df, f"segments.{table}"), "run_id": run_id, **extra.get(table, {})})
    for table, df in append.items():  # history tables: this run's rows were appended
        yield dg.MaterializeResult(asset_key=["segments", table], metadata={
            "dagster/table_name": f"segments.{table}", "rows_appended": len(df), "run_id": run_id,
            **extra.get(table, {})})
    for name, verdict in verdicts.items():
        yield dg.AssetCheckResult(check_name=name, asset_key=list(BLOCKING_CHECKS[name]), passed=True,
                                  description=verdict.reason, metadata=verdict.metadata)
    unstable = profiles.loc[~profiles["is_stable"], ["segment_id", "stability"]]
    yield dg.AssetCheckResult(
        check_name="segments_are_stable", asset_key=["segments", "segment_profiles"], passed=unstable.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unstable_segments": markdown_table(unstable.round(3)) if len(unstable) else "none",
                  "min_stability": float(profiles["stability"].min())})
