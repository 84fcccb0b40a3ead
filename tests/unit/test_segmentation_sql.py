"""The segmentation's per-customer SQL on a real DuckDB gives what the pandas path gives."""

import duckdb
import numpy as np
import pandas as pd

from ml.segment_ids import _overlaps, match_segment_ids, match_from_overlaps, LevelOverlaps, overlaps_from_counts
from ml.segmentation_sql import overlaps_sql, relabel_sql, sample_sql


def _assignments(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    macro = rng.choice(["M1", "M2", "M3"], n)
    return pd.DataFrame({"customer_id": np.arange(n), "macro_segment_id": macro,
                         "segment_id": [f"{m}.{k}" for m, k in zip(macro, rng.integers(1, 3, n))],
                         "macro_distance": rng.random(n), "distance": rng.random(n)})


def test_the_sample_is_bounded_deterministic_and_independent_of_row_order():
    con = duckdb.connect()
    features = pd.DataFrame({"customer_id": np.arange(5_000), "x": np.arange(5_000) % 7})
    con.register("features", features)
    con.register("shuffled", features.sample(frac=1, random_state=3))
    first = con.execute(sample_sql("features", 500, 42, 5_000)).df()
    assert len(first) == 500 and first["customer_id"].is_monotonic_increasing
    assert first.equals(con.execute(sample_sql("shuffled", 500, 42, 5_000)).df())
    assert not first.equals(con.execute(sample_sql("features", 500, 7, 5_000)).df())  # another seed, another sample
    assert 0.3 < (first["customer_id"] < 2_500).mean() < 0.7  # spread over the ids, not their first 500
    everyone = con.execute(sample_sql("shuffled", 5_000, 42, 5_000)).df()
    assert everyone["customer_id"].tolist() == list(range(5_000))  # all of them when they fit, in id order


def test_overlaps_counted_in_sql_match_as_the_frames_do():
    previous, current = _assignments(1), _assignments(2, n=450)  # 50 customers are new
    far = pd.Series(np.random.default_rng(3).random(400) > 0.7, index=range(400))
    con = duckdb.connect()
    con.register("cur", current)
    con.register("prev", previous)
    con.register("far", pd.DataFrame({"customer_id": far.index, "far": far.astype(float).to_numpy()}))
    counts = con.execute(overlaps_sql("cur", "prev", "select * from far")).df()
    frames = match_segment_ids(previous[["customer_id", "macro_segment_id", "segment_id"]],
                               current[["customer_id", "macro_segment_id", "segment_id"]], far=far)
    for level, column in (("macro", "macro_segment_id"), ("micro", "segment_id")):
        cur = current.set_index("customer_id")[column]
        expected = _overlaps(previous.set_index("customer_id")[column].reindex(cur.index), cur,
                             far.reindex(cur.index).fillna(False).astype(float))
        got = overlaps_from_counts(counts[counts["level"] == level])
        pd.testing.assert_frame_equal(got[expected.columns], expected.sort_values(["previous", "current"],
                                      ignore_index=True), check_dtype=False)
    levels = {level: LevelOverlaps(overlaps_from_counts(counts[counts["level"] == level]),
                                   set(previous[column]), sorted(current[column].unique()))
              for level, column in (("macro", "macro_segment_id"), ("micro", "segment_id"))}
    assert match_from_overlaps(levels, set(previous["macro_segment_id"]) | set(previous["segment_id"])).mapping \
        == frames.mapping


def test_relabelling_writes_the_stable_ids_and_names():
    con = duckdb.connect()
    con.register("fitted", _assignments(4))
    mapping = {"M1": "M3", "M2": "M1", "M3": "M4", "M1.1": "M3.1", "M1.2": "M3.2", "M2.1": "M1.1", "M2.2": "M1.5",
               "M3.1": "M4.1", "M3.2": "M4.2"}
    out = con.execute(relabel_sql("fitted", mapping, {v: f"name {v}" for v in mapping.values()})).df()
    fitted = _assignments(4)
    assert out["segment_id"].tolist() == fitted["segment_id"].map(mapping).tolist()
    assert out["macro_segment_id"].tolist() == fitted["macro_segment_id"].map(mapping).tolist()
    assert (out["segment_name"] == "name " + out["segment_id"]).all()
