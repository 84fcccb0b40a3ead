"""Publishing is all or nothing: readers see the previous tables or the new ones, never a mix."""

import duckdb
import pandas as pd
import pytest

from orchestration.lib.warehouse import publish


def test_publish_rolls_back_everything_when_one_table_fails(tmp_path):
    path = tmp_path / "w.duckdb"
    publish("segments", replace={"profiles": pd.DataFrame({"segment_id": ["M1"], "customers": [10]})},
            append={"runs": pd.DataFrame({"run_id": ["r1"]})}, path=path)
    with pytest.raises(duckdb.Error):
        publish("segments",
                replace={"profiles": pd.DataFrame({"segment_id": ["M1", "M2"], "customers": [5, 5]}),
                         # a name SQL cannot take: this table fails after the first was replaced
                         "no such name": pd.DataFrame({"feature": [1]})},
                append={"runs": pd.DataFrame({"run_id": ["r2"]})}, path=path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select segment_id, customers from segments.profiles").fetchall() == [("M1", 10)]
        assert con.execute("select run_id from segments.runs").fetchall() == [("r1",)]


def test_a_history_table_gains_new_columns_instead_of_failing(tmp_path):
    path = tmp_path / "w.duckdb"
    publish("segments", replace={}, append={"runs": pd.DataFrame({"run_id": ["r1"]})}, path=path)
    publish("segments", replace={}, append={"runs": pd.DataFrame({"run_id": ["r2"], "left_out": ["{}"]})}, path=path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select run_id, left_out from segments.runs order by 1").fetchall() == [
            ("r1", None), ("r2", "{}")]
