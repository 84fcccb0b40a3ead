"""Audience exports: per segment, a CRM file and hashed customer-match files, one folder per run.

The folder ``$MICROSEG_EXPORTS/<export_id>/`` (default ``exports/`` beside the warehouse) holds, per
segment, ``segment_<id>_crm``, ``_email_match``, ``_phone_match`` and ``_delta`` as CSV and Parquet, plus
``manifest.json`` / ``manifest.csv`` (rows and SHA-256 of every file). Holdout customers, customers without
the consent an audience needs, invalid keys and audiences under ``min_audience_size`` are left out and
counted in ``audiences.export_counts``. The delta is measured against ``audiences.export_members`` (the
last export's CRM members), which the same publish replaces (a transaction on DuckDB, written aside and swapped
in on Spark: ``orchestration.lib.sql_warehouse``).
"""

import datetime as dt
import shutil
import time
import uuid

import dagster as dg
import pandas as pd
from pydantic import Field, field_validator

from orchestration.defs.resources import ComputeEngine, WarehouseResource
from orchestration.lib.audiences import AUDIENCES, plan_exports, publish_folder, write_export
from orchestration.lib.engine import refuse_run_reading_duckdb
from orchestration.lib.metadata import markdown_table
from orchestration.lib.settings import OWNERS, WAREHOUSE_POOL, exports_path
from orchestration.lib.sql_warehouse import open_warehouse

EXPORTS_KEY = dg.AssetKey(["audiences", "segment_exports"])
DEPS = [dg.AssetKey(["marts", "customer_segment_details"]), dg.AssetKey(["staging", "stg_shop__customers"])]
# contact keys are read here, straight from staging, and leave the warehouse only hashed
CUSTOMERS_SQL = """
    select d.customer_id, d.source_customer_id, d.segment_id, d.segment_name, d.recommended_channel, d.offer_type,
           d.is_holdout, d.result_id, c.email, c.phone, c.email_consent, c.sms_consent, c.ads_consent
    from marts.customer_segment_details as d
    left join staging.stg_shop__customers as c on d.customer_id = c.customer_id
    order by d.segment_id, d.source_customer_id"""


class AudienceExportConfig(dg.Config):
    min_audience_size: int = Field(
        default=100, ge=1,
        description="A segment, or one of its audiences, with fewer customers than this is withheld entirely "
                    "(no micro-audience that singles people out; ad platforms also refuse tiny lists).")
    default_country_code: str = Field(
        default="1", description="Calling code for phones written without one (1 = US/Canada, 44 = UK): "
                                 "'(415) 555-0123' becomes +14155550123 before hashing.")

    @field_validator("default_country_code")
    @classmethod
    def _digits(cls, value: str) -> str:
        value = value.strip().lstrip("+")
        if not (value.isdigit() and 1 <= len(value) <= 3):
            raise ValueError(f"default_country_code must be 1-3 digits, not {value!r}")
        return value


@dg.asset(
    key=EXPORTS_KEY, deps=DEPS, group_name="audiences", kinds={"python", "csv", "parquet"}, owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description="Per segment, the customers to contact: a CRM file and SHA-256 customer-match files (email, "
                "E.164 phone) as CSV and Parquet, a delta of movers since the last export, and a manifest, in "
                "one new folder per run. Holdout, no consent, invalid keys and small audiences are counted in "
                "audiences.export_counts.",
)
def segment_exports(context: dg.AssetExecutionContext, config: AudienceExportConfig, warehouse: WarehouseResource,
                    engine: ComputeEngine):
    refuse_run_reading_duckdb(context, engine.engine)
    engine.require_ready()
    started = time.perf_counter()
    created = dt.datetime.now(dt.timezone.utc)
    export_id = f"{created:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    root = exports_path()
    target, published = root / export_id, False
    try:
        with open_warehouse(engine.on_spark, warehouse.resolved_path()) as tables, \
                tables.publishing("audiences") as publish:
            customers = publish.sql.df(CUSTOMERS_SQL)
            previous = (publish.sql.df("select segment_id, source_customer_id from audiences.export_members")
                        if publish.sql.has_table("audiences", "export_members") else None)
            plan = plan_exports(customers, previous, config.min_audience_size, config.default_country_code)
            header = {"export_id": export_id, "created_at": created.isoformat(), "dagster_run_id": context.run.run_id,
                      "result_id": customers["result_id"].iloc[0] if len(customers) else None,
                      "min_audience_size": config.min_audience_size, "default_country_code": config.default_country_code,
                      "first_export": previous is None}
            partial, manifest = write_export(plan, root, export_id, header)
            counts = plan.counts.assign(export_id=export_id, exported_at=created.replace(tzinfo=None))
            publish.frames(replace={"export_members": plan.members.assign(export_id=export_id)},
                           append={"export_counts": counts,
                                   "exports": pd.DataFrame([{**header, "folder": str(root / export_id),
                                                             "files": len(manifest),
                                                             "notes": "; ".join(plan.notes)}])})
            # last, so a failure before it publishes no table and leaves no folder; a failed commit (or swap, on
            # Spark) removes it
            publish_folder(partial, target)
            published = True
    except BaseException:
        # nothing half-done stays behind: no partial folder, and no folder the warehouse does not record
        shutil.rmtree(target if published else root / f".{export_id}.partial", ignore_errors=True)
        raise
    seconds = time.perf_counter() - started
    for note in plan.notes:
        context.log.warning(note)
    totals = plan.counts.groupby("audience", sort=False)[
        ["segment_size", "exported", "holdout", "no_consent", "invalid_key", "withheld"]].sum()
    for audience, t in totals.iterrows():
        context.log.info(f"{audience}: {t.segment_size:,} customers = {t.exported:,} exported + {t.holdout:,} holdout "
                         f"+ {t.no_consent:,} no consent + {t.invalid_key:,} invalid key + {t.withheld:,} withheld")
    withheld = plan.counts.loc[plan.counts["withheld_reason"].notna(), "segment_id"].nunique()
    deltas = manifest[(manifest["audience"] == "delta") & (manifest["format"] == "csv")]["rows"].sum()
    context.log.info(f"Exported {len(manifest):,} files to {root / export_id} in {seconds:.1f} s; "
                     f"{withheld} segment(s) with a withheld audience; {deltas:,} movers in the deltas.")
    return dg.MaterializeResult(metadata={
        "export_id": export_id,
        "folder": dg.MetadataValue.path(str(root / export_id)),
        "manifest": dg.MetadataValue.path(str(root / export_id / "manifest.json")),
        "files": len(manifest),
        "audiences": dg.MetadataValue.json(sorted({a for a in plan.counts["audience"]} & set(AUDIENCES))),
        "movers_in_deltas": int(deltas),
        "reconciliation": markdown_table(plan.counts.drop(columns=["segment_name"]), max_rows=1000),
        "totals": markdown_table(totals.reset_index()),
        "notes": dg.MetadataValue.json(plan.notes),
        "export_seconds": round(seconds, 2),
    })
