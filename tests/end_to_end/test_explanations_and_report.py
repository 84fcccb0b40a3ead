"""A pipeline run explains every customer's segment and writes the segment report for its result."""

import dagster as dg

from tests.conftest import load_defs, pipeline_run_config, query
from tests.end_to_end.test_own_data import own_log_run  # noqa: F401  (the fixture: a bare purchase log's run)


def test_every_customer_is_explained_by_three_features_in_words(built_warehouse):
    path, result = built_warehouse
    assert result.success
    explanations = query(path, "select * from segments.customer_explanations")
    per_customer = explanations.groupby("customer_id").size()
    (customers,) = query(path, "select count(*) from segments.customer_segments").iloc[0]
    assert len(per_customer) == customers and (per_customer == 3).all(), per_customer.value_counts()
    assert (explanations["contribution"] > 0).all()
    # ranked by contribution, from the run that published the segments
    ranked = explanations.sort_values(["customer_id", "rank"])
    assert (ranked.groupby("customer_id")["contribution"].diff().dropna() <= 1e-12).all()
    assert set(explanations["run_id"]) == set(query(path, "select distinct run_id from segments.customer_segments")
                                              ["run_id"])
    # the segment explained is the customer's own, the runner-up another
    own = query(path, "select customer_id, segment_id from segments.customer_segments")
    merged = explanations.merge(own, on="customer_id", suffixes=("", "_fitted"))
    assert (merged["segment_id"] == merged["segment_id_fitted"]).all()
    assert (merged["runner_up_segment_id"] != merged["segment_id"]).all()

    details = query(path, "select customer_id, why from marts.customer_segment_details")
    assert details["why"].notna().mean() > 0.95  # all but customers the scoring moved since the fit
    sample = details.dropna().iloc[0]
    words = ranked.loc[ranked["customer_id"] == sample["customer_id"], "explanation"].tolist()
    assert sample["why"] == "; ".join(words)


def test_the_run_writes_the_segment_report_for_its_result(built_warehouse):
    path, result = built_warehouse
    (result_id,) = query(path, "select result_id from segments.scoring_runs order by scored_at desc limit 1"
                         ).iloc[0]
    report = path.parent / "reports" / result_id / "index.html"
    page = report.read_text()
    assert page == (path.parent / "reports" / "latest" / "index.html").read_text()
    (segments,) = query(path, "select count(*) from segments.segment_profiles").iloc[0]
    assert page.count("data-segment-id=") == segments
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page  # offline
    (materialization,) = [e.materialization for e in result.get_asset_materialization_events()
                          if e.asset_key == dg.AssetKey(["report", "segment_report"])]
    assert materialization.metadata["path"] == dg.MetadataValue.path(str(report))
    assert materialization.metadata["segments"].value == segments


def test_a_second_scoring_adds_the_migration_chart_to_a_new_report(warehouse_copy, tmp_path, monkeypatch):
    """On a copy of the built warehouse: the daily scoring writes a report of its own, now with migrations."""
    copy = warehouse_copy
    monkeypatch.setenv("MICROSEG_REPORTS", str(tmp_path / "pages"))
    result = load_defs().resolve_job_def("score_customers").execute_in_process(
        run_config={"resources": pipeline_run_config()["resources"]}, instance=dg.DagsterInstance.ephemeral())
    assert result.success
    (result_id,) = query(copy, "select result_id from segments.scoring_runs order by scored_at desc limit 1").iloc[0]
    page = (tmp_path / "pages" / result_id / "index.html").read_text()
    assert 'class="chart migration-chart"' in page and "Migrations since the previous result" in page
    assert page == (tmp_path / "pages" / "latest" / "index.html").read_text()


def test_a_bare_purchase_log_gets_explanations_and_a_report_from_what_it_holds(own_log_run):
    """Four columns of purchases (tests/end_to_end/test_own_data.py): no channels, regions, touches or
    campaigns. Explanations use only purchase behaviour, and the report says what it cannot show."""
    path, result, _, _ = own_log_run
    assert result.success
    explanations = query(path, "select * from segments.customer_explanations")
    (customers,) = query(path, "select count(*) from segments.customer_segments").iloc[0]
    assert explanations["customer_id"].nunique() == customers
    assert not explanations["feature"].str.contains("region|order_share|open_rate|click_rate|age").any()
    assert not explanations["explanation"].str.contains("nan|unknown", case=False).any()
    page = (path.parent / "reports" / "latest" / "index.html").read_text()
    (segments,) = query(path, "select count(*) from segments.segment_profiles").iloc[0]
    assert page.count("data-segment-id=") == segments
    assert "not known from the data" in page and "The data cannot tell" in page
    assert "Campaign conversion" not in page  # no touches: the KPI is left out, not shown as 0
