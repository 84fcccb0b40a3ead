"""The daily path: assign every customer to the current model without refitting, and measure drift.

``segments.customer_scores`` is every customer's *current* segment: right after a refit it
equals the fit, and each scoring run replaces it (new customers get a segment, customers
whose features moved may change one). Scoring is one SQL statement built from the persisted
model (``ml.scoring_sql``) and drift is counted by another (``ml.drift``), so the customers
never leave the warehouse. Each run appends a row to ``segments.scoring_runs`` and its drift
measures to ``segments.drift_measures``, in the same publish as the scores: one transaction on DuckDB,
written aside and swapped in on Spark (``orchestration.lib.sql_warehouse``), where the run's engine puts it.
"""

import dataclasses
import datetime as dt
import time
import uuid

import dagster as dg
import pandas as pd
from pydantic import Field

from ml.drift import DriftThresholds, binned_counts_sql, breach_summary, drift_measures, long_counts
from ml.scoring_sql import scoring_sql, sql_number, sql_string
from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.lib.charts import migration_chart
from orchestration.lib.engine import refuse_run_reading_duckdb
from orchestration.lib.metadata import markdown_table
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL
from orchestration.lib.sql_warehouse import SqlSession, open_warehouse
from orchestration.lib.standing_result import StandingResult, scoring_inputs_fingerprint, standing_result
from orchestration.lib.warehouse import has_table

SCORES_KEY = dg.AssetKey(["segments", "customer_scores"])
FEATURES = "marts.customer_features_wide"
SEGMENTS = "segments.customer_segments"  # the fit
DRIFT_CHECK = "no_drift_since_fit"
DRIFT_BREACHES = "drift_breaches"  # metadata key the drift sensor reads


class ScoringConfig(dg.Config):
    feature_psi: float = DriftThresholds.feature_psi
    far_share: float = DriftThresholds.far_share
    segment_size_psi: float = DriftThresholds.segment_size_psi
    min_customers: int = DriftThresholds.min_customers
    rescore_unchanged: bool = Field(default=False, description=(
        "Score even when the features, model and thresholds are those of the latest published result (by "
        "default that result stands and the steps after scoring are skipped)."))

    def thresholds(self) -> DriftThresholds:
        return DriftThresholds(**self.model_dump(exclude={"rescore_unchanged"}))


LATEST_MODEL = "select run_id from segments.segmentation_runs order by finished_at desc limit 1"


def _model(sql: SqlSession) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    if not sql.has_table("segments", "segmentation_runs"):
        raise dg.Failure("No segmentation model yet: run the segment_customers job once before scoring.")
    (run,) = sql.one(LATEST_MODEL)
    # the model is a few hundred rows; the customers never leave the warehouse
    tables = [sql.df(f"select * from segments.{t} where run_id = {sql_string(run, sql.dialect)}")
              for t in ("model_scaling", "model_centroids", "model_reference")]
    return run, *tables


def _standing_result(context: dg.AssetExecutionContext, config: ScoringConfig,
                     warehouse: WarehouseResource) -> tuple[str | None, StandingResult | None]:
    """What this score is computed from (its fingerprint), and the latest result if scoring would repeat it."""
    with warehouse.connect(read_only=True) as con:
        if not has_table(con, "segments", "segmentation_runs"):
            return None, None  # no model: _model says so
        (model_run,) = con.execute(LATEST_MODEL).fetchone()
        fingerprint = scoring_inputs_fingerprint(con, model_run, dataclasses.asdict(config.thresholds()))
        if config.rescore_unchanged:
            return fingerprint, None
        return fingerprint, standing_result(con, context.instance, fingerprint)


MODEL_KEYS = [dg.AssetKey(["marts", "customer_features_wide"]), dg.AssetKey(["segments", "model_scaling"]),
              dg.AssetKey(["segments", "model_centroids"]), dg.AssetKey(["segments", "model_reference"])]
