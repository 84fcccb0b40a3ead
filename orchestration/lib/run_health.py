"""Runs whose process died (kill -9, a crash, a closed laptop) must not keep the warehouse's only pool slot.

Dagster records the pid of the process that executes a run's steps in the run's first engine events
("Executing steps in process (pid: ...)", "Started process for run (pid: ...)"). A run that is still
STARTED/STARTING while that process is gone is dead: it is marked failed with the reason, and the pool
slots it holds are freed. The instance is the local one in DAGSTER_HOME, so its runs ran on this machine.

Two callers share this rule: ``clean_up_dead_runs`` (the preflight of `make run` / `make ui`, for runs
launched without a daemon) and ``PidCheckingRunLauncher`` (the daemon's run monitoring, dagster.yaml).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster import DagsterEventType, DagsterRunStatus
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

from orchestration.lib.settings import WAREHOUSE_POOL

IN_PROGRESS = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]
PID_EVENTS_SCANNED = 50  # the pid is in the first engine events of a run
START_TOLERANCE_SECONDS = 5.0  # /proc's start time is in clock ticks; the event's timestamp is a little later


def run_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid that executes ``run_id``'s steps and when it was recorded, or None if not recorded yet."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT,
                                           limit=PID_EVENTS_SCANNED).records
    for record in records:
        data = record.event_log_entry.dagster_event.event_specific_data
        pid = getattr(data, "metadata", {}).get("pid")
        if pid is not None:
            return int(getattr(pid, "value", pid)), record.timestamp
    return None


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_alive(pid: int, recorded_at: float) -> bool:
    """True if ``pid`` runs and is the same process that was recorded (not a zombie, not a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:  # Linux: a zombie is dead; a process started after the record is a reused pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return fields[0] != "Z" and started <= recorded_at + START_TOLERANCE_SECONDS
    except (OSError, IndexError, ValueError):
        return True  # no /proc: os.kill's answer stands


def is_dead(instance: dg.DagsterInstance, run_id: str) -> tuple[bool, str]:
    """(dead?, why): dead only when the pid is recorded and that process is gone."""
    found = run_pid(instance, run_id)
    if found is None:
        return False, "no process recorded yet"
    pid, recorded_at = found
    if process_alive(pid, recorded_at):
        return False, f"process {pid} is running"
    return True, f"its process {pid} is gone (killed or crashed)"


def slot_holders(instance: dg.DagsterInstance, pool: str = WAREHOUSE_POOL) -> list[tuple[str, str]]:
    """(run_id, step_key) of every claimed slot of ``pool``."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    return [(slot.run_id, slot.step_key) for slot in info.claimed_slots]


@dataclass
class Cleanup:
    failed: list[str]  # runs marked failed
    freed: list[str]  # runs whose slots were freed

    def line(self) -> str:
        if not self.failed and not self.freed:
            return f"Preflight: no stale runs; pool {WAREHOUSE_POOL} is free of dead holders."
        parts = []
        if self.failed:
            parts.append(f"marked {len(self.failed)} dead run(s) failed ({', '.join(r[:8] for r in self.failed)})")
        if self.freed:
            parts.append(f"freed pool {WAREHOUSE_POOL} slots held by {', '.join(r[:8] for r in self.freed)}")
        return "Preflight: " + "; ".join(parts) + "."


def clean_up_dead_runs(instance: dg.DagsterInstance) -> Cleanup:
    """Mark STARTED/STARTING runs whose process is gone failed; free the slots and queued steps of finished runs."""
    failed = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        dead, why = is_dead(instance, run.run_id)
        if dead:
            instance.report_run_failed(run, f"Marked failed by microseg's preflight: {why}. "
                                            f"Its pool slots are freed so later runs can start.")
            failed.append(run.run_id)
    # a finished run keeps its claimed slots, and its queued steps could be handed the next free slot
    holders = {run_id for run_id, _ in slot_holders(instance)}
    freed = []
    queued_only = set(instance.event_log_storage.get_concurrency_run_ids()) - holders
    for run_id in [*sorted(queued_only), *sorted(holders)]:  # queues first: a freed slot must not go to them
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            if run_id in holders:
                freed.append(run_id)
    return Cleanup(failed, freed)


class PidCheckingRunLauncher(DefaultRunLauncher):
    """Dagster's default launcher, plus the worker health check run monitoring needs (dagster.yaml).

    The default launcher cannot tell a dead run worker from a live one, so the daemon's run monitoring
    would leave a killed run STARTED; with this check it marks the run failed on its next poll, and
    ``free_slots_after_run_end_seconds`` then frees its slots.
    """

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        dead, why = is_dead(self._instance, run.run_id)
        # UNKNOWN would also fail the run: a run whose pid is not recorded yet counts as running
        return CheckRunHealthResult(WorkerStatus.FAILED if dead else WorkerStatus.RUNNING, why)
