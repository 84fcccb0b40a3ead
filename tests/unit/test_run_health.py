"""A run whose process is killed is found dead, marked failed and its pool slot freed; a live run is left alone.

A real instance (the repo's dagster.yaml in a temp DAGSTER_HOME) and a real run in a subprocess, holding the
warehouse pool's one slot, killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dagster as dg

from orchestration.lib.run_health import PidCheckingRunLauncher, clean_up_dead_runs, slot_holders
from tests.conftest import ROOT

HOLDER = """
import pathlib, sys, time
import dagster as dg

@dg.op(pool="duckdb_warehouse")
def hold_the_slot():
    pathlib.Path(sys.argv[1]).touch()
    time.sleep(600)

@dg.job
def holder():
    hold_the_slot()

holder.execute_in_process(instance=dg.DagsterInstance.get())
"""


WAITER = """
import dagster as dg
from orchestration.lib.progress import progress_logger

@dg.op(pool="duckdb_warehouse")
def write_after_the_holder():
    pass

@dg.job(logger_defs={"progress": progress_logger})
def waiter():
    write_after_the_holder()

result = waiter.execute_in_process(instance=dg.DagsterInstance.get(), run_config={"loggers": {"progress": {}}})
raise SystemExit(0 if result.success else 1)
"""


def _wait_for(found, process, seconds=90):
    deadline = time.monotonic() + seconds
    while not found():
        assert process.poll() is None and time.monotonic() < deadline, "the run did not get there"
        time.sleep(0.1)


def _instance_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    return home


def _kill(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_killed_run_is_failed_and_frees_its_slot_live_run_is_kept(tmp_path):
    home = _instance_home(tmp_path)
    ready = tmp_path / "holding"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(ready)], env=env, cwd=tmp_path,
                               start_new_session=True)
    try:
        _wait_for(ready.exists, process)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert isinstance(instance.run_launcher, PidCheckingRunLauncher)  # dagster.yaml's launcher
            (run,) = instance.get_runs()
            assert slot_holders(instance) == [(run.run_id, "hold_the_slot")]
            # alive: neither the preflight nor the daemon's health check touches it
            assert instance.run_launcher.check_run_worker_health(run).status.value == "RUNNING"
            assert clean_up_dead_runs(instance).failed == []
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED

            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # what a kill leaves
            health = instance.run_launcher.check_run_worker_health(run)
            assert health.status.value == "FAILED" and f"process {process.pid} is gone" in health.msg

            cleanup = clean_up_dead_runs(instance)
            assert cleanup.failed == [run.run_id] and cleanup.freed == [run.run_id]
            assert cleanup.line() == (f"Preflight: marked 1 dead run(s) failed ({run.run_id[:8]}); "
                                      f"freed pool duckdb_warehouse slots held by {run.run_id[:8]}.")
            failed = instance.get_run_by_id(run.run_id)
            assert failed.status == dg.DagsterRunStatus.FAILURE and slot_holders(instance) == []
            failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
            assert "process" in failure[0].event_log_entry.dagster_event.message
            # a second preflight has nothing left to do
            assert clean_up_dead_runs(instance).line().startswith("Preflight: no stale runs")
    finally:
        _kill(process)


def test_a_run_waiting_for_the_pool_says_who_holds_it_and_goes_once_the_holder_is_cleaned_up(tmp_path):
    home = _instance_home(tmp_path)
    ready, said = tmp_path / "holding", tmp_path / "waiter.err"
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(ready)], env=env, cwd=tmp_path,
                              start_new_session=True)
    waiter = None
    try:
        _wait_for(ready.exists, holder)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            (held,) = instance.get_runs()
        waiter = subprocess.Popen([sys.executable, "-c", WAITER], env=env, cwd=ROOT, stderr=said.open("w"),
                                  start_new_session=True)
        _wait_for(lambda: "waiting for pool" in said.read_text(), waiter)
        time.sleep(3)  # Dagster re-checks the slot every few seconds: still one line
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert clean_up_dead_runs(instance).failed == [held.run_id]
        assert waiter.wait(timeout=90) == 0
        lines = [line for line in said.read_text().splitlines() if "waiting for pool" in line]
        assert len(lines) == 1, lines
        assert f"waiting for pool duckdb_warehouse (held by run {held.run_id[:8]} step hold_the_slot" in lines[0]
    finally:
        _kill(holder)
        if waiter is not None:
            _kill(waiter)
