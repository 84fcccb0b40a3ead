"""A console logger for runs launched from the terminal: one line per step, with its duration and rows.

Dagster's default console logger prints every event (hundreds of lines for a dbt build); `make run`
selects this one instead (``loggers: progress``). Failures, failed checks and warnings from the
steps still print, in full. It writes to stderr, so the steps' own stdout (dbt's log) can go to a file.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import defaultdict

import dagster as dg
from dagster._core.log_manager import get_log_record_metadata, has_log_record_metadata


def _rows(metadata) -> int | None:
    value = metadata.get("dagster/row_count")
    return None if value is None else int(getattr(value, "value", value))


def _held_by(pool: str, own_run_id: str | None) -> str:
    """" (held by run <id> step <key>)" from the instance in DAGSTER_HOME; "" when it cannot tell."""
    if not os.environ.get("DAGSTER_HOME"):
        return ""
    try:
        from orchestration.lib.run_health import slot_holders

        with dg.DagsterInstance.get() as instance:
            holders = [(r, s) for r, s in slot_holders(instance, pool) if r != own_run_id]
    except Exception:  # the line is a courtesy: never fail a run over it
        return ""
    held = ", ".join(f"run {run_id[:8]} step {step}" for run_id, step in holders)
    hint = "; if that run was killed, `make run` (its preflight) or the daemon frees it" if holders else ""
    return f" (held by {held}{hint})" if held else ""


class ProgressHandler(logging.Handler):
    def __init__(self, stream=None):
        super().__init__(level=logging.DEBUG)
        self.stream = stream
        self.assets: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
        self.checks: dict[str, list[bool]] = defaultdict(list)
        self.waiting: set[str] = set()

    def _print(self, line: str) -> None:
        stream = self.stream or sys.stderr  # looked up now: Dagster may swap sys.stderr while capturing
        stream.write(line + "\n")
        stream.flush()

    def _summary(self, step: str) -> str:
        assets = sorted(self.assets.pop(step, []), key=lambda a: (not a[0].startswith("marts"), a[0]))
        checks = self.checks.pop(step, [])
        parts = []
        if assets:
            shown = [f"{key} {rows:,} rows" if rows is not None else key for key, rows in assets[:3]]
            more = f" +{len(assets) - 3} more" if len(assets) > 3 else ""
            parts.append(f"{len(assets)} asset{'s' * (len(assets) != 1)}: {', '.join(shown)}{more}")
        else:
            parts.append("no assets written (see its log)")
        if checks:
            parts.append(f"{sum(checks)}/{len(checks)} checks passed")
        return " · ".join(parts)

    def emit(self, record: logging.LogRecord) -> None:
        if not has_log_record_metadata(record):
            return
        meta = get_log_record_metadata(record)
        step = meta.get("step_key") or ""
        event = meta.get("dagster_event")
        message = meta.get("orig_message") or ""
        if event is None:
            if record.levelno >= logging.WARNING:
                self._print(f"  ! {step}: {message}")
            return
        kind = event.event_type_value
        data = event.event_specific_data
        if kind == "ASSET_MATERIALIZATION":
            materialization = data.materialization
            self.assets[step].append((materialization.asset_key.to_user_string(), _rows(materialization.metadata)))
        elif kind == "ASSET_CHECK_EVALUATION":
            self.checks[step].append(bool(data.passed))
            if not data.passed:
                self._print(f"  ✗ check {data.check_name} on {data.asset_key.to_user_string()}"
                            f"{': ' + data.description if data.description else ''}")
        elif kind == "STEP_SUCCESS":
            self._print(f"✓ {step:<24} {data.duration_ms / 1000:7.1f} s  {self._summary(step)}")
        elif kind == "STEP_FAILURE":
            error = data.error.message.strip().splitlines()[0] if data.error else message
            self._print(f"✗ {step:<24} failed: {error}")
            self.assets.pop(step, None)
        elif kind == "STEP_SKIPPED":
            # Dagster skips a step whose upstream step yielded none of the assets it reads (a failure is not a skip)
            self._print(f"- {step:<24} skipped (nothing new upstream: see the step before)")
        elif kind == "ENGINE_EVENT" and "pool" in (data.metadata or {}) and step not in self.waiting:
            self.waiting.add(step)  # say once per step what it waits for, and who holds it
            pool = str(getattr(data.metadata["pool"], "value", data.metadata["pool"]))
            self._print(f"… {step:<24} waiting for pool {pool}{_held_by(pool, meta.get('run_id'))}")
        elif kind in ("RUN_SUCCESS", "RUN_FAILURE"):
            self._print(f"{'Run succeeded' if kind == 'RUN_SUCCESS' else 'Run FAILED'}: {meta.get('job_name')} "
                        f"(run {meta.get('run_id', '')[:8]})")


@dg.logger(description="One line per step with its duration, rows and checks; failures and warnings in full.")
def progress_logger(init_context) -> logging.Logger:
    logger = logging.Logger("microseg.progress", level=logging.DEBUG)
    logger.addHandler(ProgressHandler())
    return logger
