"""A grocer's till log: one category for every line (a constant in the sources file) and a discount column
that is always 0. The run goes through; what cannot tell customers apart is left out and said so."""

import datetime as dt
import json

import numpy as np
import pandas as pd

from tests.conftest import query, run_on_sources

SOURCES = """
sources:
  - name: till
    entity: transactions
    path: till.csv
    columns: {customer_id: card, ordered_at: day, amount: paid, discount_pct: discount}
    constants: {category: grocery}
"""


def _till_log(path, seed: int = 11) -> None:
    """700 regular shoppers with small baskets, 500 who came once or twice with a big one."""
    rng = np.random.default_rng(seed)
    last = dt.date(2025, 12, 31)
    rows = []
    for customer in range(1, 1201):
        regular = customer <= 700
        visits = rng.integers(20, 40) if regular else rng.integers(1, 3)
        for day in rng.choice(700, visits, replace=False):
            amount = rng.lognormal(3.0 if regular else 4.5, 0.3)
            rows.append((customer, (last - dt.timedelta(days=int(day))).isoformat(), round(float(amount), 2), 0))
    pd.DataFrame(rows, columns=["card", "day", "paid", "discount"]).to_csv(path, index=False)


def test_constant_category_and_discount_are_left_out_and_never_named(tmp_path, dbt_manifest):
    _till_log(tmp_path / "till.csv")
    (tmp_path / "sources.yml").write_text(SOURCES)
    result = run_on_sources(tmp_path)
    assert result.success

    warehouse = tmp_path / "warehouse.duckdb"
    left_out = json.loads(query(warehouse, "select features_left_out from segments.segmentation_runs").iloc[0, 0])
    for column in ("share_grocery", "discounted_order_share", "avg_discount_pct"):
        assert left_out[column] == "the same for every customer", column
    profiles = query(warehouse, "select * from segments.segment_profiles")
    assert profiles["customers"][profiles["level"] == "micro"].sum() == 1200
    names = " | ".join(profiles["segment_name"]).lower()
    for word in ("grocery", "discount", "deal", "premium"):
        assert word not in names, word
    assert (profiles["offer_type"] != "discount-led").all()
    # and the descriptions say what the data cannot tell, and why
    assert profiles["description"].str.contains("categories (the same mix for every customer)", regex=False).all()
    assert profiles["description"].str.contains("discount sensitivity").all()
