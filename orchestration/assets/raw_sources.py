"""Raw exports in schema ``raw``: the demo generator's output (users' own files later).

The asset keys match the dbt sources (``raw/<table>``), so in the asset graph the
dbt staging models hang under them.
"""


import datetime as dt
import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from ml.synthetic import RAW_TABLES, GeneratorConfig, make_demo_data
from orchestration.assets.metadata import markdown_table, table_metadata
from orchestration.inbox import append_files, table_for_file
from orchestration.resources import OWNERS, WAREHOUSE_POOL, WarehouseResource

RAW_DESCRIPTIONS = {
    "customers": "Customer master export: demographics, geography, signup, loyalty.",
    "products": "Product catalogue: category, subcategory, brand, price, private label.",
    "orders": "Order headers: timestamp, channel (web/app/store), device, discount, status.",
    "order_items": "Order lines, including refund lines of returned orders.",
    "web_events": "Clickstream: page views, searches and add-to-carts by session and device.",
    "marketing_touches": "Email/SMS/push sends with opened/clicked/converted.",
}


class RawExportsConfig(dg.Config):
    source: str = Field(
        default="demo",
        description="'demo' generates synthetic exports (replacing raw.*); 'files' appends the files listed in "
                    "`files` (CSV/Parquet named <table>[_anything].csv) to their raw tables.",
    )
    files: list[str] = Field(default=[], description="With source 'files': paths of the files to append.")
    n_customers: int = Field(
        default_factory=lambda: int(os.environ.get("MICROSEG_DEMO_CUSTOMERS", "20000")),
        description="Customers to generate (default $MICROSEG_DEMO_CUSTOMERS or 20,000; 1,000,000 takes about a minute).",
    )
    seed: int = Field(default=42, description="Random seed: the same seed gives the same data.")
    reference_date: str = Field(
        default="",
        description="Export date (YYYY-MM-DD) the history ends on. Empty means today, so features are as of now.",
    )


@dg.multi_asset(
    specs=[
        *[
            dg.AssetSpec(dg.AssetKey(["raw", t]), description=RAW_DESCRIPTIONS[t], group_name="raw",
                         kinds={"python", "duckdb"}, owners=OWNERS, skippable=True)
            for t in RAW_TABLES
        ],
        dg.AssetSpec(dg.AssetKey(["eval", "planted_personas"]), group_name="evaluation", kinds={"python", "duckdb"},
                     owners=OWNERS,
                     skippable=True,
                     description="True persona of every synthetic customer. For evaluation only; features never read it."),
        dg.AssetSpec(dg.AssetKey(["eval", "planted_faults"]), group_name="evaluation", kinds={"python", "duckdb"},
                     owners=OWNERS,
                     skippable=True,
                     description="Each fault the generator planted in the raw tables, its rate, row count and handling."),
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def demo_raw_exports(context: dg.AssetExecutionContext, config: RawExportsConfig, warehouse: WarehouseResource):
    """Raw exports: a seeded synthetic retailer (planted personas, documented faults), or users' own files."""
    if config.source == "files":
        yield from _append_files(context, config, warehouse)
        return
    if config.source != "demo":
        raise dg.Failure(f"source must be 'demo' or 'files', not {config.source!r}")
    reference_date = config.reference_date or dt.date.today().isoformat()
    gen = GeneratorConfig(n_customers=config.n_customers, seed=config.seed, reference_date=reference_date)
    raw, planted, faults = make_demo_data(gen)
    context.log.info(f"Generated {config.n_customers:,} customers (seed {config.seed}, export date {reference_date}).")
    # raw and eval tables land in one transaction each: a reader never sees a partial export
    warehouse.replace_tables("raw", raw)
    warehouse.replace_tables("eval", {"planted_personas": planted, "planted_faults": faults})
    selected = context.selected_asset_keys
    with warehouse.connect(read_only=True) as con:
        for table in RAW_TABLES:
            if dg.AssetKey(["raw", table]) in selected:
                yield dg.MaterializeResult(asset_key=["raw", table], metadata=table_metadata(con, "raw", table))
        if dg.AssetKey(["eval", "planted_personas"]) in selected:
            yield dg.MaterializeResult(asset_key=["eval", "planted_personas"],
                                       metadata=table_metadata(con, "eval", "planted_personas"))
        if dg.AssetKey(["eval", "planted_faults"]) in selected:
            yield dg.MaterializeResult(
                asset_key=["eval", "planted_faults"],
                metadata={**table_metadata(con, "eval", "planted_faults"),
                          "faults": markdown_table(faults[["fault", "raw_table", "planted_rate", "planted_rows",
                                                           "handling"]])},
            )


def _append_files(context: dg.AssetExecutionContext, config: RawExportsConfig, warehouse: WarehouseResource):
    if not config.files:
        raise dg.Failure("source is 'files' but no files were given")
    files = [Path(f) for f in config.files]
    with warehouse.connect() as con:
        con.execute("begin transaction")
        try:
            loaded = append_files(con, files)
            con.execute("commit")
        except Exception as exc:
            con.execute("rollback")
            raise dg.Failure(str(exc), metadata={"files": dg.MetadataValue.json(config.files)}) from exc
    context.log.info(f"Appended {', '.join(f'{n:,} rows to raw.{t}' for t, n in loaded.items())} from {config.files}.")
    # Every selected raw table reports (0 appended where no file came), so downstream steps run.
    with warehouse.connect(read_only=True) as con:
        for table in RAW_TABLES:
            key = dg.AssetKey(["raw", table])
            if key in context.selected_asset_keys:
                yield dg.MaterializeResult(asset_key=key, metadata={
                    **table_metadata(con, "raw", table), "appended_rows": loaded.get(table, 0),
                    "files": dg.MetadataValue.json([f for f in config.files if table_for_file(Path(f)) == table])})
