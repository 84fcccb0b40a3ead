"""Resources every domain shares: the warehouse file, the engine, the dbt CLI and the run's analysis settings."""


from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field, field_validator

from orchestration.lib import warehouse
from orchestration.lib.dbt import dbt_cli
from orchestration.lib.engine import ENGINE_FIELD, ENGINE_RESOURCE
from orchestration.lib.settings import ENGINE_ENV, ENGINES, SPARK, configured_engine, \
    engine_name, parse_as_of_date


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

    @contextmanager
    def transaction(self, schema: str) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.transaction(schema, path=self.resolved_path()) as con:
            yield con

    def replace_tables(self, schema: str, tables: Mapping[str, pd.DataFrame]) -> dict[str, int]:
        return warehouse.replace_tables(schema, tables, path=self.resolved_path())

    def replace_tables_from_sql(self, schema: str, selects: Mapping[str, str]) -> dict[str, int]:
        return warehouse.replace_tables_from_sql(schema, selects, path=self.resolved_path())

    def publish(self, schema: str, replace: Mapping[str, pd.DataFrame], append: Mapping[str, pd.DataFrame]) -> None:
        warehouse.publish(schema, replace=replace, append=append, path=self.resolved_path())

    def query_df(self, sql: str, params: list | None = None) -> pd.DataFrame:
        return warehouse.query_df(sql, params, path=self.resolved_path())

    def has_table(self, schema: str, name: str) -> bool:
        with self.connect(read_only=True) as con:
            return warehouse.has_table(con, schema, name)


class ComputeEngine(dg.ConfigurableResource):
    """The engine the raw tables and the feature models are built on; set it per run under `resources.engine`."""

    engine: str = Field(
        default_factory=configured_engine,
        description=f"One of {', '.join(ENGINES)}. Default: ${ENGINE_ENV}, else duckdb. On spark the raw tables are "
                    "loaded and quarantined as on duckdb, then exported to Spark, and the dbt feature models build "
                    "there (dbt target spark), and the segmentation runs in Spark SQL; the steps after it do not run on "
                    "Spark yet.",
    )

    @field_validator("engine")
    @classmethod
    def _is_an_engine(cls, value: str) -> str:
        return engine_name(value, ENGINE_FIELD)  # raises with the field and the allowed values named

    @property
    def on_spark(self) -> bool:
        return self.engine == SPARK

    def require_ready(self) -> None:
        """On spark, refuse (saying what to install) when this machine cannot start Spark: pyspark and Java."""
        if self.on_spark:
            from orchestration.lib.spark import require_spark

            try:
                require_spark()
            except RuntimeError as exc:
                raise dg.Failure(str(exc)) from exc


class AnalysisSettings(dg.ConfigurableResource):
    """Settings every step of a run shares; set them once in the launchpad under `resources.analysis`."""

    as_of_date: str = Field(
        default="",
        description="Date (YYYY-MM-DD) the features are computed as of (recency, tenure, history window). "
                    "Empty means the last transaction date in the data.",
    )

    @field_validator("as_of_date")
    @classmethod
    def _is_a_date(cls, value: str) -> str:
        parse_as_of_date(value)  # raises with the value named
        return value.strip()


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={
        "warehouse": WarehouseResource(),
        "analysis": AnalysisSettings(),
        ENGINE_RESOURCE: ComputeEngine(),
        "dbt": dbt_cli(),
    })
