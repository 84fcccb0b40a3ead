"""The dbt command line and the run's as-of date: typed, validated, never pasted raw into SQL."""

import pytest

from orchestration.defs.resources import AnalysisSettings
from orchestration.defs.transform.assets import dbt_build_args


def test_dbt_build_args_carry_the_vars():
    assert dbt_build_args({}) == ["build"]
    assert dbt_build_args({"as_of_date": "2026-06-30"}) == ["build", "--vars", '{"as_of_date": "2026-06-30"}']
    assert AnalysisSettings(as_of_date=" 2026-06-30 ").as_of_date == "2026-06-30"


@pytest.mark.parametrize("value", ["30/06/2026", "2026-06-31", "2026-06-30' as date) --", "today"])
def test_an_as_of_date_that_is_not_a_date_is_refused(value):
    with pytest.raises(Exception, match="as_of_date must be a date written YYYY-MM-DD"):
        AnalysisSettings(as_of_date=value)
