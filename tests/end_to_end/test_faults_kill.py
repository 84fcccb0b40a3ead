"""Fault injection: kill -9 a whole run, as `make run` starts it, at each step; nothing stalls, nothing is mixed.

Runs go through `make run` (its preflight, then `dg launch`) in a subprocess with a persistent DAGSTER_HOME
holding the repo's dagster.yaml, on 1,500 demo customers. The test watches the instance's event log for the
step to start, then kills the run's process group. The kill points form one chain, so each killed run is also
the "next run" of the kill before it (it has to get the pool slot the dead run held); the chain ends with a
complete run. Published results are what `make sql` reads: the snapshot, compared table by table.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import AS_OF, FAST_SEGMENTATION, ROOT

N_CUSTOMERS = 1_500
STEP_TIMEOUT = 240  # seconds a step may take to start (contended 2-core machine)
RUN_TIMEOUT = 420
# (kill point, job, step to kill during, seconds into the step); in the order they run
KILL_POINTS = [
    ("ingest", "full_pipeline", "raw_exports", 0.2),
    ("dbt features", "full_pipeline", "dbt_features", 4.0),
    ("segmentation", "segment_customers", "customer_segmentation", 2.0),
    ("scoring", "segment_customers", "customer_scores", 0.1),
    ("segment marts", "segment_customers", "dbt_segment_marts", 3.0),
    ("report", "segment_customers", "report__segment_report", 0.2),
]
# between the dbt-features kill and the rest: the complete run whose results the later kills must keep
COMPLETE_AFTER = "dbt features"


class Project:
    """A temp warehouse and instance, and `make run` pointed at them."""

    def __init__(self, root: Path):
        self.root = root
        self.home = root / "dagster_home"
        self.home.mkdir()
        (self.home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
        self.warehouse = root / "warehouse.duckdb"
        self.snapshot = root / "warehouse.published.duckdb"
        analysis = {"analysis": {"config": {"as_of_date": AS_OF}}}
        base = {"execution": {"config": {"in_process": {}}}, "loggers": {"progress": {}}, "resources": analysis}
        segmentation = {"customer_segmentation": {"config": FAST_SEGMENTATION}}
        demo = {"demo_exports": {"config": {"n_customers": N_CUSTOMERS, "seed": 42, "reference_date": AS_OF}}}
        self.configs = {"full_pipeline": {**base, "ops": {**demo, **segmentation}},
                        "segment_customers": {**base, "ops": segmentation}}
        for job, config in self.configs.items():
            (root / f"{job}.yaml").write_text(yaml.safe_dump(config))
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("MICROSEG_") and k not in ("DAGSTER_HOME", "VIRTUAL_ENV")}
        self.env.update({"DAGSTER_HOME": str(self.home), "MICROSEG_WAREHOUSE": str(self.warehouse),
                         "MICROSEG_DEMO": "1", "MICROSEG_LOCK_WAIT_SECONDS": "120"})
        self.launches = 0

    def instance(self):
        import dagster as dg

        return dg.DagsterInstance.from_config(str(self.home))

    def make_run(self, job: str) -> tuple[subprocess.Popen, Path]:
        """`make run JOB=<job>` in a session of its own (so its whole process group can be killed)."""
        self.launches += 1
        out = self.root / f"launch{self.launches}_{job}.out"
        args = ["make", "-s", "run", f"JOB={job}", f"RUN_CONFIG={self.root / f'{job}.yaml'}",
                f"RUN_LOG={self.root / f'launch{self.launches}.log'}"]
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out.open("w"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        return process, out

    def run_after(self, known: set[str], process: subprocess.Popen, out: Path):
        """The run the launch created (the newest run not in ``known``)."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            with self.instance() as instance:
                new = [r for r in instance.get_runs(limit=5) if r.run_id not in known]
            if new:
                return new[0].run_id
            assert process.poll() is None, f"make run exited {process.returncode}:\n{out.read_text()}"
            time.sleep(0.5)
        raise AssertionError(f"no run started within {STEP_TIMEOUT} s:\n{out.read_text()}")


