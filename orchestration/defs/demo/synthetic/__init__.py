"""Seeded synthetic retailer exports with planted personas and documented faults."""

from .faults import FAULT_RATES, inject_faults
from .generator import GeneratorConfig, generate


def make_demo_data(config: GeneratorConfig):
    """Return (dirty raw tables, planted personas, fault log) for ``config``."""
    clean = generate(config)
    planted = clean.pop("planted_personas")
    dirty, fault_log = inject_faults(clean, seed=config.seed)
    return dirty, planted, fault_log


__all__ = ["FAULT_RATES", "GeneratorConfig", "make_demo_data"]
