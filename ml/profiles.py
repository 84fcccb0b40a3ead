"""Describe every segment well enough to act on it, from frames in memory.

From the feature table and the assignments: size and value, a trait table (segment
mean vs population mean, index and z-score for every feature), top categories,
channels, regions and devices, a unique human-readable name and description, the
channel/message/offer that fit, KPIs with targets, a priority score, a share of the
budget, and a niche flag for micro segments far from their parent.

Each function summarises the frames per segment (``ml.segment_summary.summarise``) and
describes the segments from that summary, exactly as the warehouse's ``summary_sql`` lets
the same rules run without the customers leaving it: the rules live in ``ml.segment_summary``.
"""

from __future__ import annotations

import pandas as pd

from ml.segment_summary import (  # noqa: F401  (the constants are part of this module's API)
    BASE_TRAITS,
    CHANNEL_WORDS,
    IMPLIED_BY_NAME,
    NICHE_QUANTILE,
    RATE_KPIS,
    TRAIT_WORDS,
    contact_rates,
    profiles_from_summary,
    summarise,
    supported_from_summary,
    traits_from_summary,
)


def supported(features: pd.DataFrame) -> set[str]:
    """The feature columns the data supports: present, not all missing, and not the same for everyone.

    A name, a channel or a KPI is only built from these; what is not here is said to be unknown."""
    return supported_from_summary(*summarise(features))


def trait_table(features: pd.DataFrame, assignments: pd.DataFrame) -> pd.DataFrame:
    """Long form: segment, feature, segment mean, population mean, index, z-score (both levels)."""
    summary, _ = summarise(features, assignments)
    return traits_from_summary(summary)


def build_profiles(features: pd.DataFrame, assignments: pd.DataFrame, stability: pd.Series,
                   traits: pd.DataFrame, total_budget: float) -> pd.DataFrame:
    """One row per segment of both levels, ready for segments.segment_profiles (see
    ``ml.segment_summary.profiles_from_summary``)."""
    summary, regions = summarise(features, assignments)
    return profiles_from_summary(summary, regions, stability, traits, total_budget)
