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


def test_every_session_is_capped_at_the_configured_memory_and_a_bad_cap_is_named(tmp_path, monkeypatch):
    from orchestration.lib.warehouse import connect

    monkeypatch.setenv("MICROSEG_DUCKDB_MEMORY_LIMIT", "1GB")
    with connect(path=tmp_path / "w.duckdb") as con:
        (limit,) = con.execute("select current_setting('memory_limit')").fetchone()
    assert limit in ("953.6 MiB", "1.0 GiB", "1000.0 MiB")  # DuckDB prints 1GB (10^9 bytes) in MiB
    monkeypatch.setenv("MICROSEG_DUCKDB_MEMORY_LIMIT", "plenty")
    with pytest.raises(ValueError, match="MICROSEG_DUCKDB_MEMORY_LIMIT must be a size such as 4GB.*'plenty'"):
        with connect(path=tmp_path / "w.duckdb"):
            pass


def test_without_a_configured_cap_a_session_gets_half_the_machine_not_duckdbs_own_80_percent(tmp_path, monkeypatch):
    import os

    from orchestration.lib.warehouse import connect

    monkeypatch.delenv("MICROSEG_DUCKDB_MEMORY_LIMIT", raising=False)
    with connect(path=tmp_path / "w.duckdb") as con:
        (limit,) = con.execute("select current_setting('memory_limit')").fetchone()
    value, unit = limit.split()
    cap = float(value) * {"MiB": 2**20, "GiB": 2**30}[unit]
    machine = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0.45 * machine <= cap <= 0.51 * machine


def test_a_query_read_through_arrow_is_the_frame_duckdb_itself_makes():
    from orchestration.lib.warehouse import fetch_df, fetch_df_chunks

    con = duckdb.connect()
    con.execute("""create table t as select * from (values
        (1, 'C-1', null, null, true, date '2026-06-30', 1.25::decimal(6, 2), ['a']),
        (2, null, null, 'x', null, null, null, null)) as v(id, code, never, sometimes, flag, day, amount, tags)""")
    for sql in ["select * from t", "select * from t where false", "select code, never from t",
                "select id, sometimes from t where id = 1"]:
        pd.testing.assert_frame_equal(fetch_df(con, sql), con.execute(sql).df())
    assert fetch_df(con, "select ? as code", ["C-9"])["code"].tolist() == ["C-9"]
    many = "select range as id, 'C-' || range as code, range % 3 = 0 as flag from range(5000) order by id"
    chunks = list(fetch_df_chunks(con, many, 2048))
    assert [len(c) for c in chunks] == [2048, 2048, 904]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), con.execute(many).df())
