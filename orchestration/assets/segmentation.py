"""Segmentation assets: customer_features -> segments.* tables, with a run ledger.

The asset reads the feature mart, calls the pure functions in ``ml/``, checks the
result *before* publishing (a blocking check that fails publishes nothing), then
replaces the result tables and appends the ledger and model rows in one
transaction.
"""

import datetime as dt
import hashlib
import json
import subprocess
import uuid

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import Field

from ml.profiles import build_profiles, trait_table
from ml.segmentation import (
    DEFAULT_MACRO_WEIGHTS,
    DEFAULT_MICRO_WEIGHTS,
    UNSTABLE_BELOW,
    SegmentationConfig,
    model_tables,
    segment_customers,
)
from orchestration.assets.charts import segments_chart
from orchestration.assets.metadata import markdown_table, table_metadata
from orchestration.resources import OWNERS, WAREHOUSE_POOL, WarehouseResource
from orchestration.warehouse import PROJECT_ROOT, publish

FEATURES_KEY = dg.AssetKey(["marts", "customer_features"])
SEGMENT_TABLES = {
    "customer_segments": "One row per customer: macro and micro segment, segment name, distance to its centroid, run_id.",
    "segment_profiles": "One row per macro and micro segment: size, value, name, description, KPIs with targets, "
                        "recommended channel/message/offer, budget share, stability, niche flag, run_id.",
    "segment_traits": "Long form: segment x feature with segment mean, population mean, index and z-score, run_id.",
    "segmentation_runs": "The run ledger: one row per segmentation run with its parameters, chosen k and every "
                         "candidate's scores, input fingerprint, code version and the dbt run that built the features.",
    "model_scaling": "Fitted feature scaling per level/parent and run_id: replay it to score new customers (also in SQL).",
    "model_centroids": "Centroids per segment in the scaled feature space, per run_id: nearest centroid = segment.",
}


class SegmentationRunConfig(dg.Config):
    macro_k_min: int = Field(default=4, description="Fewest macro segments to consider.")
    macro_k_max: int = Field(default=8, description="Most macro segments to consider.")
    micro_k_min: int = Field(default=2, description="Fewest micro segments per macro segment.")
    micro_k_max: int = Field(default=6, description="Most micro segments per macro segment.")
    algorithm: str = Field(default="kmeans", description="'kmeans' (default; SQL-scorable) or 'gmm' (Gaussian mixture).")
    min_segment_share: float = Field(default=0.005, description="No segment smaller than this share of all customers.")
    min_segment_size: int = Field(default=25, description="Absolute floor on segment size, in customers.")
    seed: int = Field(default=42, description="Random seed; the same seed and data give identical segments.")
    sample_size: int = Field(default=20_000, description="Fit on at most this many customers per level (memory stays flat).")
    bootstrap_rounds: int = Field(default=3, description="Bootstrap refits per candidate k, for stability scores.")
    macro_weights: dict[str, float] = Field(
        default=dict(DEFAULT_MACRO_WEIGHTS),
        description="Weight per feature group at macro level (demographics, preferences, behaviour, channels, "
                    "engagement, geography); 0 leaves a group out.",
    )
    micro_weights: dict[str, float] = Field(default=dict(DEFAULT_MICRO_WEIGHTS),
                                            description="Weight per feature group at micro level.")
    total_budget: float = Field(default=100_000.0, description="Marketing budget to split across segments (currency units).")

    def to_engine(self) -> SegmentationConfig:
        fields = {k: v for k, v in self.model_dump().items() if k != "total_budget"}
        return SegmentationConfig(**fields)


def _code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _fingerprint(features: pd.DataFrame) -> str:
    ordered = features.sort_values("customer_id").reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes()).hexdigest()[:16]


def _features_lineage(context: dg.AssetExecutionContext) -> dict[str, str | None]:
    """Which Dagster run (and dbt invocation) last built customer_features."""
    event = context.instance.get_latest_materialization_event(FEATURES_KEY)
    if event is None:
        return {"features_dagster_run_id": None, "dbt_invocation_id": None}
    metadata = event.asset_materialization.metadata if event.asset_materialization else {}
    invocation = metadata.get("invocation_id")
    return {"features_dagster_run_id": event.run_id,
            "dbt_invocation_id": getattr(invocation, "value", None) if invocation is not None else None}


