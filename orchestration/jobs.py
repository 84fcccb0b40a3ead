"""Jobs users launch or schedule."""

import dagster as dg

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Everything: raw exports -> dbt staging/intermediate/marts (and, downstream, segmentation).",
)
