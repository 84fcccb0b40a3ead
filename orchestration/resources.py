"""Resources shared by every asset: the warehouse file and the dbt project/CLI."""

from __future__ import annotations

import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import dagster as dg
import duckdb
import pandas as pd
from dagster_dbt import DbtCliResource, DbtProject
from pydantic import Field

from orchestration import warehouse

DBT_PROJECT_DIR = warehouse.PROJECT_ROOT / "dbt_project"

# The manifest is prepared by `make setup` (dbt parse), never at import time.
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# Every asset that writes to the warehouse runs in this pool; dagster.yaml limits it
# to one slot, because DuckDB allows a single writing process per file.
WAREHOUSE_POOL = "duckdb_warehouse"

OWNERS = ["team:marketing-analytics"]


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Connections are opened per call and closed straight after."""

    path: str | None = Field(
        default=None,
        description="Warehouse file. Empty means $MICROSEG_WAREHOUSE, else data/warehouse.duckdb.",
    )

    def resolved_path(self) -> Path:
        return Path(self.path).resolve() if self.path else warehouse.warehouse_path()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connect(read_only=read_only, path=self.resolved_path()) as con:
            yield con

    def replace_tables(self, schema: str, tables: Mapping[str, pd.DataFrame]) -> dict[str, int]:
        return warehouse.replace_tables(schema, tables, path=self.resolved_path())

    def query_df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return warehouse.query_df(sql, params, path=self.resolved_path())


def _dbt_executable() -> str:
    # The dbt installed beside this interpreter (the project's venv), even when the venv is not activated.
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def build_resources() -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(),
        "dbt": DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=_dbt_executable()),
    }
