"""The Makefile respects what the user exported: their DAGSTER_HOME is the one every recipe sees."""

import os
import subprocess

from tests.conftest import ROOT

SHOW = 'show-home: ; @echo "$(DAGSTER_HOME)|$$DAGSTER_HOME"'


def _make_sees(env: dict) -> list[str]:
    out = subprocess.run(["make", "-s", "--no-print-directory", "--eval", SHOW, "show-home"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    return out.strip().split("|")


def test_exported_dagster_home_is_kept_and_the_default_is_project_local(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    assert _make_sees({**env, "DAGSTER_HOME": str(tmp_path)}) == [str(tmp_path)] * 2
    assert _make_sees(env) == [str(ROOT / ".dagster_home")] * 2