def step_events(instance, run_id: str, kind) -> set[str]:
    return {r.event_log_entry.step_key for r in instance.get_records_for_run(run_id, of_type=kind).records}


def slot_holders(instance) -> set[str]:
    from orchestration.lib.run_health import slot_holders as holders

    return {run_id for run_id, _ in holders(instance)}


def fingerprint(path: Path) -> dict[str, tuple[int, int]]:
    """(rows, order-free hash of every row) per published table: equal only if the contents are."""
    if not path.exists():
        return {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute("select table_schema || '.' || table_name from information_schema.tables "
                             "order by 1").fetchall()
        return {t: tuple(con.execute(f"select count(*), coalesce(bit_xor(hash(x)), 0) from {t} x").fetchone())
                for (t,) in tables}


def one_run(path: Path) -> tuple[set, set, set]:
    """What the snapshot's layers say produced them: segmentation runs, scoring results, marts' results."""
    with duckdb.connect(str(path), read_only=True) as con:
        latest_fit = con.execute("select run_id from segments.segmentation_runs order by started_at desc limit 1"
                                 ).fetchone()[0]
        scores = {r for (r,) in con.execute("select distinct result_id from segments.customer_scores").fetchall()}
        marts = {r for (r,) in con.execute("select distinct result_id from marts.customer_segment_details").fetchall()}
        marts_fit = {r for (r,) in con.execute("select distinct run_id from marts.customer_segment_details").fetchall()}
        models = {r for (r,) in con.execute("select distinct model_run_id from segments.customer_scores").fetchall()}
    return {latest_fit} | models | marts_fit, scores, marts


@pytest.fixture(scope="module")
def chain(tmp_path_factory, dbt_manifest):
    """State shared along the chain: the project, the last killed run, the complete run's fingerprint."""
    return {"project": Project(tmp_path_factory.mktemp("faults")), "killed": None, "published": {},
            "table": []}


def _finish(project: Project, process: subprocess.Popen, out: Path) -> None:
    assert process.wait(timeout=RUN_TIMEOUT) == 0, out.read_text()


def _wait_for_step_start(project: Project, run_id: str, step: str, process: subprocess.Popen, out: Path) -> None:
    """Returns as soon as the run's event log has the step's start. One instance, polled every 50 ms: opening
    an instance per look took long enough on a contended machine for a short step (the ingest of 1,500
    customers) to finish before the kill meant for its middle."""
    import dagster as dg

    deadline = time.monotonic() + STEP_TIMEOUT
    with project.instance() as instance:
        while step not in step_events(instance, run_id, dg.DagsterEventType.STEP_START):
            assert process.poll() is None, f"the run ended before {step} started:\n{out.read_text()}"
            assert time.monotonic() < deadline, f"{step} did not start in {STEP_TIMEOUT} s:\n{out.read_text()}"
            time.sleep(0.05)


def _wait_for_message(project: Project, run_id: str, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with project.instance() as instance:
            found = [e.user_message for e in instance.all_logs(run_id) if text in (e.user_message or "")]
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no log message with {text!r} in {timeout} s")


def _check_previous_cleaned(chain, out_text: str) -> None:
    """The launch's preflight failed the run killed before it and freed its slot, saying so in one line."""
    killed = chain["killed"]
    if killed is None:
        return
    assert f"marked 1 dead run(s) failed ({killed[:8]})" in out_text, out_text
    with chain["project"].instance() as instance:
        run = instance.get_run_by_id(killed)
        assert run.status.value == "FAILURE"
        assert killed not in slot_holders(instance)


@pytest.mark.parametrize("point,job,step,delay", KILL_POINTS, ids=[p[0] for p in KILL_POINTS])
def test_kill_during_step_leaves_published_results_and_no_stall(chain, point, job, step, delay):
    import dagster as dg

    project: Project = chain["project"]
    with project.instance() as instance:
        known = {r.run_id for r in instance.get_runs()}
    launched = time.monotonic()
    process, out = project.make_run(job)
    run_id = project.run_after(known, process, out)
    # the step started: the previous dead run's slot was freed, this run got it
    _wait_for_step_start(project, run_id, step, process, out)
    to_step = time.monotonic() - launched
    time.sleep(delay)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    _check_previous_cleaned(chain, out.read_text())

    with project.instance() as instance:
        run = instance.get_run_by_id(run_id)
        done = step_events(instance, run_id, dg.DagsterEventType.STEP_SUCCESS)
        holds_slot = run_id in slot_holders(instance)
    assert run.status.value == "STARTED"  # what a kill leaves; the next launch's preflight must clean it
    assert step not in done, f"{step} finished before the kill: pick a shorter delay"
    # what analysts read is the previous complete run's, table for table (or nothing, before the first)
    assert fingerprint(project.snapshot) == chain["published"]
    assert not list(project.root.glob("*.published.duckdb.tmp-*"))
    chain["killed"] = run_id
    chain["table"].append((point, step, run.status.value, holds_slot, f"{to_step:.0f} s to reach the step"))

    if point == COMPLETE_AFTER:  # the next run, started the normal way, completes unattended
        launched = time.monotonic()
        process, out = project.make_run("full_pipeline")
        _finish(project, process, out)
        seconds = time.monotonic() - launched
        _check_previous_cleaned(chain, out.read_text())
        chain["killed"] = None
        chain["published"] = fingerprint(project.snapshot)
        fits, scores, marts = one_run(project.snapshot)
        assert len(fits) == 1 and len(scores) == 1 and scores == marts
        chain["table"].append(("(complete run)", "full_pipeline", "SUCCESS", False, f"{seconds:.0f} s"))


def test_next_run_succeeds_with_sessions_open_on_the_snapshot_and_the_live_file(chain):
    """The chain's last kill is cleaned up by the next launch, which completes while an analyst holds the
    snapshot open the whole time and a read-only session on the live warehouse makes its writer wait."""
    project: Project = chain["project"]
    assert chain["published"], "the chain's complete run did not happen"
    analyst = duckdb.connect(str(project.snapshot), read_only=True)
    before = analyst.execute("select count(*) from segments.segmentation_runs").fetchone()[0]
    with project.instance() as instance:
        known = {r.run_id for r in instance.get_runs()}
    launched = time.monotonic()
    process, out = project.make_run("segment_customers")
    run_id = project.run_after(known, process, out)
    # from the segmentation's start, a reader on the live file (it will want to write)
    _wait_for_step_start(project, run_id, "customer_segmentation", process, out)
    with duckdb.connect(str(project.warehouse), read_only=True) as live:  # until the writer says it waits
        live.execute("select count(*) from marts.customer_features").fetchone()
        waited = _wait_for_message(project, run_id, "is locked by PID", timeout=90)
    _finish(project, process, out)
    seconds = time.monotonic() - launched
    assert str(project.warehouse) in waited and "waiting up to 120 s" in waited
    _check_previous_cleaned(chain, out.read_text())

    # the open session still reads the snapshot it opened; a new one reads the new run, in one piece
    assert analyst.execute("select count(*) from segments.segmentation_runs").fetchone()[0] == before
    analyst.close()
    fits, scores, marts = one_run(project.snapshot)
    assert len(fits) == 1 and len(scores) == 1 and scores == marts
    with duckdb.connect(str(project.snapshot), read_only=True) as con:  # and it is this run's
        (latest,) = con.execute("select dagster_run_id from segments.segmentation_runs "
                                "order by started_at desc limit 1").fetchone()
    assert latest == run_id
    chain["table"].append(("(next run)", "segment_customers", "SUCCESS", False, f"{seconds:.0f} s"))
    table = ["kill point | step | status after kill | slot held | time"]
    table += [" | ".join(str(c) for c in row) for row in chain["table"]]
    (project.root / "kill_points.txt").write_text("\n".join(table) + "\n")  # for the issue note
    print("\n" + "\n".join(table))
