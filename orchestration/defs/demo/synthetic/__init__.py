"""Seeded synthetic retailer exports with planted personas, documented faults and, over periods, planted changes."""

import pandas as pd

from .faults import FAULT_RATES, inject_faults
from .generator import (
    GeneratorConfig,
    generate,
    generate_new_niche,
    generate_shifted,
    holdout_bucket,
    planted_changes,
)


def make_demo_data(config: GeneratorConfig):
    """Return (dirty raw tables, planted personas, fault log, planted changes) for ``config``."""
    clean = generate(config)
    planted = clean.pop("planted_personas")
    dirty, fault_log = inject_faults(clean, seed=config.seed)
    if config.period >= 1:
        # planted changes are applied clean, after the faults, so the base's faults stay where they were
        shifted = generate_shifted(config, planted)
        moved = set(shifted["orders"]["customer_id"])
        old_orders = dirty["orders"]["customer_id"].isin(moved)
        dirty["order_items"] = dirty["order_items"][
            ~dirty["order_items"]["order_id"].isin(dirty["orders"].loc[old_orders, "order_id"])]
        dirty["orders"] = dirty["orders"][~old_orders]
        for name in ("web_events", "marketing_touches"):
            dirty[name] = dirty[name][~dirty[name]["customer_id"].isin(moved)]
        niche = generate_new_niche(config)
        niche.pop("products")  # the same catalogue
        planted = pd.concat([planted, niche.pop("planted_personas")], ignore_index=True)
        dirty = {name: pd.concat([df, *[t[name] for t in (shifted, niche) if name in t]], ignore_index=True)
                 for name, df in dirty.items()}
    return dirty, planted, fault_log, planted_changes(config, planted)


__all__ = ["FAULT_RATES", "GeneratorConfig", "holdout_bucket", "make_demo_data"]
