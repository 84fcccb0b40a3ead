"""The segmentation's pure helpers: blocking verdicts and the ledger row, on small frames."""

import datetime as dt
import json

import pandas as pd

from ml.segmentation import SegmentationConfig, fit_segments
from orchestration.defs.segmentation.run_record import (AssignmentCounts, InputSummary, blocking_verdicts,
                                                         ledger_row, published_tables)
from tests.unit.planted_frames import planted_features

FAST = SegmentationConfig(bootstrap_rounds=1, macro_k_min=2, macro_k_max=4, micro_k_min=1, micro_k_max=2,
                          silhouette_sample=500)


def _profiles(ids, sizes, names=None):
    return pd.DataFrame({"segment_id": ids, "customers": sizes, "segment_name": names or ids})


def test_verdicts_say_why_a_blocking_check_fails():
    features = pd.DataFrame({"customer_id": [1, 2, 3]})
    assignments = pd.DataFrame({"customer_id": [1, 2, 2], "segment_id": ["M1.1", "M1.1", None]})
    verdicts = blocking_verdicts(AssignmentCounts.of(features, assignments), _profiles(["M1", "M1.1"], [3, 3], ["A", "A"]),
                                 SegmentationConfig(min_segment_size=25))
    assert not verdicts["every_customer_assigned_once"].passed
    assert "1 customers assigned more than once, 1 unassigned" in verdicts["every_customer_assigned_once"].reason
    assert not verdicts["no_segment_below_minimum_size"].passed
    assert "minimum of 25" in verdicts["no_segment_below_minimum_size"].reason
    assert verdicts["segment_names_unique"].reason == "duplicated names: ['A']"


def test_verdicts_pass_on_a_clean_assignment():
    features = pd.DataFrame({"customer_id": range(60)})
    assignments = pd.DataFrame({"customer_id": range(60), "segment_id": ["M1.1"] * 30 + ["M1.2"] * 30})
    verdicts = blocking_verdicts(AssignmentCounts.of(features, assignments), _profiles(["M1", "M1.1", "M1.2"], [60, 30, 30]),
                                 SegmentationConfig(min_segment_size=25))
    assert all(v.passed for v in verdicts.values())


def test_the_ledger_row_records_parameters_input_and_model():
    features = planted_features(n_per_micro=60).drop(columns=["macro_truth", "micro_truth"])
    features["as_of_date"] = "2026-06-30"
    result = fit_segments(features, FAST)
    t = dt.datetime(2026, 6, 30, tzinfo=dt.timezone.utc)
    row = ledger_row(run_id="seg-1", dagster_run_id="abc", started=t, finished=t, parameters={"algorithm": "kmeans",
                     "seed": 42}, result=result, inputs=InputSummary.of_frame(features), features_lineage={},
                     version="deadbee").iloc[0]
    assert row["input_rows"] == len(features) and row["features_as_of"] == "2026-06-30"
    assert row["macro_k"] == len(result.macro_ids) and json.loads(row["parameters"])["seed"] == 42
    assert "net_revenue" in json.loads(row["feature_columns"])
    shuffled = ledger_row(run_id="seg-2", dagster_run_id="abc", started=t, finished=t, parameters={"algorithm": "x"},
                          result=result, inputs=InputSummary.of_frame(features.sample(frac=1, random_state=1)),
                          features_lineage={},
                          version="deadbee").iloc[0]
    assert shuffled["input_fingerprint"] == row["input_fingerprint"]  # order of rows does not matter
    replace, append = published_tables("seg-1", result, _profiles(["M1"], [len(features)]), pd.DataFrame(),
                                       ledger=pd.DataFrame([row]))
    assert set(replace) == {"segment_profiles", "segment_traits"}  # the per-customer ones: in the warehouse
    assert set(append) == {"segmentation_runs", "model_scaling", "model_centroids"}
    assert (replace["segment_profiles"]["run_id"] == "seg-1").all()
