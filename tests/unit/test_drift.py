"""Drift measures: bins counted in SQL match the reference's, and a shift in one group is found where it is."""

import duckdb
import numpy as np
import pandas as pd

from ml.drift import bin_edges, binned_counts_sql, drift_measures, long_counts, reference_table


def _base(seed: int = 0, n: int = 2000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    macro = np.where(np.arange(n) < n // 2, "M1", "M2")
    features = pd.DataFrame({"customer_id": np.arange(n), "store_order_share": rng.beta(8, 2, n),
                             "net_revenue": rng.lognormal(4, 1, n), "is_repeat_buyer": rng.integers(0, 2, n)})
    features.loc[5, "net_revenue"] = np.nan
    assignments = pd.DataFrame({"customer_id": features["customer_id"], "macro_segment_id": macro,
                                "segment_id": np.char.add(macro, ".1"), "distance": rng.gamma(2, 1, n)})
    return features, assignments


def _measure(features, assignments, reference):
    with duckdb.connect() as con:
        con.register("features", features)
        con.register("fitted", assignments)
        wide = con.execute(binned_counts_sql(reference, "features", "fitted")).df()
    return long_counts(wide, reference)


def test_sql_counts_reproduce_the_reference_and_unchanged_data_does_not_drift():
    features, assignments = _base()
    columns = ["store_order_share", "net_revenue", "is_repeat_buyer"]
    reference = reference_table(features, assignments, bin_edges(features, columns))
    counts = _measure(features, assignments, reference)
    ref = reference[reference["measure"] == "feature_bin"].merge(counts, on=["scope", "feature", "bin"])
    assert np.allclose(ref["value"], ref["share"])  # the warehouse bins exactly as the fit did
    measures = drift_measures(reference, counts, 0.05, assignments["segment_id"].value_counts(normalize=True))
    assert not measures["breached"].any()


def test_a_shift_in_one_macro_is_flagged_on_that_feature_there():
    features, assignments = _base()
    columns = ["store_order_share", "net_revenue", "is_repeat_buyer"]
    reference = reference_table(features, assignments, bin_edges(features, columns))
    shifted = features.copy()
    movers = np.arange(len(features)) < 300  # 30% of M1 move from store to app
    shifted.loc[movers, "store_order_share"] = 0.05
    measures = drift_measures(reference, _measure(shifted, assignments, reference), 0.05,
                              assignments["segment_id"].value_counts(normalize=True))
    breached = measures[measures["breached"]]
    assert set(zip(breached["scope"], breached["feature"])) >= {("M1", "store_order_share")}
    assert "net_revenue" not in set(breached["feature"]) and "M2" not in set(breached["scope"])
