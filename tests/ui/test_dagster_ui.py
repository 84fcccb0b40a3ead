"""Drive the real Dagster UI in headless Chromium (Debian's; `make test-ui` installs it).

Starts `dagster dev` on a free port against a temp DAGSTER_HOME and warehouse, then
does what a user does: follow the lineage from a raw export to the segment
profiles, find the schedules and the sensor, launch full_pipeline and wait for it.
Screenshots go to artifacts/screenshots/ (git-ignored).
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

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
def ui(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "MICROSEG_WAREHOUSE": str(tmp_path_factory.mktemp("wh") / "warehouse.duckdb"),
           "MICROSEG_INBOX": str(tmp_path_factory.mktemp("inbox")), "MICROSEG_DEMO_CUSTOMERS": "2000"}
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
    for name in ("daily_scoring", "weekly_refit", "inbox_sensor"):
        page.get_by_text(name, exact=True).first.wait_for()
    page.screenshot(path=str(SHOTS / "automation.png"))


def test_full_pipeline_launched_from_the_ui_succeeds(ui, page):
    _open(page, f"{ui}/locations/microseg/jobs/full_pipeline")
    page.get_by_role("button", name="Materialize all").first.click()
    toast = page.get_by_text("Launched run")
    toast.first.wait_for()
    run_id = toast.first.inner_text().split("Launched run")[-1].split()[0]
    # follow the run on its own page until it finishes
    deadline = time.time() + 600
    status = ""
    while time.time() < deadline:
        _open(page, f"{ui}/runs")  # a fresh DAGSTER_HOME: this run is the only one listed
        body = page.inner_text("body")
        status = next((s for s in ("Success", "Failure", "Canceled") if run_id in body and s in body), "")
        if status:
            break
        time.sleep(10)
    page.screenshot(path=str(SHOTS / "run_result.png"))
    assert status == "Success", f"run {run_id} ended as {status or 'unfinished'}"
