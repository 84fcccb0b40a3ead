"""Stable segment ids: a refit's segments keep their predecessors' ids where customers overlap strongly."""

import pandas as pd

from ml.segment_ids import match_segment_ids


def _result(segments: dict[str, range]) -> pd.DataFrame:
    rows = [(c, s.split(".")[0], s) for s, customers in segments.items() for c in customers]
    return pd.DataFrame(rows, columns=["customer_id", "macro_segment_id", "segment_id"])


def test_an_unchanged_refit_keeps_every_id_even_when_numbered_differently():
    previous = _result({"M1.1": range(0, 60), "M1.2": range(60, 100), "M2.1": range(100, 130)})
    # the refit numbers by size afresh: the old M2 is now M1 and vice versa
    current = _result({"M2.1": range(0, 60), "M2.2": range(60, 100), "M1.1": range(100, 130)})
    match = match_segment_ids(previous, current)
    assert match.mapping == {"M2": "M1", "M1": "M2", "M2.1": "M1.1", "M2.2": "M1.2", "M1.1": "M2.1"}
    assert set(match.lineage["event"]) == {"kept"}


def test_a_split_gets_a_new_id_and_a_retired_id_is_never_reused():
    previous = _result({"M1.1": range(0, 100), "M1.2": range(100, 150)})
    # M1.1 splits in two, most of M1.2's customers leave the base; M1.3 was issued (and retired) long ago
    current = _result({"M1.1": range(0, 60), "M1.2": range(60, 110)})
    match = match_segment_ids(previous, current, issued={"M1.3"})
    assert match.mapping["M1.1"] == "M1.1"  # jaccard 0.6: a strong match keeps the id
    assert match.mapping["M1.2"] == "M1.4"  # neither M1.2 (jaccard 10/90) nor the retired M1.3
    lineage = match.lineage[match.lineage["level"] == "micro"]
    split = lineage[lineage["previous_segment_id"] == "M1.1"]
    assert set(split["segment_id"]) == {"M1.1", "M1.4"} and set(split["event"]) == {"kept", "split"}
    assert lineage.loc[lineage["segment_id"] == "M1.4", "previous_segment_id"].tolist() == ["M1.1", "M1.2"]
    assert "retired" in set(lineage.loc[lineage["previous_segment_id"] == "M1.2", "event"])


def test_a_first_run_keeps_the_fitted_ids():
    current = _result({"M1.1": range(0, 10), "M2.1": range(10, 20)})
    assert match_segment_ids(None, current).mapping == {"M1": "M1", "M2": "M2", "M1.1": "M1.1", "M2.1": "M2.1"}


def test_the_same_customers_who_no_longer_fit_their_segment_get_a_new_id():
    previous = _result({"M1.1": range(0, 100), "M1.2": range(100, 200)})
    current = _result({"M1.1": range(0, 100), "M1.2": range(100, 200)})
    far = pd.Series(range(200), index=range(200)).ge(110)  # most of M1.2 scored far from its old centroid
    match = match_segment_ids(previous, current, far=far)
    assert match.mapping["M1.1"] == "M1.1" and match.mapping["M1.2"] == "M1.3"
    row = match.lineage[(match.lineage["level"] == "micro") & (match.lineage["previous_segment_id"] == "M1.2")]
    assert row["event"].tolist()[0] == "redefined" and row["segment_id"].tolist()[0] == "M1.3"
