"""Every dbt model as a Dagster asset; dbt tests as asset checks.

Models are keyed by schema and name (``marts/customer_features``) and grouped by
layer. Row counts, column types and column lineage are read once dbt has exited:
while dbt runs it holds DuckDB's single write lock, so querying alongside it (as
dagster-dbt's ``fetch_row_counts`` and ``fetch_column_metadata`` do) is refused.
"""


import json
import os
from typing import Any, Iterator, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from pydantic import Field

from orchestration.assets.column_lineage import column_lineage_metadata, column_types, runtime_manifest
from orchestration.assets.metadata import table_metadata
from orchestration.warehouse import WAREHOUSE_ENV
from orchestration.resources import OWNERS, WAREHOUSE_POOL, WarehouseResource, dbt_project

LAYERS = ("staging", "intermediate", "marts")
# dbt models over the Python segmentation results run as their own asset, after it.
SEGMENT_TAG = "segments"


class MicrosegDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] not in ("model", "seed", "snapshot"):
            return spec
        folder = props["fqn"][1] if len(props["fqn"]) > 2 else "marts"
        layer = "segment_marts" if folder == "segments" else folder if folder in LAYERS else "marts"
        return spec.replace_attributes(
            key=dg.AssetKey([props["schema"], props["name"]]),
            group_name=layer,
        ).merge_attributes(kinds={"duckdb"}, owners=OWNERS)


translator = MicrosegDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True)
)

if not dbt_project.manifest_path.exists():
    raise FileNotFoundError(
        f"dbt manifest not found at {dbt_project.manifest_path}. Run `make setup` (it runs `dbt parse`)."
    )


class DbtBuildConfig(dg.Config):
    as_of_date: str = Field(
        default="",
        description="Date (YYYY-MM-DD) the features are computed as of. Empty means today.",
    )


def _dbt_args(config: DbtBuildConfig) -> list[str]:
    args = ["build"]
    if config.as_of_date:
        args += ["--vars", json.dumps({"as_of_date": config.as_of_date})]
    return args


def _with_table_metadata(events: list, invocation, context: dg.AssetExecutionContext,
                         warehouse: WarehouseResource) -> Iterator:
    """Row counts, column schema and column lineage for every model dbt built."""
    with warehouse.connect(read_only=True) as con:
        types, manifest = column_types(con), runtime_manifest(invocation)
        for event in events:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                if len(key.path) == 2:
                    unique_id = event.metadata["unique_id"].value
                    event = event.with_metadata({
                        **event.metadata,
                        **table_metadata(con, *key.path, column_types=types.get(tuple(key.path))),
                        **column_lineage_metadata(unique_id, manifest, invocation.target_path, types, translator,
                                                  dbt_project),
                    })
            yield event


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
           config: DbtBuildConfig) -> Iterator:
    # dbt runs from dbt_project/; hand it the same absolute warehouse path Dagster uses.
    os.environ[WAREHOUSE_ENV] = str(warehouse.resolved_path())
    invocation = dbt.cli(_dbt_args(config), context=context, raise_on_error=False)
    events = list(invocation.stream())
    yield from _with_table_metadata(events, invocation, context, warehouse)
    if not invocation.is_successful():
        raise dg.Failure(
            description="dbt build failed (see the dbt log above); models downstream of the failure were skipped "
            "and keep their previous contents.",
        )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=f"tag:{SEGMENT_TAG}",
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
               config: DbtBuildConfig):
    """dbt build: staging cleans raw exports, intermediate builds per-customer blocks, marts publish features."""
    yield from _build(context, dbt, warehouse, config)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    select=f"tag:{SEGMENT_TAG}",
    name="dbt_segment_models",
    pool=WAREHOUSE_POOL,
)
def dbt_segment_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource,
                       config: DbtBuildConfig):
    """dbt models over the Python segmentation results (campaign table, segment KPIs)."""
    yield from _build(context, dbt, warehouse, config)
