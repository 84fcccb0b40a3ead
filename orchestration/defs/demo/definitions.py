"""The demo: a seeded synthetic retailer, loaded only in demo mode (``MICROSEG_DEMO=1``, as `make run` sets).

The demo is one source among others: its asset writes the retailer's exports into the
landing folder as the source "demo" (``<landing>/demo/<table>.parquet``), and the product's
ingest loads them like any user's full export, replacing only the demo's own rows. The
planted truth goes to ``eval.*`` for the recovery check. Nothing outside this folder
imports it.
"""


import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np
from pydantic import Field

from orchestration.defs.demo.synthetic import DemoData, GeneratorConfig
from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.lib.dbt import project_vars
from orchestration.lib.metadata import markdown_table
from orchestration.lib.parquet import ParquetTables
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL, demo_mode, landing_path
from orchestration.lib.warehouse import write_frames

DEMO_SOURCE = "demo"
EXPORTS_KEY = dg.AssetKey(["demo", "synthetic_exports"])
PLANTED_KEY = dg.AssetKey(["eval", "planted_personas"])
FAULTS_KEY = dg.AssetKey(["eval", "planted_faults"])
CHANGES_KEY = dg.AssetKey(["eval", "planted_changes"])


class DemoExportsConfig(dg.Config):
    n_customers: int = Field(
        default_factory=lambda: int(os.environ.get("MICROSEG_DEMO_CUSTOMERS", "20000")),
        description="Customers to generate (default $MICROSEG_DEMO_CUSTOMERS or 20,000; 1,000,000 take about "
                    "1.5 minutes; memory stays under 2 GB at any size).",
    )
    seed: int = Field(default=42, description="Random seed: the same seed gives the same data.")
    reference_date: str = Field(
        default="", description="Export date (YYYY-MM-DD) of period 0. Empty means today.")
    period: int = Field(
        default=0, description="0 = the first export; 1 = the same customers 92 days later, with planted changes "
                               "(a persona moves from store to app, a new niche appears; see eval.planted_changes).")


def _write_exports(data: DemoData, folder: Path, truth: Path, log) -> dict[str, int]:
    """The retailer's exports into ``folder`` (one Parquet file per raw table) and its planted personas into
    ``truth``, block by block; the files appear whole, renamed into place, once every block is written.
    Returns rows per table."""
    started = time.perf_counter()
    with ParquetTables(folder) as exports, ParquetTables(truth) as planted:
        for chunk in data:
            exports.append(chunk.tables)
            planted.append({"planted_personas": chunk.planted})
            log.info(f"{data.customers:,} of {data.total_customers:,} customers generated: "
                     f"{sum(exports.rows.values()):,} rows ({time.perf_counter() - started:.0f} s)")
    return exports.rows