SCORING_TABLES = {
    "customer_scores": "Every customer's current segment under the latest model (no refit): segment, distance, "
                       "whether the customer is new since the fit or changed segment, the result it belongs to.",
    "scoring_runs": "One row per scoring result (a refit is scored straight away, then every daily score): model, "
                    "as-of date, customers, new and changed, and whether drift breached a threshold.",
    "drift_measures": "Per scoring result, every drift measure against the fit: feature PSI (base and per macro "
                      "segment), share far from every centroid, segment-size PSI; value, threshold, breached.",
}


@dg.multi_asset(
    # skippable: when the latest result stands (nothing it was scored from changed), none is written and the
    # steps after scoring are skipped (orchestration.lib.standing_result)
    specs=[dg.AssetSpec(dg.AssetKey(["segments", t]), description=d, deps=MODEL_KEYS, group_name="segmentation",
                        kinds={"sql", "duckdb", "spark"}, owners=OWNERS, skippable=True)
           for t, d in SCORING_TABLES.items()],
    check_specs=[dg.AssetCheckSpec(DRIFT_CHECK, asset=SCORES_KEY, description=(
        "Customers still look like the ones the model was fitted on: per-feature PSI (base and per macro segment), "
        "share beyond the fit's 95th percentile distance, and segment-size PSI under their thresholds."))],
    pool=WAREHOUSE_POOL,
)
def customer_scores(context: dg.AssetExecutionContext, config: ScoringConfig, warehouse: WarehouseResource,
                    engine: ComputeEngine):
    refuse_run_reading_duckdb(context, engine.engine)
    engine.require_ready()
    fingerprint, standing = (None, None) if engine.on_spark else _standing_result(context, config, warehouse)
    if standing:
        context.log.info(f"scores: {standing.why()}")
        yield dg.AssetCheckResult(
            check_name=DRIFT_CHECK, asset_key=SCORES_KEY, passed=not standing.drift_summary,
            severity=dg.AssetCheckSeverity.WARN, metadata={"result_id": standing.result_id, "unchanged": True},
            description=f"{standing.drift_summary or 'no drift measure past its threshold'} "
                        f"(result {standing.result_id}, unchanged)")
        return
    result_id = f"score-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    with open_warehouse(engine.on_spark, warehouse.resolved_path()) as tables, \
            tables.publishing("segments") as publish:
        sql, dialect = publish.sql, tables.dialect
        model_run, scaling, centroids, reference = _model(sql)
        p95 = reference.loc[reference["measure"] == "distance_p95", "value"]
        # the previous result, to chart where its customers went
        previous = (publish.previous("customer_scores", "customer_id, segment_id")
                    if sql.has_table("segments", "customer_scores") else None)
        publish.table_as("customer_scores", f"""
            select s.customer_id, s.macro_segment_id, s.segment_id, s.macro_distance, s.distance,
                   fit.segment_id as fitted_segment_id,
                   fit.segment_id is null as is_new_customer,
                   fit.segment_id is not null and s.segment_id <> fit.segment_id as changed_segment,
                   f.as_of_date,
                   {sql_string(model_run, dialect)} as model_run_id,
                   {sql_string(result_id, dialect)} as result_id,
                   current_timestamp as scored_at,
                   {sql_string(context.run.run_id, dialect)} as dagster_run_id
            from ({scoring_sql(scaling, centroids, FEATURES, dialect)}) as s
            inner join {FEATURES} as f on s.customer_id = f.customer_id
            left join {SEGMENTS} as fit on s.customer_id = fit.customer_id""")
        scores = publish.written("customer_scores")
        far_from_fit = f"distance > {sql_number(p95.iloc[0])}" if len(p95) else "false"
        total, new, changed, far, as_of, scored_at = sql.one(
            f"select count(*), sum(case when is_new_customer then 1 else 0 end), "
            f"sum(case when changed_segment then 1 else 0 end), "
            f"avg(case when {far_from_fit} then 1.0 else 0.0 end), max(as_of_date), max(scored_at) from {scores}")
        total, new, changed = int(total), int(new or 0), int(changed or 0)
        shares = sql.df(f"select segment_id, count(*) * 1.0 / sum(count(*)) over () as share "
                        f"from {scores} group by segment_id").set_index("segment_id")["share"]
        counts = long_counts(sql.df(binned_counts_sql(reference, FEATURES, SEGMENTS, dialect)),
                             reference) if len(reference) else pd.DataFrame(
            columns=["scope", "feature", "bin", "share", "customers"])
        measures = drift_measures(reference, counts, float(far or 0.0), shares, config.thresholds())
        summary = breach_summary(measures)
        publish.frames(replace={}, append={
            "drift_measures": measures.assign(result_id=result_id, model_run_id=model_run),
            "scoring_runs": pd.DataFrame([{
                "result_id": result_id, "dagster_run_id": context.run.run_id, "model_run_id": model_run,
                "engine": engine.engine,
                # the scores' own timestamp: the membership snapshot dates its spells by it
                "scored_at": scored_at, "as_of_date": as_of, "customers": total,
                "new_customers": new, "changed_segment": changed, "drift_breached": bool(summary),
                "drift_summary": summary}]).assign(
                    # what the result was scored from (None on Spark, or from features built by hand)
                    inputs_fingerprint=pd.Series([fingerprint], dtype="string")),
        })
        moves = sql.df(f"select fitted_segment_id, segment_id, count(*) as customers from {scores} "
                       f"where changed_segment group by fitted_segment_id, segment_id "
                       f"order by customers desc, fitted_segment_id, segment_id limit 15")
        migrations = sql.df(f"""
            select coalesce(p.segment_id, '(new)') as from_segment_id, coalesce(s.segment_id, '(gone)') as to_segment_id,
                   count(*) as customers
            from {previous} as p full outer join {scores} as s on p.customer_id = s.customer_id
            group by coalesce(p.segment_id, '(new)'), coalesce(s.segment_id, '(gone)')""") \
            if previous else pd.DataFrame()
        metadata = publish.metadata("customer_scores")
    seconds = time.perf_counter() - started
    context.log.info(f"Scored {total:,} customers in the warehouse in {seconds:.1f} s with model {model_run}: "
                     f"{new:,} new, {changed:,} changed segment; drift: {summary or 'none past its threshold'}.")
    yield dg.MaterializeResult(asset_key=["segments", "scoring_runs"], metadata={
        "dagster/table_name": "segments.scoring_runs", "rows_appended": 1, "result_id": result_id})
    yield dg.MaterializeResult(asset_key=["segments", "drift_measures"], metadata={
        "dagster/table_name": "segments.drift_measures", "rows_appended": len(measures), "result_id": result_id,
        "breached": int(measures["breached"].sum())})
    yield dg.MaterializeResult(asset_key=SCORES_KEY, metadata={
        **metadata, "model_run_id": model_run, "result_id": result_id, "new_customers": new,
        "changed_segment": changed, "changed_share": float(changed / max(total - new, 1)),
        "scoring_seconds": round(seconds, 2), DRIFT_BREACHES: summary,
        "largest_moves": markdown_table(moves, max_rows=15) if len(moves) else "none",
        **({"migrations": migration_chart(migrations),
            "moved_since_previous_result": int(migrations.loc[migrations["from_segment_id"] != migrations[
                "to_segment_id"], "customers"].sum())} if len(migrations) else {}),
    })
    yield dg.AssetCheckResult(
        check_name=DRIFT_CHECK, passed=not summary, severity=dg.AssetCheckSeverity.WARN,
        description=summary or "no drift measure past its threshold",
        metadata={"measures": markdown_table(measures.head(20).round(4), max_rows=20),
                  "far_from_centroids": float(far or 0.0), "model_run_id": model_run})
