"""Jobs users launch from the UI or schedule."""

import dagster as dg

# modules, not their objects: an asset or job imported by name is loaded again from the importing file
from orchestration.defs.audiences import assets as audiences
from orchestration.defs.scoring import assets as scoring
from orchestration.defs.snapshot import assets as snapshot
from orchestration.defs.transform import assets as transform

RAW = dg.AssetSelection.groups("raw")
DEMO = dg.AssetSelection.groups("demo")  # empty unless demo mode is on
FEATURES = dg.AssetSelection.assets(transform.dbt_features)
SCORES = dg.AssetSelection.assets(scoring.customer_scores)
SEGMENT_MARTS = dg.AssetSelection.assets(transform.dbt_segment_marts)  # incl. the membership snapshot
# audiences follow every new result (refit or daily score), so the exports show the current segments
AUDIENCES = dg.AssetSelection.assets(audiences.segment_exports)
# a refit is followed by scoring, so customer_scores (everyone's current segment) always follows the model
SEGMENTATION = dg.AssetSelection.groups("segmentation") | SEGMENT_MARTS
REPORT = dg.AssetSelection.groups("report")  # the segment report, after the marts
# last in every job: the copy analysts query, so it always holds one complete run's results
SNAPSHOT = dg.AssetSelection.assets(snapshot.published_snapshot)

refresh_features = dg.define_asset_job(
    "refresh_features",
    selection=DEMO | RAW | FEATURES | SNAPSHOT,
    description="Exports -> raw tables -> dbt staging, intermediate and marts (customer_features, data_quality_report).",
)

segment_customers = dg.define_asset_job(
    "segment_customers",
    selection=SEGMENTATION | AUDIENCES | REPORT | SNAPSHOT,
    description="Full refit: segmentation (ids kept where segments persist), profiles, the run ledger, scoring, "
                "the dbt marts over the results (membership history, migrations, uplift), the audience exports "
                "and the segment report.",
)

score_customers = dg.define_asset_job(
    "score_customers",
    selection=FEATURES | SCORES | SEGMENT_MARTS | AUDIENCES | REPORT | SNAPSHOT,
    description="Fast daily path: rebuild features from the raw tables, assign every customer to the current "
                "model without refitting, measure drift, update the membership history and migrations, "
                "export the audiences (with the day's movers in the deltas) and the segment report.",
)

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Everything: exports -> raw -> dbt features -> segmentation, profiles and scores -> dbt segment marts.",
)

ingest_and_score = dg.define_asset_job(
    "ingest_and_score",
    selection=RAW | FEATURES | SCORES | SEGMENT_MARTS | AUDIENCES | REPORT | SNAPSHOT,
    description="Launched by inbox_sensor: append dropped files to raw, rebuild features, score customers.",
)
