"""Drive the real Dagster UI in headless Chromium (Debian's; `make test-ui` installs it).

Starts `dagster dev` on a free port against a temp DAGSTER_HOME and warehouse, then
does what a user does: follow the lineage from a raw export to the segment
profiles, find the schedules and the sensor, launch full_pipeline and wait for it,
then launch a refit with other parameters from the launchpad and find them in the
run ledger.
Screenshots go to artifacts/screenshots/ (git-ignored).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.ui

CHROMIUM = "/usr/bin/chromium"
# as the workplace's probe: without the background-networking flags Chromium keeps dialling out
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wh") / "warehouse.duckdb"


@pytest.fixture(scope="module")
def ui(tmp_path_factory, warehouse):
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "MICROSEG_WAREHOUSE": str(warehouse),
           "MICROSEG_INBOX": str(tmp_path_factory.mktemp("inbox")), "MICROSEG_DEMO_CUSTOMERS": "2000",
           "MICROSEG_DEMO": "1"}
    log = open(home / "dagster_dev.log", "w")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "dagster"), "dev", "-w", "workspace.yaml",
                             "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/server_info", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(2)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail(f"dagster dev did not start in 180 s; log: {(home / 'dagster_dev.log').read_text()[-3000:]}")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="module")
def page(ui):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run `make test-ui`, which installs Debian's chromium")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1800, "height": 1100})
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def _open(page, url: str):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    skip = page.get_by_role("button", name="Skip")  # the first-visit community dialog
    if skip.count():
        skip.first.click()


def test_lineage_runs_from_a_raw_export_to_the_segment_profiles(ui, page):
    _open(page, f"{ui}/assets/segments/segment_profiles?view=lineage&lineageScope=upstream&lineageDepth=10")
    for name in ("segment_profiles", "customer_features", "int_orders__valid", "stg_shop__orders", "order_items"):
        page.get_by_text(name, exact=True).first.wait_for()
    for group in ("raw", "staging", "intermediate", "marts", "segmentation"):
        assert page.get_by_text(group, exact=True).count() >= 1, group
    page.screenshot(path=str(SHOTS / "asset_lineage.png"))


def test_schedules_and_sensor_are_listed(ui, page):
    _open(page, f"{ui}/automation")
    for name in ("daily_scoring", "weekly_refit", "inbox_sensor", "drift_sensor"):
        page.get_by_text(name, exact=True).first.wait_for()
    page.screenshot(path=str(SHOTS / "automation.png"))


def _wait_for_run(page, ui: str, run_id: str, name: str) -> str:
    """Poll the Runs page until the row of ``run_id`` shows a final status; screenshot it."""
    deadline = time.time() + 600
    status = ""
    while time.time() < deadline:
        _open(page, f"{ui}/runs")
        # the run's row: the lines from its short id up to the next run's short id
        lines = [line.strip() for line in page.inner_text("body").splitlines()]
        start = lines.index(run_id) if run_id in lines else len(lines)
        end = next((i for i in range(start + 1, len(lines)) if re.fullmatch(r"[0-9a-f]{8}", lines[i])), len(lines))
        status = next((s for s in ("Success", "Failure", "Canceled") if s in lines[start:end]), "")
        if status:
            break
        time.sleep(10)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    return status


def test_full_pipeline_launched_from_the_ui_succeeds(ui, page):
    _open(page, f"{ui}/locations/microseg/jobs/full_pipeline")
    page.get_by_role("button", name="Materialize all").first.click()
    toast = page.get_by_text("Launched run")
    toast.first.wait_for()
    run_id = toast.first.inner_text().split("Launched run")[-1].split()[0]
    status = _wait_for_run(page, ui, run_id, "run_result")
    assert status == "Success", f"run {run_id} ended as {status or 'unfinished'}"


LAUNCHPAD_CONFIG = """ops:
  customer_segmentation:
    config:
      seed: 7
      macro_k_max: 6
      bootstrap_rounds: 1
      total_budget: 12345.0
"""


def test_refit_launched_with_launchpad_config_is_recorded_in_the_ledger(ui, page, warehouse):
    """A refit launched from the launchpad with other parameters is recorded with them in the run ledger.

    Runs after the full_pipeline test (the features it built are what this refit reads).
    """
    _open(page, f"{ui}/locations/microseg/jobs/segment_customers/playground")
    editor = page.locator(".CodeMirror").first
    editor.wait_for()
    # the launchpad's editor is CodeMirror: set its text as a paste would, without auto-indent
    editor.evaluate("(el, text) => el.CodeMirror.setValue(text)", LAUNCHPAD_CONFIG)
    page.screenshot(path=str(SHOTS / "launchpad.png"))
    page.get_by_role("button", name="Launch Run").first.click()
    page.wait_for_url("**/runs/**")
    run_id = page.url.rstrip("/").split("/runs/")[-1].split("?")[0]
    status = _wait_for_run(page, ui, run_id[:8], "launchpad_run_result")
    assert status == "Success", f"run {run_id} ended as {status or 'unfinished'}"

    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = con.execute("select dagster_run_id, parameters, macro_k from segments.segmentation_runs "
                             "order by finished_at").df()
    seen = [(r.dagster_run_id, json.loads(r.parameters)["seed"]) for r in ledger.itertuples()]
    assert run_id in ledger["dagster_run_id"].tolist(), f"run {run_id} not in the ledger: {seen}"
    latest = ledger[ledger["dagster_run_id"] == run_id].iloc[-1]
    parameters = json.loads(latest["parameters"])
    assert (parameters["seed"], parameters["macro_k_max"], parameters["total_budget"]) == (7, 6, 12345.0)
    assert latest["macro_k"] <= 6
    assert json.loads(ledger.iloc[0]["parameters"])["seed"] == 42  # the earlier run kept its own defaults
