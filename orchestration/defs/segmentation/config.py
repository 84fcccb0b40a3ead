"""The segmentation's launchpad config: the engine's own defaults (``ml.segmentation.SegmentationConfig``)
with a description per field, plus the budget the profiles split. One set of defaults, one home."""

from __future__ import annotations

import dataclasses

import dagster as dg
from pydantic import Field

from ml.segmentation import SegmentationConfig

_ENGINE = SegmentationConfig()


class SegmentationRunConfig(dg.Config):
    macro_k_min: int = Field(default=_ENGINE.macro_k_min, description="Fewest macro segments to consider.")
    macro_k_max: int = Field(default=_ENGINE.macro_k_max, description="Most macro segments to consider.")
    micro_k_min: int = Field(default=_ENGINE.micro_k_min, description="Fewest micro segments per macro segment.")
    micro_k_max: int = Field(default=_ENGINE.micro_k_max, description="Most micro segments per macro segment.")
    algorithm: str = Field(default=_ENGINE.algorithm,
                           description="'kmeans' (default; SQL-scorable) or 'gmm' (Gaussian mixture).")
    min_segment_share: float = Field(default=_ENGINE.min_segment_share,
                                     description="No segment smaller than this share of all customers.")
    min_segment_size: int = Field(default=_ENGINE.min_segment_size,
                                  description="Absolute floor on segment size, in customers.")
    seed: int = Field(default=_ENGINE.seed, description="Random seed; the same seed and data give identical segments.")
    sample_size: int = Field(default=_ENGINE.sample_size,
                             description="Fit on at most this many customers per level (memory stays flat).")
    fit_customers: int = Field(default=200_000, gt=0,
                               description="Read at most this many customers from the warehouse to fit on (a "
                                           "deterministic sample when there are more); every customer is then "
                                           "assigned, profiled and explained inside the warehouse.")
    selection_sample: int = Field(default=_ENGINE.selection_sample,
                                  description="Choose the number of segments on at most this many of a level's "
                                              "sample; the chosen number is then fitted on the whole sample.")
    bootstrap_rounds: int = Field(default=_ENGINE.bootstrap_rounds,
                                  description="Bootstrap refits per candidate k, for stability scores.")
    macro_weights: dict[str, float] = Field(
        default=dict(_ENGINE.macro_weights),
        description="Weight per feature group at macro level (demographics, preferences, behaviour, channels, "
                    "engagement, geography); 0 leaves a group out.",
    )
    micro_weights: dict[str, float] = Field(default=dict(_ENGINE.micro_weights),
                                            description="Weight per feature group at micro level.")
    total_budget: float = Field(default=100_000.0,
                                description="Marketing budget to split across segments (currency units).")

    def to_engine(self) -> SegmentationConfig:
        engine_fields = {f.name for f in dataclasses.fields(SegmentationConfig)}
        return SegmentationConfig(**{k: v for k, v in self.model_dump().items() if k in engine_fields})
