"""Seeded synthetic retailer exports with planted personas, documented faults and, over periods, planted changes."""

import pandas as pd

from .faults import FAULT_RATES, inject_faults
from .generator import GeneratorConfig, generate, generate_new_niche, holdout_bucket, planted_changes


def make_demo_data(config: GeneratorConfig):
    """Return (dirty raw tables, planted personas, fault log, planted changes) for ``config``."""
    clean = generate(config)
    planted = clean.pop("planted_personas")
    dirty, fault_log = inject_faults(clean, seed=config.seed)
    if config.period >= 1:
        # the niche's rows are added clean, after the faults, so the base's faults stay where they were
        niche = generate_new_niche(config)
        planted = pd.concat([planted, niche.pop("planted_personas")], ignore_index=True)
        dirty = {name: df if name == "products" else pd.concat([df, niche[name]], ignore_index=True)
                 for name, df in dirty.items()}
    return dirty, planted, fault_log, planted_changes(config, planted)


__all__ = ["FAULT_RATES", "GeneratorConfig", "holdout_bucket", "make_demo_data"]
