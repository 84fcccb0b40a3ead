"""The microseg code location: loaded by `dagster dev` / `make ui` through workspace.yaml.

Importing this module opens no warehouse connection and runs no dbt command.
"""

import dagster as dg

from orchestration.assets.dbt_models import dbt_models, dbt_segment_models
from orchestration.assets.raw_sources import demo_raw_exports
from orchestration.assets.segmentation import customer_segmentation, planted_persona_recovery
from orchestration.assets.scoring import customer_scores
from orchestration.jobs import JOBS
from orchestration.resources import build_resources
from orchestration.schedules import SCHEDULES
from orchestration.sensors import SENSORS

defs = dg.Definitions(
    # code references: the UI links each Python asset to its source file (dbt models link via the translator)
    assets=dg.with_source_code_references(
        [demo_raw_exports, dbt_models, customer_segmentation, dbt_segment_models, customer_scores]
    ),
    asset_checks=[planted_persona_recovery],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=build_resources(),
)