@dg.multi_asset(
    specs=[
        dg.AssetSpec(EXPORTS_KEY, group_name="demo", kinds={"python", "parquet"}, owners=OWNERS, skippable=True,
                     description="A seeded synthetic retailer's exports (planted personas, documented faults), "
                                 "written to <landing>/demo/ for the ingest to load as the source 'demo'."),
        dg.AssetSpec(PLANTED_KEY, group_name="demo", kinds={"python", "duckdb"}, owners=OWNERS, skippable=True,
                     description="True persona of every synthetic customer. For evaluation only; features never read it."),
        dg.AssetSpec(FAULTS_KEY, group_name="demo", kinds={"python", "duckdb"}, owners=OWNERS, skippable=True,
                     description="Each fault the generator planted in the exports, its rate, row count and handling."),
        dg.AssetSpec(CHANGES_KEY, group_name="demo", kinds={"python", "duckdb"}, owners=OWNERS, skippable=True,
                     description="What the generator changed since period 0 (shifted persona, new niche), with "
                                 "customer counts. Planted campaign uplift per customer is in eval.planted_personas."),
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def demo_exports(context: dg.AssetExecutionContext, config: DemoExportsConfig, warehouse: WarehouseResource):
    reference_date = config.reference_date or dt.date.today().isoformat()
    dbt_vars = project_vars()  # the demo retailer honours the same holdout the product measures against
    generator = GeneratorConfig(n_customers=config.n_customers, seed=config.seed, reference_date=reference_date,
                                period=config.period, holdout_share=float(dbt_vars["holdout_share"]),
                                holdout_salt=str(dbt_vars["holdout_salt"]))
    data = DemoData(generator)
    folder = landing_path() / DEMO_SOURCE
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="microseg-demo-truth-") as scratch:
        rows = _write_exports(data, folder, Path(scratch), context.log)
        faults, changes = data.faults, data.changes
        with warehouse.transaction("eval") as con:
            write_frames(con, "eval", replace={"planted_faults": faults, "planted_changes": changes}, append={})
            con.execute("create or replace table eval.planted_personas as select * from read_parquet(?)",
                        [str(Path(scratch) / "planted_personas.parquet")])
    context.log.info(f"Generated {data.customers:,} customers (seed {config.seed}, period {config.period}, export "
                     f"date {str(generator.export_date())[:10]}) into {folder} "
                     f"in {time.perf_counter() - started:.0f} s.")
    selected = context.selected_asset_keys
    if EXPORTS_KEY in selected:
        yield dg.MaterializeResult(asset_key=EXPORTS_KEY, metadata={
            "folder": str(folder), "rows": dg.MetadataValue.json(rows), "customers": config.n_customers,
            "reference_date": reference_date})
    if PLANTED_KEY in selected:
        yield dg.MaterializeResult(asset_key=PLANTED_KEY, metadata={"dagster/row_count": data.customers})
    if CHANGES_KEY in selected:
        yield dg.MaterializeResult(asset_key=CHANGES_KEY, metadata={"dagster/row_count": len(changes)})
    if FAULTS_KEY in selected:
        yield dg.MaterializeResult(asset_key=FAULTS_KEY, metadata={
            "dagster/row_count": len(faults),
            "faults": markdown_table(faults[["fault", "raw_table", "planted_rate", "planted_rows", "handling"]])})


@dg.asset_check(
    asset=dg.AssetKey(["segments", "customer_segments"]),
    additional_deps=[PLANTED_KEY],
    pool=WAREHOUSE_POOL,  # it reads the warehouse, which a writer in another process would lock
    description="Demo data only: adjusted Rand index of segments against the planted personas "
                "(bar: macro >= 0.9, micro >= 0.8).",
)
def planted_persona_recovery(warehouse: WarehouseResource, engine: ComputeEngine) -> dg.AssetCheckResult:
    # the contingency tables are counted where the segments are: a few hundred rows leave it, not every customer
    levels = [("macro_persona", "macro_segment_id"), ("micro_persona", "segment_id")]
    if engine.on_spark:
        macro_counts, micro_counts = _counted_on_spark(
            warehouse, [_pairs_sql("planted_personas", *level) for level in levels])
    else:
        macro_counts, micro_counts = (warehouse.query_df(_pairs_sql("eval.planted_personas", *level))
                                      for level in levels)
    macro = _adjusted_rand(macro_counts, "macro_persona", "macro_segment_id")
    micro = _adjusted_rand(micro_counts, "micro_persona", "segment_id")
    return dg.AssetCheckResult(
        passed=bool(macro >= 0.9 and micro >= 0.8), severity=dg.AssetCheckSeverity.WARN,
        metadata={"macro_ari": float(np.round(macro, 4)), "micro_ari": float(np.round(micro, 4)),
                  "customers": int(macro_counts["n"].sum())},
    )


def _pairs_sql(personas: str, truth: str, found: str) -> str:
    """Customers per (planted persona, segment) pair: the contingency table the adjusted Rand index reads."""
    return (f"select p.{truth}, s.{found}, count(*) as n from segments.customer_segments s "
            f"join {personas} p on s.customer_id = p.customer_id group by p.{truth}, s.{found}")


def _counted_on_spark(warehouse: WarehouseResource, queries: list[str]):
    """``queries`` run in Spark, beside the segments the run published there, against the planted personas
    (which the demo writes to DuckDB's eval schema) handed over as a Parquet file."""
    from orchestration.lib.settings import spark_path
    from orchestration.lib.spark import step_session
    from orchestration.lib.sql_warehouse import SparkSqlSession

    path = spark_path() / "eval" / "planted_personas.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    with warehouse.connect(read_only=True) as con:
        con.execute(f"copy (select customer_id, macro_persona, micro_persona from eval.planted_personas) "
                    f"to '{path}' (format parquet)")
    with step_session() as spark:
        spark.read.parquet(str(path)).createOrReplaceTempView("planted_personas")
        return [SparkSqlSession(spark).df(q) for q in queries]


def _adjusted_rand(counts, truth: str, found: str) -> float:
    """Hubert and Arabie's adjusted Rand index from a contingency table (``n`` customers per pair of labels):
    the same number sklearn's adjusted_rand_score gives from the labels."""
    def pairs(x):
        x = np.asarray(x, dtype=float)
        return float((x * (x - 1) / 2).sum())

    n = float(counts["n"].sum())
    index = pairs(counts["n"])
    rows, columns = pairs(counts.groupby(truth)["n"].sum()), pairs(counts.groupby(found)["n"].sum())
    expected = rows * columns / (n * (n - 1) / 2) if n > 1 else 0.0
    top = (rows + columns) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


@dg.definitions
def demo() -> dg.Definitions:
    if not demo_mode():
        return dg.Definitions()
    return dg.Definitions(assets=[demo_exports], asset_checks=[planted_persona_recovery])