def _blocking_problems(features: pd.DataFrame, assignments: pd.DataFrame, config: SegmentationConfig,
                       profiles: pd.DataFrame) -> dict[str, str]:
    problems = {}
    counts = assignments["customer_id"].value_counts()
    if len(assignments) != len(features) or (counts != 1).any() or assignments["segment_id"].isna().any():
        problems["every_customer_assigned_once"] = (
            f"{len(features):,} customers in, {len(assignments):,} assignment rows, "
            f"{int((counts != 1).sum())} customers assigned more than once, "
            f"{int(assignments['segment_id'].isna().sum())} unassigned")
    min_size = config.min_size(len(features))
    small = profiles[profiles["customers"] < min_size]
    if len(small):
        problems["no_segment_below_minimum_size"] = (
            f"segments under {min_size} customers: {small[['segment_id', 'customers']].to_dict('records')}")
    return problems


@dg.multi_asset(
    specs=[
        dg.AssetSpec(dg.AssetKey(["segments", t]), description=d, group_name="segmentation", deps=[FEATURES_KEY],
                     kinds={"python", "scikitlearn", "duckdb"}, owners=OWNERS)
        for t, d in SEGMENT_TABLES.items()
    ],
    check_specs=[
        dg.AssetCheckSpec("every_customer_assigned_once", asset=["segments", "customer_segments"], blocking=True,
                          description="Every customer in customer_features has exactly one segment."),
        dg.AssetCheckSpec("no_segment_below_minimum_size", asset=["segments", "segment_profiles"], blocking=True,
                          description="No macro or micro segment is smaller than the configured minimum."),
        dg.AssetCheckSpec("segments_are_stable", asset=["segments", "segment_profiles"],
                          description=f"Every segment's bootstrap Jaccard stability is at least {UNSTABLE_BELOW}."),
        dg.AssetCheckSpec("segment_names_unique", asset=["segments", "segment_profiles"], blocking=True,
                          description="Segment names are unique across both levels."),
    ],
    pool=WAREHOUSE_POOL,
)
def customer_segmentation(context: dg.AssetExecutionContext, config: SegmentationRunConfig,
                          warehouse: WarehouseResource):
    """Fit macro and nested micro segments, profile them, and publish the results with a run ledger."""
    started = dt.datetime.now(dt.timezone.utc)
    engine = config.to_engine()
    features = warehouse.query_df("select * from marts.customer_features order by customer_id")
    if features.empty:
        raise dg.Failure("marts.customer_features is empty: nothing to segment. Materialise the dbt models first.")
    context.log.info(f"Segmenting {len(features):,} customers with {engine.algorithm}, seed {engine.seed}.")

    result = segment_customers(features, engine)
    traits = trait_table(features, result.assignments)
    profiles = build_profiles(features, result.assignments, result.stability(), traits, config.total_budget)
    run_id = f"seg-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"

    problems = _blocking_problems(features, result.assignments, engine, profiles)
    if not profiles["segment_name"].is_unique:
        problems["segment_names_unique"] = f"duplicated: {profiles.loc[profiles['segment_name'].duplicated(), 'segment_name'].tolist()}"
    unstable = profiles.loc[~profiles["is_stable"], ["segment_id", "stability"]]
    if problems:
        for name, why in problems.items():
            context.log.error(f"{name}: {why}")
        raise dg.Failure(f"Segmentation not published; failed checks: {sorted(problems)}",
                         metadata={k: dg.MetadataValue.text(v) for k, v in problems.items()})

    names = profiles.set_index("segment_id")["segment_name"]
    assignments = result.assignments.assign(segment_name=result.assignments["segment_id"].map(names), run_id=run_id)
    scaling, centroids = model_tables(result)
    candidates = result.candidates()
    lineage = _features_lineage(context)
    ledger = pd.DataFrame([{
        "run_id": run_id,
        "dagster_run_id": context.run.run_id,
        "started_at": started,
        "finished_at": dt.datetime.now(dt.timezone.utc),
        "algorithm": engine.algorithm,
        "macro_k": len(result.macro_ids),
        "micro_k": sum(len(v) for v in result.micro_ids.values()),
        "micro_k_by_macro": json.dumps({p: len(v) for p, v in result.micro_ids.items()}),
        "k_candidates": candidates.to_json(orient="records"),
        "parameters": json.dumps(config.model_dump(), sort_keys=True),
        "feature_columns": json.dumps(sorted(set(scaling["source_column"]))),
        "input_rows": len(features),
        "input_fingerprint": _fingerprint(features),
        "features_as_of": str(features["as_of_date"].iloc[0]),
        "code_version": _code_version(),
        **lineage,
    }])
    publish(
        "segments",
        replace={
            "customer_segments": assignments[["customer_id", "macro_segment_id", "segment_id", "segment_name",
                                              "macro_distance", "distance", "run_id"]],
            "segment_profiles": profiles.assign(run_id=run_id),
            "segment_traits": traits.assign(run_id=run_id),
        },
        append={
            "segmentation_runs": ledger,
            "model_scaling": scaling.assign(run_id=run_id),
            "model_centroids": centroids.assign(run_id=run_id),
        },
        path=warehouse.resolved_path(),
    )
    context.log.info(f"Published run {run_id}: {len(result.macro_ids)} macro, "
                     f"{ledger['micro_k'].item()} micro segments for {len(features):,} customers.")

    # the chart plots a few thousand customers: transform only those, not the whole base
    plotted = np.random.default_rng(engine.seed).choice(len(features), size=min(len(features), 3000), replace=False)
    chosen = candidates[candidates["chosen"]]
    sizes = profiles[["level", "segment_id", "segment_name", "customers", "share_of_customers", "share_of_revenue",
                      "budget_share", "stability", "is_niche"]]
    with warehouse.connect(read_only=True) as con:
        yield dg.MaterializeResult(asset_key=["segments", "customer_segments"], metadata={
            **table_metadata(con, "segments", "customer_segments"), "run_id": run_id})
        yield dg.MaterializeResult(asset_key=["segments", "segment_profiles"], metadata={
            **table_metadata(con, "segments", "segment_profiles"),
            "run_id": run_id,
            "macro_segments": len(result.macro_ids),
            "micro_segments": int(ledger["micro_k"].item()),
            "segment_sizes": markdown_table(sizes.round(3), max_rows=200),
            "chosen_macro_k_silhouette": float(chosen.query("level == 'macro'")["silhouette"].iloc[0])
            if len(chosen.query("level == 'macro'")) else 0.0,
            "mean_stability": float(profiles["stability"].mean()),
            "chart": segments_chart(profiles, result.macro.scaler.transform(features.iloc[plotted]),
                                    result.assignments["macro_segment_id"].to_numpy()[plotted], engine.seed),
        })
        yield dg.MaterializeResult(asset_key=["segments", "segment_traits"],
                                   metadata={**table_metadata(con, "segments", "segment_traits"), "run_id": run_id})
        yield dg.MaterializeResult(asset_key=["segments", "segmentation_runs"], metadata={
            **table_metadata(con, "segments", "segmentation_runs"), "run_id": run_id,
            "k_candidates": markdown_table(candidates.round(4), max_rows=100)})
        for table in ("model_scaling", "model_centroids"):
            yield dg.MaterializeResult(asset_key=["segments", table],
                                       metadata={**table_metadata(con, "segments", table), "run_id": run_id})

    yield dg.AssetCheckResult(check_name="every_customer_assigned_once", asset_key=["segments", "customer_segments"],
                              passed=True, metadata={"customers": len(features)})
    yield dg.AssetCheckResult(check_name="no_segment_below_minimum_size", asset_key=["segments", "segment_profiles"],
                              passed=True, metadata={"minimum": engine.min_size(len(features)),
                                                     "smallest": int(profiles["customers"].min())})
    yield dg.AssetCheckResult(check_name="segment_names_unique", asset_key=["segments", "segment_profiles"],
                              passed=True, metadata={"segments": len(profiles)})
    yield dg.AssetCheckResult(
        check_name="segments_are_stable", asset_key=["segments", "segment_profiles"], passed=unstable.empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unstable_segments": markdown_table(unstable.round(3)) if len(unstable) else "none",
                  "min_stability": float(profiles["stability"].min())})


