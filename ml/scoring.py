"""Assign customers to an existing segmentation without refitting.

The model is two plain tables (``model_tables`` in ml.segmentation): scaling
parameters and centroids per level and parent. Scoring replays the scaling and
takes the nearest macro centroid, then the nearest micro centroid inside it, which
is exactly how the fit assigned every customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features import FeatureScaler
from ml.segmentation import nearest_centroid


def level_rows(table: pd.DataFrame, level: str, parent: str | None) -> pd.DataFrame:
    """The rows of a model table for one level and parent (None for the macro level)."""
    parents = table["parent_segment_id"].fillna("")
    return table[(table["level"] == level) & (parents == (parent or ""))]


def _centroids(centroids: pd.DataFrame, level: str, parent: str | None, columns: list[str]):
    wide = level_rows(centroids, level, parent).pivot(index="segment_id", columns="output_column", values="value")
    return wide.index.to_numpy(dtype=object), wide[columns].to_numpy()


def assign_segments(features: pd.DataFrame, scaling: pd.DataFrame, centroids: pd.DataFrame) -> pd.DataFrame:
    """customer_id, macro_segment_id, segment_id, macro_distance, distance for every row of ``features``."""
    if scaling.empty or centroids.empty:
        raise ValueError("no fitted model to score with: run the segmentation (segment_customers job) first")
    macro_scaler = FeatureScaler(level_rows(scaling, "macro", None).reset_index(drop=True))
    macro_ids, macro_c = _centroids(centroids, "macro", None, macro_scaler.columns)
    labels, macro_dist = nearest_centroid(macro_scaler.transform(features), macro_c)
    macro = macro_ids[labels]

    segment = np.empty(len(features), dtype=object)
    distance = np.empty(len(features))
    for parent in macro_ids:
        members = np.flatnonzero(macro == parent)
        if not len(members):
            continue
        scaler = FeatureScaler(level_rows(scaling, "micro", parent).reset_index(drop=True))
        ids, c = _centroids(centroids, "micro", parent, scaler.columns)
        micro_labels, dist = nearest_centroid(scaler.transform(features.iloc[members]), c)
        segment[members] = ids[micro_labels]
        distance[members] = dist
    return pd.DataFrame({"customer_id": features["customer_id"].to_numpy(), "macro_segment_id": macro,
                         "segment_id": segment, "macro_distance": macro_dist, "distance": distance})
