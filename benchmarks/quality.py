"""Segmentation quality on the demo warehouse: prints figures, asserts nothing.

Run after `make run` (it reads marts.customer_features_wide and eval.planted_personas):
    .venv/bin/python benchmarks/quality.py
Reports adjusted Rand index against the planted personas at both levels, next to a
naive baseline (plain k-means, same k, on the unprepared feature table); whether a
rerun with the same seed is identical; and macro agreement between two seeds.
"""

import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score as ari

from ml.segmentation import SegmentationConfig, fit_segments
from orchestration.lib.settings import warehouse_path
from orchestration.lib.warehouse import query_df


def main() -> None:
    df = query_df("select f.*, p.macro_persona, p.micro_persona from marts.customer_features_wide f "
                  "join eval.planted_personas p using (customer_id) order by customer_id")
    features = df.drop(columns=["macro_persona", "micro_persona"])
    config = SegmentationConfig()  # the defaults make run uses
    print(f"warehouse {warehouse_path()}: {len(df):,} customers, "
          f"{df['macro_persona'].nunique()} planted macro / {df['micro_persona'].nunique()} micro personas")

    t = time.perf_counter()
    first = fit_segments(features, config)
    fit_s = time.perf_counter() - t
    a = first.assignments
    macro_k, micro_k = len(first.macro_ids), a["segment_id"].nunique()
    macro_ari = ari(df["macro_persona"], a["macro_segment_id"])
    micro_ari = ari(df["micro_persona"], a["segment_id"])

    numeric = features.select_dtypes("number").drop(columns=["customer_id"]).fillna(0)
    naive_macro = KMeans(macro_k, n_init=8, random_state=42).fit_predict(numeric)
    naive_micro = KMeans(micro_k, n_init=8, random_state=42).fit_predict(numeric)

    again = fit_segments(features, config).assignments
    other = fit_segments(features, SegmentationConfig(seed=7)).assignments
    sizes = a["segment_id"].value_counts()

    rows = [
        ("macro segments (chosen k)", macro_k, ""),
        ("micro segments (chosen k)", micro_k, ""),
        ("macro ARI vs planted", f"{macro_ari:.3f}", f"naive baseline {ari(df['macro_persona'], naive_macro):.3f}"),
        ("micro ARI vs planted", f"{micro_ari:.3f}", f"naive baseline {ari(df['micro_persona'], naive_micro):.3f}"),
        ("smallest segment", int(sizes.min()), f"minimum allowed {config.min_size(len(df))}"),
        ("same seed rerun identical", bool(a.equals(again)), ""),
        ("macro ARI seed 42 vs seed 7", f"{ari(a['macro_segment_id'], other['macro_segment_id']):.3f}", ""),
        ("fit + assign seconds", f"{fit_s:.1f}", ""),
    ]
    print(pd.DataFrame(rows, columns=["measure", "value", "note"]).to_string(index=False))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
