"""A writer meets an analyst's read-only session on the live warehouse: it waits, says for whom, then goes;
past the bounded wait it fails naming the file and the PID. dbt's failure on the same lock is recognised."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import duckdb
import pytest

READER = """
import duckdb, pathlib, sys, time
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("select count(*) from t").fetchall()
pathlib.Path(sys.argv[2]).touch()
time.sleep(float(sys.argv[3]))
"""


def _reader(tmp_path, warehouse, seconds):
    ready = tmp_path / f"reading{seconds}"
    process = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(ready), str(seconds)])
    while not ready.exists():
        assert process.poll() is None, "the reader did not start"
        time.sleep(0.05)
    return process


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select 1 as a")
    return path


def test_writer_waits_for_a_reader_then_writes(tmp_path, warehouse, caplog):
    from orchestration.lib.warehouse import open_with_retry

    reader = _reader(tmp_path, warehouse, 3)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="microseg.warehouse"):
        con = open_with_retry(warehouse, wait_seconds=60)
    con.execute("insert into t values (2)")
    con.close()
    assert time.monotonic() - started > 1  # it did wait
    (message,) = [r.getMessage() for r in caplog.records]  # once per wait, not once per retry
    assert str(warehouse) in message and f"PID {reader.pid}" in message
    reader.wait()


def test_writer_gives_up_after_the_bounded_wait_naming_file_and_pid(tmp_path, warehouse, monkeypatch):
    from orchestration.lib.warehouse import connect

    monkeypatch.setenv("MICROSEG_LOCK_WAIT_SECONDS", "1")
    reader = _reader(tmp_path, warehouse, 20)
    try:
        with pytest.raises(RuntimeError) as error, connect(path=warehouse):
            pass
        assert str(warehouse) in str(error.value) and f"PID {reader.pid}" in str(error.value)
        assert "MICROSEG_LOCK_WAIT_SECONDS" in str(error.value)
    finally:
        reader.kill()
        reader.wait()


def test_dbt_failing_on_the_lock_is_recognised(tmp_path, warehouse, monkeypatch):
    from orchestration.lib.dbt import _lock_error, dbt_cli

    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(warehouse))
    reader = _reader(tmp_path, warehouse, 60)
    try:
        dbt = dbt_cli()
        invocation = dbt.cli(["run", "-s", "stg_shop__products"], raise_on_error=False)
        list(invocation.stream_raw_events())
        lock = _lock_error(invocation)
        assert lock is not None and f"(PID {reader.pid})" in lock and str(warehouse) in lock
    finally:
        reader.kill()
        reader.wait()