@dg.asset_check(
    asset=dg.AssetKey(["segments", "customer_segments"]),
    additional_deps=[dg.AssetKey(["eval", "planted_personas"])],
    description="Synthetic data only: adjusted Rand index of segments against the planted personas "
                "(bar: macro >= 0.9, micro >= 0.8). Skipped when eval.planted_personas is absent.",
)
def planted_persona_recovery(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from sklearn.metrics import adjusted_rand_score

    with warehouse.connect(read_only=True) as con:
        has_eval = con.execute("select count(*) from information_schema.tables "
                               "where table_schema = 'eval' and table_name = 'planted_personas'").fetchone()[0]
        if not has_eval:
            return dg.AssetCheckResult(passed=True, metadata={"skipped": "no eval.planted_personas (real data)"})
        df = con.execute("select s.macro_segment_id, s.segment_id, p.macro_persona, p.micro_persona "
                         "from segments.customer_segments s join eval.planted_personas p using (customer_id)").df()
    macro = adjusted_rand_score(df["macro_persona"], df["macro_segment_id"])
    micro = adjusted_rand_score(df["micro_persona"], df["segment_id"])
    return dg.AssetCheckResult(
        passed=bool(macro >= 0.9 and micro >= 0.8), severity=dg.AssetCheckSeverity.WARN,
        metadata={"macro_ari": float(np.round(macro, 4)), "micro_ari": float(np.round(micro, 4)),
                  "customers": len(df)},
    )
