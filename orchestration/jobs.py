"""Jobs users launch from the UI or schedule."""

import dagster as dg

FEATURE_GROUPS = ("raw", "evaluation", "staging", "intermediate", "marts")
SCORES = dg.AssetSelection.assets(["segments", "customer_scores"])
SEGMENTATION = dg.AssetSelection.groups("segmentation", "segment_marts") - SCORES

refresh_features = dg.define_asset_job(
    "refresh_features",
    selection=dg.AssetSelection.groups(*FEATURE_GROUPS),
    description="Raw exports -> dbt staging, intermediate and marts (customer_features, data_quality_report).",
)

segment_customers = dg.define_asset_job(
    "segment_customers",
    selection=SEGMENTATION,
    description="Full refit: segmentation, profiles, the run ledger and the dbt models over the results.",
)

score_customers = dg.define_asset_job(
    "score_customers",
    selection=dg.AssetSelection.groups("staging", "intermediate", "marts") | SCORES,
    description="Fast daily path: rebuild features from the raw tables and assign every customer to the current "
                "model without refitting.",
)

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all() - SCORES,
    description="Everything: raw exports -> dbt features -> segmentation and profiles -> dbt segment models.",
)

ingest_and_score = dg.define_asset_job(
    "ingest_and_score",
    selection=dg.AssetSelection.groups("raw", "staging", "intermediate", "marts") | SCORES,
    description="Launched by inbox_sensor: append dropped files to raw, rebuild features, score customers.",
)

JOBS = [refresh_features, segment_customers, score_customers, full_pipeline, ingest_and_score]
