"""How dbt nodes appear in Dagster: keyed ``<schema>/<model>``, grouped by layer, with kinds and owners."""

from __future__ import annotations

from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from orchestration.lib.settings import OWNERS

LAYERS = ("staging", "intermediate", "marts")


class MicrosegDbtTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] not in ("model", "seed", "snapshot"):
            return spec
        # the layer is the model's top folder under models/ (staging, intermediate, marts)
        folder = props["fqn"][1] if len(props["fqn"]) > 2 else "marts"
        return spec.replace_attributes(
            key=dg.AssetKey([props["schema"], props["name"]]),
            group_name=folder if folder in LAYERS else "marts",
        ).merge_attributes(kinds={"duckdb"}, owners=OWNERS)


translator = MicrosegDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True)
)
