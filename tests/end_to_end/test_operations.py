"""Scoring without refit, and the inbox sensor: each on a copy of the built warehouse."""

import dagster as dg
import pandas as pd
import pytest

from orchestration.lib.settings import snapshot_path
from tests.conftest import AS_OF, load_defs, query


def _run(job_name: str, run_config: dict, instance=None):
    return load_defs().resolve_job_def(job_name).execute_in_process(
        run_config=run_config, instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False)


_query = query
AS_OF_CONFIG = {"resources": {"analysis": {"config": {"as_of_date": AS_OF}}}}


def test_scoring_reproduces_the_fit_and_a_second_score_of_the_same_data_lets_it_stand(warehouse_copy):
    instance = dg.DagsterInstance.ephemeral()
    result = _run("score_customers", AS_OF_CONFIG, instance)
    assert result.success
    scores = _query(warehouse_copy, "select * from segments.customer_scores")
    fitted = _query(warehouse_copy, "select customer_id, segment_id from segments.customer_segments")
    merged = scores.merge(fitted, on="customer_id", suffixes=("", "_fit"))
    assert len(merged) == len(fitted) == len(scores)
    assert (merged["segment_id"] == merged["segment_id_fit"]).all()
    assert not scores["is_new_customer"].any() and not scores["changed_segment"].any()
    runs = _query(warehouse_copy, "select count(*) as n from segments.segmentation_runs")["n"].item()
    assert runs == 1  # no refit happened

    # nothing changed since: the latest result stands, and nothing after the scores is redone
    ledger = _query(warehouse_copy, "select result_id, inputs_fingerprint from segments.scoring_runs order by scored_at")
    assert ledger["inputs_fingerprint"].notna().all() and ledger["inputs_fingerprint"].nunique() == 1
    snapshot = snapshot_path(warehouse_copy)
    published = snapshot.stat().st_mtime_ns
    again = _run("score_customers", AS_OF_CONFIG, instance)
    assert again.success
    assert again.asset_materializations_for_node("customer_scores") == []
    skipped = {e.step_key for e in again.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert {"dbt_segment_marts", "audiences__segment_exports", "report__segment_report",
            "snapshot__published_warehouse"} <= skipped, skipped
    (check,) = again.get_asset_check_evaluations()
    assert check.passed and ledger["result_id"].iloc[-1] in check.description
    pd.testing.assert_frame_equal(_query(warehouse_copy, "select result_id, inputs_fingerprint from "
                                                         "segments.scoring_runs order by scored_at"), ledger)
    assert snapshot.stat().st_mtime_ns == published

    # asked to score anyway, it does: a new result from the same inputs
    rescored = _run("score_customers", {**AS_OF_CONFIG, "ops": {"customer_scores": {"config": {
        "rescore_unchanged": True}}}}, instance)
    assert rescored.success and rescored.asset_materializations_for_node("customer_scores")
    after = _query(warehouse_copy, "select inputs_fingerprint from segments.scoring_runs")
    assert len(after) == len(ledger) + 1 and after["inputs_fingerprint"].nunique() == 1


def test_inbox_file_is_ingested_and_scored_exactly_once(warehouse_copy, tmp_path):
    from orchestration.defs.ingest.sensors import inbox_sensor

    inbox = tmp_path / "inbox"
    twin = _query(warehouse_copy, "select * from raw.customers where customer_id = 100001 limit 1")
    twin["customer_id"] = 777_001
    twin.to_csv(inbox / "customers_2026-06-30.csv", index=False)
    orders = _query(warehouse_copy, "select * from raw.orders where customer_id = 100001")
    orders["customer_id"], orders["order_id"] = 777_001, orders["order_id"] + 900_000_000
    orders.to_parquet(inbox / "orders_2026-06-30.parquet")
    (inbox / "notes.txt").write_text("not an export")

    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance)
    requests = list(inbox_sensor(context))
    assert sorted(r.tags["microseg/raw_table"] for r in requests) == ["customers", "orders"]
    for request in sorted(requests, key=lambda r: r.tags["microseg/raw_table"]):
        config = {**request.run_config, **AS_OF_CONFIG}
        assert _run("ingest_and_score", config, instance).success, request.tags

    scores = _query(warehouse_copy, "select * from segments.customer_scores where customer_id = 777001")
    assert len(scores) == 1 and scores["is_new_customer"].item()
    published = _query(warehouse_copy, "select segment_id from segments.segment_profiles where level = 'micro'")
    assert scores["segment_id"].item() in set(published["segment_id"])
    assert scores["model_run_id"].item() == _query(warehouse_copy, "select run_id from segments.segmentation_runs")["run_id"].item()

    again = inbox_sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
    assert isinstance(again, dg.SkipReason) and "notes.txt" not in again.skip_message


def test_bad_inbox_file_is_reported_with_file_and_column_and_not_retried(warehouse_copy, tmp_path):
    from orchestration.defs.ingest.sensors import inbox_sensor

    bad = tmp_path / "inbox" / "orders_broken.csv"
    pd.DataFrame({"order_id": [1], "customer_id": [100001]}).to_csv(bad, index=False)
    context = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral())
    (request,) = list(inbox_sensor(context))
    result = _run("ingest_and_score", {**request.run_config, **AS_OF_CONFIG})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "orders_broken.csv" in message and "order_ts" in message
    # nothing half-written: raw.orders unchanged
    assert _query(warehouse_copy, "select count(*) as n from raw.orders where order_id = 1")["n"].item() == 0
    retry = inbox_sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), cursor=context.cursor))
    assert isinstance(retry, dg.SkipReason)
