"""Raw exports in schema ``raw``: the demo generator's output (users' own files later).

The asset keys match the dbt sources (``raw/<table>``), so in the asset graph the
dbt staging models hang under them.
"""


import datetime as dt

import dagster as dg
from pydantic import Field

from ml.synthetic import RAW_TABLES, GeneratorConfig, make_demo_data
from orchestration.assets.metadata import markdown_table, table_metadata
from orchestration.resources import OWNERS, WAREHOUSE_POOL, WarehouseResource

RAW_DESCRIPTIONS = {
    "customers": "Customer master export: demographics, geography, signup, loyalty.",
    "products": "Product catalogue: category, subcategory, brand, price, private label.",
    "orders": "Order headers: timestamp, channel (web/app/store), device, discount, status.",
    "order_items": "Order lines, including refund lines of returned orders.",
    "web_events": "Clickstream: page views, searches and add-to-carts by session and device.",
    "marketing_touches": "Email/SMS/push sends with opened/clicked/converted.",
}


class DemoDataConfig(dg.Config):
    n_customers: int = Field(default=20_000, description="Customers to generate (1,000,000 takes about a minute).")
    seed: int = Field(default=42, description="Random seed: the same seed gives the same data.")
    reference_date: str = Field(
        default="",
        description="Export date (YYYY-MM-DD) the history ends on. Empty means today, so features are as of now.",
    )


@dg.multi_asset(
    specs=[
        *[
            dg.AssetSpec(dg.AssetKey(["raw", t]), description=RAW_DESCRIPTIONS[t], group_name="raw",
                         kinds={"python", "duckdb"}, owners=OWNERS)
            for t in RAW_TABLES
        ],
        dg.AssetSpec(dg.AssetKey(["eval", "planted_personas"]), group_name="evaluation", kinds={"python", "duckdb"},
                     owners=OWNERS,
                     description="True persona of every synthetic customer. For evaluation only; features never read it."),
        dg.AssetSpec(dg.AssetKey(["eval", "planted_faults"]), group_name="evaluation", kinds={"python", "duckdb"},
                     owners=OWNERS,
                     description="Each fault the generator planted in the raw tables, its rate, row count and handling."),
    ],
    pool=WAREHOUSE_POOL,
)
def demo_raw_exports(context: dg.AssetExecutionContext, config: DemoDataConfig, warehouse: WarehouseResource):
    """Generate a seeded synthetic retailer (planted personas, documented faults) into schema raw."""
    reference_date = config.reference_date or dt.date.today().isoformat()
    gen = GeneratorConfig(n_customers=config.n_customers, seed=config.seed, reference_date=reference_date)
    raw, planted, faults = make_demo_data(gen)
    context.log.info(f"Generated {config.n_customers:,} customers (seed {config.seed}, export date {reference_date}).")
    # raw and eval tables land in one transaction each: a reader never sees a partial export
    warehouse.replace_tables("raw", raw)
    warehouse.replace_tables("eval", {"planted_personas": planted, "planted_faults": faults})
    with warehouse.connect(read_only=True) as con:
        for table in RAW_TABLES:
            yield dg.MaterializeResult(asset_key=["raw", table], metadata=table_metadata(con, "raw", table))
        yield dg.MaterializeResult(asset_key=["eval", "planted_personas"],
                                   metadata=table_metadata(con, "eval", "planted_personas"))
        yield dg.MaterializeResult(
            asset_key=["eval", "planted_faults"],
            metadata={**table_metadata(con, "eval", "planted_faults"),
                      "faults": markdown_table(faults[["fault", "raw_table", "planted_rate", "planted_rows", "handling"]])},
        )
