"""The published snapshot: only the published schemas, views as tables, swapped in whole under open readers."""

import duckdb
import pytest

from orchestration.lib.warehouse import write_snapshot


def test_snapshot_swaps_in_whole_and_an_open_session_keeps_its_copy(tmp_path):
    live, snap = tmp_path / "warehouse.duckdb", tmp_path / "warehouse.published.duckdb"
    with duckdb.connect(str(live)) as con:
        con.execute("create schema raw; create table raw.orders as select 1 as order_id")
        con.execute("create schema segments; create table segments.customer_segments as select 1 as segment")
        con.execute("create schema marts; create view marts.sizes as select count(*) as n from segments.customer_segments")
    assert write_snapshot(live, snap) == {"marts.sizes": 1, "segments.customer_segments": 1}

    analyst = duckdb.connect(str(snap), read_only=True)  # stays open across the next run
    with duckdb.connect(str(live)) as con:  # the next run writes the live file meanwhile: no lock conflict
        con.execute("insert into segments.customer_segments values (2)")
    write_snapshot(live, snap)

    assert analyst.execute("select n from marts.sizes").fetchone() == (1,)  # the run it opened, whole
    analyst.close()
    with duckdb.connect(str(snap), read_only=True) as fresh:
        assert fresh.execute("select n from marts.sizes").fetchone() == (2,)
        kinds = fresh.execute("select distinct table_type from information_schema.tables").fetchall()
        schemas = fresh.execute("select distinct table_schema from information_schema.tables order by 1").fetchall()
    assert kinds == [("BASE TABLE",)] and schemas == [("marts",), ("segments",)]  # no raw, no views
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb", "warehouse.published.duckdb"]


def test_the_snapshot_copy_is_capped_like_every_session_and_leaves_the_last_snapshot_alone(tmp_path, monkeypatch):
    live, snap = tmp_path / "warehouse.duckdb", tmp_path / "warehouse.published.duckdb"
    with duckdb.connect(str(live)) as con:
        con.execute("create schema segments; create table segments.customer_segments as select 1 as segment")
    write_snapshot(live, snap)
    monkeypatch.setenv("MICROSEG_DUCKDB_MEMORY_LIMIT", "plenty")  # the cap is read, so a bad one is named
    with pytest.raises(ValueError, match="MICROSEG_DUCKDB_MEMORY_LIMIT must be a size"):
        write_snapshot(live, snap)
    with duckdb.connect(str(snap), read_only=True) as analyst:
        assert analyst.execute("select segment from segments.customer_segments").fetchall() == [(1,)]
