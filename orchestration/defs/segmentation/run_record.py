"""Pure helpers of the segmentation asset, testable without Dagster or a warehouse:
the blocking checks' verdicts, the run ledger row and the published tables."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import uuid
from dataclasses import dataclass

import pandas as pd

from ml.segmentation import SegmentationConfig, SegmentationResult, model_tables
from orchestration.lib.settings import PROJECT_ROOT

# the blocking checks, in the order they are reported; a failure in any publishes nothing
BLOCKING_CHECKS = {
    "every_customer_assigned_once": ("segments", "customer_segments"),
    "no_segment_below_minimum_size": ("segments", "segment_profiles"),
    "segment_names_unique": ("segments", "segment_profiles"),
}


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str
    metadata: dict


def new_run_id(started: dt.datetime) -> str:
    return f"seg-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class AssignmentCounts:
    """What the every-customer-once check judges, counted where the assignment is (the warehouse)."""
    customers: int  # in the feature mart
    rows: int  # assignment rows
    repeated: int  # customers with more than one row
    unassigned: int  # rows without a segment

    @classmethod
    def of(cls, features: pd.DataFrame, assignments: pd.DataFrame) -> "AssignmentCounts":
        counts = assignments["customer_id"].value_counts()
        return cls(len(features), len(assignments), int((counts != 1).sum()),
                   int(assignments["segment_id"].isna().sum()))


def blocking_verdicts(counts: AssignmentCounts, profiles: pd.DataFrame,
                      config: SegmentationConfig) -> dict[str, Verdict]:
    """Every blocking check's verdict, with the reason a user reads when it fails."""
    repeated, unassigned = counts.repeated, counts.unassigned
    once = counts.rows == counts.customers and repeated == 0 and unassigned == 0
    min_size = config.min_size(counts.customers)
    small = profiles.loc[profiles["customers"] < min_size, ["segment_id", "customers"]]
    duplicated = profiles.loc[profiles["segment_name"].duplicated(), "segment_name"].tolist()
    return {
        "every_customer_assigned_once": Verdict(
            once,
            "every customer has exactly one segment" if once else
            f"{counts.customers:,} customers in, {counts.rows:,} assignment rows, {repeated} customers assigned "
            f"more than once, {unassigned} unassigned",
            {"customers": counts.customers, "assignment_rows": counts.rows}),
        "no_segment_below_minimum_size": Verdict(
            small.empty,
            f"smallest segment has {int(profiles['customers'].min()):,} customers (minimum {min_size:,})" if small.empty
            else f"segments under the minimum of {min_size:,} customers: {small.to_dict('records')}",
            {"minimum": min_size, "smallest": int(profiles["customers"].min())}),
        "segment_names_unique": Verdict(
            not duplicated,
            f"{len(profiles)} names, all unique" if not duplicated else f"duplicated names: {duplicated}",
            {"segments": len(profiles)}),
    }


def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@dataclass(frozen=True)
class InputSummary:
    """The segmented input as the ledger records it: its size, as-of date and a fingerprint of its rows."""
    customers: int
    as_of_date: str | None
    fingerprint: str
    fitted_on: int  # customers the fit saw (all of them, or a sample of this many)

    @classmethod
    def of_frame(cls, features: pd.DataFrame) -> "InputSummary":
        """From the whole input in a frame: the fingerprint hashes its rows, independent of their order."""
        ordered = features.sort_values("customer_id").reset_index(drop=True)
        digest = hashlib.sha256(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
        as_of = str(features["as_of_date"].iloc[0]) if "as_of_date" in features and len(features) else None
        return cls(len(features), as_of, digest.hexdigest()[:16], len(features))

    @classmethod
    def of_checksum(cls, customers: int, as_of_date, checksum, fitted_on: int) -> "InputSummary":
        """From the warehouse's count and order-independent checksum (``ml.segmentation_sql.input_summary_sql``)."""
        digest = hashlib.sha256(f"{customers}:{checksum}".encode())
        return cls(int(customers), None if as_of_date is None else str(as_of_date), digest.hexdigest()[:16],
                   int(fitted_on))


def ledger_row(*, run_id: str, dagster_run_id: str, started: dt.datetime, finished: dt.datetime,
               parameters: dict, result: SegmentationResult, inputs: InputSummary,
               features_lineage: dict[str, str | None], version: str, history: dict | None = None) -> pd.DataFrame:
    """One row of segments.segmentation_runs: what ran, with which parameters, on which input."""
    return pd.DataFrame([{
        "run_id": run_id,
        "dagster_run_id": dagster_run_id,
        "started_at": started,
        "finished_at": finished,
        "algorithm": parameters["algorithm"],
        "macro_k": len(result.macro_ids),
        "micro_k": sum(len(v) for v in result.micro_ids.values()),
        "micro_k_by_macro": json.dumps({p: len(v) for p, v in result.micro_ids.items()}),
        "k_candidates": result.candidates().to_json(orient="records"),
        "parameters": json.dumps(parameters, sort_keys=True),
        "feature_columns": json.dumps(sorted({c for model in (result.macro, *result.micro.values())
                                               for c in model.scaler.params["source_column"]})),
        # columns the fit could not use (missing, no data, constant), at the macro level
        "features_left_out": json.dumps(result.macro.scaler.left_out, sort_keys=True),
        "input_rows": inputs.customers,
        "input_fingerprint": inputs.fingerprint,
        "features_as_of": inputs.as_of_date,
        "fitted_on_customers": inputs.fitted_on,
        "code_version": version,
        "features_dagster_run_id": features_lineage.get("features_dagster_run_id"),
        "dbt_invocation_id": features_lineage.get("dbt_invocation_id"),
        # why this refit ran (manual, a schedule, or the drift measure that triggered it), what it followed,
        # and the share of its segments that kept their id
        **{"refit_trigger": "manual", "previous_run_id": None, "ids_kept": None, "engine": "duckdb",
           **(history or {})},
    }]).astype({"previous_run_id": "string", "refit_trigger": "string", "ids_kept": "float64"})


def drift_columns(result: SegmentationResult) -> list[str]:
    """The numeric feature columns any level of the model uses: what drift is measured on."""
    params = pd.concat([m.scaler.params for m in (result.macro, *result.micro.values())])
    return sorted(params.loc[params["kind"] == "numeric", "source_column"].unique())


def published_tables(run_id: str, result: SegmentationResult, profiles: pd.DataFrame, traits: pd.DataFrame,
                     ledger: pd.DataFrame, lineage: pd.DataFrame | None = None, reference: pd.DataFrame | None = None,
                     ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(tables replaced, tables appended) in segments.*, every row tagged with the run id: the tables made in
    Python. The per-customer ones (customer_segments, customer_explanations) are written inside the warehouse.

    The ledger row is appended with the model, so a run is in the ledger exactly when its results are published.
    """
    scaling, centroids = model_tables(result)
    replace = {
        "segment_profiles": profiles.assign(run_id=run_id),
        "segment_traits": traits.assign(run_id=run_id),
    }
    append = {
        "segmentation_runs": ledger,
        "model_scaling": scaling.assign(run_id=run_id),
        "model_centroids": centroids.assign(run_id=run_id),
    }
    if lineage is not None:
        # text columns typed as text even when a first run has no previous ids
        append["segment_lineage"] = lineage.assign(run_id=run_id).astype(
            {"previous_segment_id": "string", "segment_id": "string", "previous_run_id": "string"})
    if reference is not None:
        append["model_reference"] = reference.assign(run_id=run_id)
    return replace, append
