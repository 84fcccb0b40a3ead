"""Drift that acts: when a scoring run finds customers drifted past a threshold, refit.

Each scoring run puts its breached drift measures in its materialisation's metadata; this
sensor reads the latest one from the Dagster instance (not the warehouse, so it never holds
DuckDB's lock) and launches ``segment_customers`` once per drifted result, tagging the run
with what triggered it (the segmentation writes that into its ledger row). The weekly
schedule can stay as a fallback.
"""

import dagster as dg

from orchestration.defs.automation import jobs
from orchestration.defs.scoring.assets import DRIFT_BREACHES, SCORES_KEY
from orchestration.defs.segmentation.assets import REFIT_TRIGGER_TAG

TAG_LIMIT = 1000  # run tags are for reading, not for storing every measure


@dg.sensor(job=jobs.segment_customers, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launches a refit when the latest scoring run breached a drift threshold (once per result).")
def drift_sensor(context: dg.SensorEvaluationContext):
    event = context.instance.get_latest_materialization_event(SCORES_KEY)
    if event is None or event.asset_materialization is None:
        return dg.SkipReason("No scoring run yet.")
    metadata = event.asset_materialization.metadata
    breaches = getattr(metadata.get(DRIFT_BREACHES), "value", "")
    result_id = getattr(metadata.get("result_id"), "value", event.run_id)
    if not breaches:
        return dg.SkipReason(f"Latest scores ({result_id}) show no drift past a threshold.")
    if context.cursor == result_id:
        return dg.SkipReason(f"A refit was already launched for {result_id}.")
    context.update_cursor(result_id)
    context.log.info(f"Drift in {result_id}: {breaches}. Launching segment_customers.")
    return dg.RunRequest(run_key=f"refit-after-{result_id}",
                         tags={REFIT_TRIGGER_TAG: f"drift in {result_id}: {breaches}"[:TAG_LIMIT]})
