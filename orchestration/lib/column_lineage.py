"""Column-level lineage for dbt models, computed once dbt has exited.

dagster-dbt's ``fetch_column_metadata`` asks the warehouse for column types while
dbt is still running; on DuckDB that second connection is refused, because dbt
holds the file's single write lock. The lineage itself needs only the compiled SQL
and the column types of each model and its parents, so we read the types after
dbt exits (one query) and hand them to dagster-dbt's own sqlglot-based builder.
The UI then shows, per column of e.g. ``marts/customer_features``, the upstream
columns it is computed from.

sqlglot takes ~3 s per build for the feature models, the same every build of the same code: each model's
lineage is kept in ``target/column_lineage/`` under a hash of everything it is derived from (the compiled
SQL, the columns of the model and its parents, the parents' asset keys, dagster-dbt's version), so a build
of unchanged code reads it back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
import dagster_dbt
import duckdb

# dagster-dbt's builder is internal; dagster-dbt is pinned in uv.lock and a test checks
# customer_features gets lineage, so an upgrade that moves it is caught, not silent.
from dagster_dbt.core.dbt_cli_event import EventHistoryMetadata, _build_column_lineage_metadata

from orchestration.lib.staging_builds import BUILDS

log = logging.getLogger(__name__)


def _relation(props: Mapping[str, Any]) -> tuple[str, str]:
    return props["schema"], props.get("alias") or props.get("identifier") or props["name"]


def runtime_manifest(invocation) -> Mapping[str, Any]:
    """The manifest dbt wrote for this run: its relation names match the compiled SQL, even when the
    warehouse path (hence DuckDB's database name) differs from the one `dbt parse` saw."""
    path = Path(invocation.target_path) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else invocation.manifest


def column_types(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, dict[str, str]]]:
    """Every table's columns and types, keyed by (schema, table), in ordinal order."""
    types: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
    for schema, table, column, dtype in con.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
    ).fetchall():
        types.setdefault((schema, table), {})[column] = {"data_type": dtype}
    return types


def column_lineage_metadata(unique_id: str, manifest: Mapping[str, Any], target_path: Path,
                            types: Mapping[tuple[str, str], dict], translator, project) -> dict[str, Any]:
    """``dagster/column_lineage`` for one built model, or {} (with a warning) when it cannot be derived."""
    props = manifest["nodes"].get(unique_id)
    if not props or props["resource_type"] != "model" or _relation(props) not in types:
        return {}
    parents = {}
    for parent_id in manifest["parent_map"].get(unique_id, []):
        parent = manifest["nodes"].get(parent_id) or manifest["sources"].get(parent_id)
        if parent and parent.get("relation_name") and _relation(parent) in types:
            parents[parent["relation_name"]] = types[_relation(parent)]
    reads_record = {"macro.microseg.rows_to_stage", "macro.microseg.for_customers",
                    "macro.microseg.for_orders"} & set(props["depends_on"]["macros"])
    if reads_record and BUILDS in types:
        # an incremental staging or per-customer model also reads the record of its last build, a table dbt does
        # not declare
        parents['"{}"."{}"."{}"'.format(props["database"], *BUILDS)] = types[BUILDS]
    history = EventHistoryMetadata(columns=types[_relation(props)], parents=parents)
    try:
        cached = _cache_path(unique_id, props, manifest, Path(target_path), history, translator, project)
        if cached.exists():
            return dg.deserialize_value(cached.read_text(), dict)
        lineage = _build_column_lineage_metadata(
            event_history_metadata=history,
            dbt_resource_props=props,
            manifest=manifest,
            dagster_dbt_translator=translator,
            target_path=Path(target_path),
            project=project,
        )
    except Exception as error:  # lineage is an aid: a SQL construct sqlglot cannot follow must not fail the run
        log.warning(f"No column lineage for {unique_id}: {error}")
        return {}
    _keep(cached, dg.serialize_value(lineage))
    return lineage


def _cache_path(unique_id: str, props: Mapping[str, Any], manifest: Mapping[str, Any], target_path: Path,
                history: EventHistoryMetadata, translator, project) -> Path:
    """Where the lineage derived from exactly these inputs is kept (the project's target/, beside dbt's own)."""
    compiled = target_path / "compiled" / props["package_name"] / props["original_file_path"]
    parent_keys = sorted(
        (parent_id, translator.get_asset_spec(manifest, parent_id, project).key.to_user_string())
        for parent_id in props["depends_on"]["nodes"])
    inputs = json.dumps([dagster_dbt.__version__, unique_id, props["relation_name"], compiled.read_text(),
                         history.columns, history.parents, parent_keys], sort_keys=True)
    return project.project_dir / "target" / "column_lineage" / f"{hashlib.sha256(inputs.encode()).hexdigest()}.json"


def _keep(path: Path, text: str) -> None:
    """Written aside and renamed: parallel builds (tests) may keep the same lineage at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    aside.write_text(text)
    os.replace(aside, path)
