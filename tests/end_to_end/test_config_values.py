"""Config values reach SQL only as typed, validated values: a crafted as_of_date is refused, not pasted."""

import os
import subprocess

import pytest

from orchestration.defs.resources import AnalysisSettings
from tests.conftest import DBT_DIR, dbt_executable

CRAFTED = "2026-01-01' or '1'='1"


def test_the_launchpad_refuses_an_as_of_date_that_is_not_a_date():
    with pytest.raises(Exception, match="as_of_date must be a date written YYYY-MM-DD"):
        AnalysisSettings(as_of_date=CRAFTED)
    assert AnalysisSettings(as_of_date=" 2026-06-30 ").as_of_date == "2026-06-30"


def test_dbt_refuses_a_crafted_date_var_before_any_sql_runs(tmp_path):
    """dbt run by hand (not through Dagster) is guarded too: the macro stops the compile naming the var."""
    env = {**os.environ, "MICROSEG_WAREHOUSE": str(tmp_path / "w.duckdb")}
    args = [dbt_executable(), "compile", "--target-path", str(tmp_path / "target"), "-s", "stg_shop__orders"]
    crafted = subprocess.run([*args, "--vars", f'{{"as_of_date": "{CRAFTED}"}}'], cwd=DBT_DIR, env=env,
                             capture_output=True, text=True)
    assert crafted.returncode != 0
    assert f"var as_of_date must be a date written YYYY-MM-DD, not {CRAFTED}" in crafted.stdout
    # (a real date compiles to cast('2026-06-30' as date): every pipeline test runs that path)
