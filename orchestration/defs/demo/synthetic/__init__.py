"""Seeded synthetic retailer exports with planted personas, documented faults and, over periods, planted changes.

``DemoData`` yields the retailer one block of customers at a time (``GeneratorConfig.block_customers``, 100,000),
each block dirtied on its own, so memory is bounded by a block whatever the number of customers; the data
depends on (seed, block size), not on how it is consumed. ``make_demo_data`` gathers the blocks into whole
frames for small retailers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterator

import pandas as pd

from .faults import FAULT_RATES, fault_log, inject_faults
from .generator import (
    NICHE_ID_OFFSET,
    SHIFT_ID_OFFSET,
    GeneratorConfig,
    IdCounters,
    block_sizes,
    generate_block,
    generate_new_niche,
    generate_products,
    generate_shifted,
    holdout_bucket,
    niche_customers,
    planted_changes,
)

BEHAVIOUR_TABLES = ("orders", "order_items", "web_events", "marketing_touches")


@dataclass
class DemoChunk:
    tables: dict[str, pd.DataFrame]  # dirty raw tables of the chunk's customers (products in the first chunk)
    planted: pd.DataFrame  # their planted personas (eval.planted_personas)


class DemoData:
    """The demo retailer for ``config``, chunk by chunk: iterate it once, then read the planted truth's
    summaries (``faults``, ``changes``), which tally what the chunks planted."""

    def __init__(self, config: GeneratorConfig):
        self.config = config
        self.total_customers = config.n_customers + (niche_customers(config) if config.period >= 1 else 0)
        self.customers = 0  # customers yielded so far (the niche included)
        self._fault_rows: Counter[str] = Counter()
        self._personas: Counter[str] = Counter()

    def __iter__(self) -> Iterator[DemoChunk]:
        config = self.config
        base_ids, shift_ids, niche_ids = IdCounters(), IdCounters(SHIFT_ID_OFFSET), IdCounters(NICHE_ID_OFFSET)
        for block, n in enumerate(block_sizes(config.n_customers, config.block_customers)):
            # one name for the block's tables, clean then dirty, so no older version of them stays in memory
            tables = generate_block(config, block, n, base_ids)
            if block == 0:
                tables["products"] = generate_products(config)
            planted = tables.pop("planted_personas")
            tables, fault_rows = inject_faults(tables, config.seed, block,
                                               first_test_account=self._fault_rows["customer_test_accounts"])
            self._fault_rows.update(fault_rows)
            if config.period >= 1:
                # planted changes are applied clean, after the faults, so the base's faults stay where they were
                tables = _with_behaviour(tables, generate_shifted(config, planted, block, shift_ids))
            yield self._chunk(tables, planted)
            del tables, planted  # or the next block is drawn with this one still in memory
        if config.period >= 1:
            for block, n in enumerate(block_sizes(niche_customers(config), config.block_customers)):
                niche = generate_new_niche(config, block, n, niche_ids)
                yield self._chunk(niche, niche.pop("planted_personas"))
                del niche

    def _chunk(self, tables: dict[str, pd.DataFrame], planted: pd.DataFrame) -> DemoChunk:
        self.customers += len(planted)
        self._personas.update(planted["micro_persona"].value_counts().to_dict())
        return DemoChunk(tables, planted)

    @property
    def faults(self) -> pd.DataFrame:
        """eval.planted_faults: each fault with the rows planted across all chunks."""
        return fault_log(dict(self._fault_rows))

    @property
    def changes(self) -> pd.DataFrame:
        """eval.planted_changes: what changed since period 0, with how many customers."""
        return planted_changes(self.config, dict(self._personas))


def _with_behaviour(dirty: dict[str, pd.DataFrame], shifted: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``dirty`` with the shifted customers' orders, items, events and touches replaced by ``shifted``'s."""
    if not shifted:
        return dirty
    moved = shifted["orders"]["customer_id"].unique()
    orders = dirty["orders"]
    old_orders = orders["customer_id"].isin(moved)
    items = dirty["order_items"]
    out = dict(dirty)
    out["order_items"] = items[~items["order_id"].isin(orders.loc[old_orders, "order_id"])]
    out["orders"] = orders[~old_orders]
    for name in ("web_events", "marketing_touches"):
        out[name] = dirty[name][~dirty[name]["customer_id"].isin(moved)]
    for name in BEHAVIOUR_TABLES:
        out[name] = pd.concat([out[name], shifted[name]], ignore_index=True)
    return out


def make_demo_data(config: GeneratorConfig):
    """Return (dirty raw tables, planted personas, fault log, planted changes) for ``config`` as whole frames.

    For small retailers (tests, notebooks); the demo asset streams ``DemoData`` into files instead."""
    data = DemoData(config)
    chunks = list(data)
    tables = {name: pd.concat([c.tables[name] for c in chunks if name in c.tables], ignore_index=True)
              for name in chunks[0].tables}
    planted = pd.concat([c.planted for c in chunks], ignore_index=True)
    return tables, planted, data.faults, data.changes


__all__ = ["FAULT_RATES", "DemoChunk", "DemoData", "GeneratorConfig", "holdout_bucket", "make_demo_data"]
