"""The segment report from a warehouse holding only the segmentation's tables (no scoring, no dbt marts yet):
every segment still gets its card, and what cannot be shown is said on the page, not a crash."""

import duckdb
import pandas as pd

from ml.profiles import build_profiles, trait_table
from ml.segmentation import SegmentationConfig, fit_segments
from orchestration.cli import main
from orchestration.defs.report.render import build_report
from orchestration.defs.segmentation.run_record import published_tables
from orchestration.lib.sql_warehouse import DuckDBWarehouse
from orchestration.lib.warehouse import publish
from tests.unit.planted_frames import planted_features


def _segments_only(path):
    features = planted_features(n_per_micro=80, n_macro=2, n_micro=2)
    result = fit_segments(features, SegmentationConfig(macro_k_min=2, macro_k_max=2, micro_k_min=2, micro_k_max=2,
                                                       bootstrap_rounds=1))
    traits = trait_table(features, result.assignments)
    profiles = build_profiles(features, result.assignments, result.stability(), traits, 1000.0)
    ledger = pd.DataFrame([{"run_id": "seg-1", "finished_at": pd.Timestamp("2026-06-30"),
                            "features_as_of": "2026-06-30", "input_rows": len(features)}])
    replace, _ = published_tables("seg-1", result, profiles, traits, ledger)
    publish("segments", replace={**replace, "segmentation_runs": ledger}, append={}, path=path)
    return profiles


def test_a_warehouse_without_scores_or_marts_still_gets_every_card_and_says_what_is_missing(tmp_path):
    profiles = _segments_only(tmp_path / "w.duckdb")
    page_path, data, _ = build_report(DuckDBWarehouse(tmp_path / "w.duckdb"), tmp_path / "reports")
    assert page_path == tmp_path / "reports" / "seg-1" / "index.html"  # no scoring result: the run's id
    page = page_path.read_text()
    assert page.count("data-segment-id=") == len(profiles) == 6
    assert "KPI actuals and uplift (no campaign months measured" in page
    assert "migrations (one scoring result so far" in page and "migration-chart" not in page
    assert (tmp_path / "reports" / "latest" / "index.html").read_text() == page
    assert not list((tmp_path / "reports").rglob(".index.html.*"))  # nothing left aside


def test_make_report_says_why_there_is_no_report(tmp_path, monkeypatch, capsys):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(path))
    monkeypatch.setenv("MICROSEG_REPORTS", str(tmp_path / "reports"))
    assert main(["report"]) == 1
    assert "run the segmentation" in capsys.readouterr().err
    _segments_only(path)
    assert main(["report"]) == 0
    assert (tmp_path / "reports" / "latest" / "index.html").exists()
