"""Whether a daily score would only repeat the latest result: then the result stands and nothing downstream runs.

A score is a function of the features, the model and the drift thresholds. When the features are the last
complete build's to the digit (``feature_builds``: same raw tables, load ledger, vars and dbt code), the model is
the latest refit and the thresholds are the same, scoring again would write the same segments, drift, marts,
audiences and report. Each result records a fingerprint of those inputs (``segments.scoring_runs.inputs_fingerprint``);
the latest one stands when its fingerprint matches, its segment marts completed it (``completed_at``) and the
published snapshot was written after that, so analysts already see it.

DuckDB only: on Spark the feature build keeps no fingerprint (every build runs), so every score runs too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import dagster as dg
import duckdb

from orchestration.lib.feature_builds import RECORD as FEATURE_BUILDS
from orchestration.lib.settings import PUBLISHED_SNAPSHOT_ASSET
from orchestration.lib.warehouse import column_names, has_table


@dataclass(frozen=True)
class StandingResult:
    result_id: str
    dagster_run_id: str
    drift_summary: str

    def why(self) -> str:
        return (f"unchanged: the features (the same complete feature build), the model and the drift thresholds are "
                f"those result {self.result_id} (run {self.dagster_run_id}) was scored from, and its segment marts, "
                "audiences, report and snapshot are published; scoring again would repeat it, so the steps after "
                "this one are skipped (config rescore_unchanged: true scores anyway)")


def scoring_inputs_fingerprint(con: duckdb.DuckDBPyConnection, model_run_id: str, thresholds: dict) -> str | None:
    """Hash of what a score is computed from; None when the features are not a recorded complete build
    (a build by hand, a failed one): such a result never stands."""
    if not has_table(con, *FEATURE_BUILDS.split(".")):
        return None
    row = con.execute(f"select fingerprint from {FEATURE_BUILDS}").fetchone()
    if row is None:
        return None
    parts = {"features": row[0], "model_run_id": model_run_id, "thresholds": thresholds}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def standing_result(con: duckdb.DuckDBPyConnection, instance: dg.DagsterInstance,
                    fingerprint: str | None) -> StandingResult | None:
    """The latest result, if it was scored from these inputs and every step after it has published it."""
    if fingerprint is None:
        return None
    if not {"inputs_fingerprint", "completed_at"} <= column_names(con, "segments", "scoring_runs"):  # a ledger from before fingerprints: score
        return None
    row = con.execute("select result_id, dagster_run_id, inputs_fingerprint, completed_at, drift_summary "
                      "from segments.scoring_runs order by scored_at desc, result_id desc limit 1").fetchone()
    if row is None or row[2] != fingerprint or row[3] is None:
        return None
    # the last step of every job that scores: materialised after the result completed, analysts see that result
    snapshot = instance.get_latest_materialization_event(dg.AssetKey(PUBLISHED_SNAPSHOT_ASSET))
    completed = row[3] if row[3].tzinfo else row[3].replace(tzinfo=dt.timezone.utc)
    if snapshot is None or snapshot.timestamp < completed.timestamp():
        return None  # the run that completed it stopped before the snapshot (or another Dagster instance ran it)
    return StandingResult(result_id=row[0], dagster_run_id=row[1], drift_summary=row[4] or "")
