"""The dbt project as Dagster and the CLI see it: its location and what its manifest declares.

The manifest is prepared by the set-up step (`make setup` runs `dbt parse`), never at import time.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import time
import uuid
from functools import cache, cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from packaging import version

from orchestration.lib.settings import DBT_PROJECT_DIR, lock_wait_seconds
from orchestration.lib.warehouse import LOCK_ERROR, lock_holder, open_with_retry

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

RAW_SOURCE = "raw"  # the dbt source whose tables the ingest assets load


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the project's venv), even when the venv is not activated."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


class ProjectDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two costs of every dbt step: it is told the dbt version instead of running
    ``dbt --version`` (a Python process of its own, 3.2 s here, once per resource instance, and Dagster makes one
    for every dbt step); the version is that of the dbt-core beside this interpreter, the dbt ``dbt_executable``
    runs. And it does not load dbt's adapter in-process (below)."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):
        """Not made (1.7 s per dbt step): dagster-dbt loads dbt's adapter into the step's process only for
        ``fetch_row_counts`` and ``fetch_column_metadata``, which query the warehouse while dbt holds DuckDB's
        write lock; the dbt assets read row counts and columns themselves once dbt has exited."""
        return None


def dbt_cli() -> ProjectDbtCliResource:
    """The dbt resource every run (and test) uses: this project, its profiles, the dbt beside this interpreter."""
    return ProjectDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR),
                                 dbt_executable=dbt_executable())


@cache
def project_vars() -> dict:
    """The vars in dbt_project.yml: the one home of the rules dbt and Python share (history window, ...)."""
    import yaml

    return yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text()).get("vars", {})


@cache
def manifest() -> dict:
    path = dbt_project.manifest_path
    if not path.exists():
        raise FileNotFoundError(f"dbt manifest not found at {path}. Run `make setup` (it runs `dbt parse`).")
    return json.loads(path.read_text())


def raw_tables() -> dict[str, str]:
    """The raw tables users' exports feed, with their descriptions: the dbt sources file is their one home."""
    sources = [s for s in manifest()["sources"].values() if s["source_name"] == RAW_SOURCE]
    return {s["name"]: s["description"] for s in sorted(sources, key=lambda s: s["name"])}


def staging_model_of(table: str) -> str | None:
    """The staging model that reads ``raw.<table>`` (one staging model per source table)."""
    source_id = next(uid for uid, s in manifest()["sources"].items()
                     if s["source_name"] == RAW_SOURCE and s["name"] == table)
    for node in manifest()["nodes"].values():
        if node["resource_type"] == "model" and source_id in node["depends_on"]["nodes"] \
                and node["name"].startswith("stg_"):
            return node["name"]
    return None


def _lock_error(invocation: DbtCliInvocation) -> str | None:
    """DuckDB's "Could not set lock" message if that is why dbt failed, else None."""
    if invocation.is_successful():
        return None
    log = invocation.target_path / "dbt.log"
    text = str(invocation.get_error()) + (log.read_text(errors="replace") if log.exists() else "")
    line = next((ln for ln in text.splitlines() if LOCK_ERROR.search(ln)), None)
    return line.strip() if line else None


PARTIAL_PARSE = "partial_parse.msgpack"


def _parse_seed(warehouse: Path) -> Path:
    """Where the last successful build of this warehouse left dbt's parsed project.

    dagster-dbt seeds each invocation's target folder with `make setup`'s parse, but dbt discards a parse made
    with other vars or another profile (here: the run's as-of date, the warehouse path) and parses everything
    again, 2.5 s per dbt step. A seed per warehouse holds the parse of its last build, which the next build with
    the same vars can reuse; dbt itself checks the vars, profile and files, so a stale seed only costs that parse.
    """
    digest = hashlib.sha256(str(warehouse.resolve()).encode()).hexdigest()[:16]
    return DBT_PROJECT_DIR / "target" / "partial_parse" / f"{digest}.msgpack"


def _seeded_target(context: dg.AssetExecutionContext, seed: Path) -> Path:
    """A target folder of this invocation's own (named as dagster-dbt names them), holding the seed's parse."""
    base = Path(os.getenv("DBT_TARGET_PATH", "target"))
    target = base / f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}-{uuid.uuid4().hex[:7]}"
    if seed.exists():
        folder = target if target.is_absolute() else DBT_PROJECT_DIR / target
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seed, folder / PARTIAL_PARSE)
    return target


def _keep_parse(invocation: DbtCliInvocation, seed: Path) -> None:
    parsed = invocation.target_path / PARTIAL_PARSE
    if invocation.is_successful() and parsed.exists():
        seed.parent.mkdir(parents=True, exist_ok=True)
        aside = seed.with_name(f"{seed.name}.{os.getpid()}")
        shutil.copyfile(parsed, aside)
        os.replace(aside, seed)  # a build starting meanwhile copies the old seed or the new one, never half of one


def build_waiting_for_lock(context: dg.AssetExecutionContext, dbt: DbtCliResource, args: list[str],
                           warehouse: Path) -> tuple[DbtCliInvocation, list]:
    """``dbt <args>`` once the warehouse's write lock is free; again (within the lock wait) if dbt lost the race.

    Returns the invocation and its events, not yet yielded: a retried attempt's events are never published.
    """
    deadline = time.monotonic() + lock_wait_seconds()
    seed = _parse_seed(warehouse)
    while True:
        open_with_retry(warehouse, wait_seconds=max(deadline - time.monotonic(), 0)).close()
        invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=_seeded_target(context, seed))
        events = list(invocation.stream())
        lock = _lock_error(invocation)
        if lock is None:
            _keep_parse(invocation, seed)
            return invocation, events
        if time.monotonic() >= deadline:
            raise dg.Failure(f"dbt could not lock the warehouse {warehouse}: it is held by {lock_holder(lock)} "
                             f"and stayed held for {lock_wait_seconds():.0f} s. Close that session or raise "
                             "MICROSEG_LOCK_WAIT_SECONDS.")
        context.log.warning(f"dbt could not lock {warehouse} (held by {lock_holder(lock)}); waiting and retrying.")
