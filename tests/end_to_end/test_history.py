"""Keep testing and adjusting, on the demo with time: stable ids across refits, membership history,
migrations, drift that launches a refit by itself, the persistent holdout and measured uplift.

One Dagster instance sees it all, as a deployment would: period 0 end to end, a refit on unchanged
data, then period 1 (a persona moved from store to app, a new niche) scored without a refit, the drift
sensor's refit, and the checks against the planted truth in eval.*.
"""

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from orchestration.defs.demo.synthetic import holdout_bucket
from orchestration.defs.demo.synthetic.generator import NEW_NICHE, SHIFTED_PERSONA
from tests.conftest import AS_OF, FAST_SEGMENTATION, load_defs, pipeline_run_config, query

CUSTOMERS = 5_000
# up to 6 micro segments per macro (the default), so the shifted persona has a segment of its own to leave
SEGMENTATION = {**FAST_SEGMENTATION, "micro_k_max": 6}
PERIOD_1_AS_OF = "2026-09-30"  # period 1 is exported 92 days after period 0


def _segments(warehouse) -> pd.DataFrame:
    return query(warehouse, "select customer_id, macro_segment_id, segment_id from segments.customer_segments "
                            "order by customer_id")


@pytest.fixture(scope="module")
def history(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("history")
    warehouse = root / "warehouse.duckdb"
    instance = dg.DagsterInstance.ephemeral()
    seen = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROSEG_WAREHOUSE", str(warehouse))
        mp.setenv("MICROSEG_DEMO", "1")
        mp.delenv("MICROSEG_LANDING", raising=False)
        mp.delenv("MICROSEG_INBOX", raising=False)
        defs = load_defs()

        def run(job: str, run_config: dict, tags: dict | None = None):
            result = defs.resolve_job_def(job).execute_in_process(run_config=run_config, instance=instance,
                                                                  tags=tags, raise_on_error=False)
            assert result.success, f"{job} failed"
            return result

        period_0 = pipeline_run_config(CUSTOMERS, segmentation=SEGMENTATION)
        run("full_pipeline", period_0)
        seen["period_0"] = _segments(warehouse)
        seen["holdout_0"] = query(warehouse, "select * from marts.customer_holdouts order by customer_id")
        run("segment_customers", {"ops": {"customer_segmentation": {"config": SEGMENTATION}},
                                  "resources": period_0["resources"]})
        seen["refit_unchanged"] = _segments(warehouse)

        period_1 = {"ops": {"demo_exports": {"config": {"n_customers": CUSTOMERS, "seed": 42, "reference_date": AS_OF,
                                                        "period": 1}}},
                    "resources": {"analysis": {"config": {"as_of_date": PERIOD_1_AS_OF}}}}
        run("refresh_features", period_1)
        run("score_customers", {"resources": period_1["resources"]})

        from orchestration.defs.automation.sensors import drift_sensor

        request = drift_sensor(dg.build_sensor_context(instance=instance))
        seen["sensor"] = request
        assert isinstance(request, dg.RunRequest), f"the drift sensor did not ask for a refit: {request}"
        run("segment_customers", {"ops": {"customer_segmentation": {"config": SEGMENTATION}},
                                  "resources": period_1["resources"]}, tags=request.tags)
        seen["period_1"] = _segments(warehouse)
        seen["after_refit"] = drift_sensor(dg.build_sensor_context(instance=instance, cursor="x"))
    return warehouse, seen


def test_a_refit_on_unchanged_data_keeps_every_id_and_assignment(history):
    warehouse, seen = history
    pd.testing.assert_frame_equal(seen["period_0"], seen["refit_unchanged"])
    lineage = query(warehouse, "select * from segments.segment_lineage where run_id = (select run_id from "
                               "segments.segmentation_runs order by finished_at limit 1 offset 1)")
    assert set(lineage["event"]) == {"kept"}


def test_drift_is_flagged_on_the_shifted_features_and_launches_the_refit(history):
    warehouse, seen = history
    drifted = query(warehouse, """
        select d.* from segments.drift_measures d join segments.scoring_runs r using (result_id)
        where r.as_of_date = ? and d.breached and d.model_run_id = (
            select run_id from segments.segmentation_runs order by finished_at limit 1 offset 1)""",
                    [PERIOD_1_AS_OF])
    flagged = set(drifted["feature"].dropna())
    assert {"store_order_share", "app_order_share"} & flagged, drifted
    runs = query(warehouse, "select refit_trigger, previous_run_id from segments.segmentation_runs "
                            "order by finished_at")
    assert runs["refit_trigger"].tolist()[:2] == ["manual", "manual"]
    assert runs["refit_trigger"].iloc[-1].startswith("drift in score-") and "order_share" in runs["refit_trigger"].iloc[-1]
    # after the refit the scores fit the new model again: the sensor has nothing to act on
    assert isinstance(seen["after_refit"], dg.SkipReason)


def test_the_shifted_persona_moves_and_unchanged_personas_keep_their_segment(history):
    warehouse, seen = history
    planted = query(warehouse, "select customer_id, micro_persona from eval.planted_personas")
    shifted = set(planted.loc[planted["micro_persona"] == SHIFTED_PERSONA, "customer_id"])
    niche = set(planted.loc[planted["micro_persona"] == f"{NEW_NICHE.macro}/{NEW_NICHE.micro}", "customer_id"])
    spells = query(warehouse, "select customer_id, count(*) as spells from segments_history.customer_segment_history "
                              "group by customer_id")
    movers = set(spells.loc[spells["spells"] > 1, "customer_id"])
    assert len(movers & shifted) >= 0.8 * len(shifted)
    before = seen["period_0"].set_index("customer_id")["segment_id"]
    after = seen["period_1"].set_index("customer_id")["segment_id"]
    unchanged = sorted(set(before.index) - shifted - niche)
    kept = (before[unchanged] == after.reindex(unchanged)).mean()
    assert kept >= 0.9, f"only {kept:.1%} of unchanged personas' customers kept their segment id"
    migrations = query(warehouse, "select * from marts.segment_migrations")
    moved = migrations[migrations["moved"]]
    assert moved["customers"].sum() >= len(movers & shifted)
    assert moved.loc[moved["from_segment_id"] == "(new)", "customers"].sum() == len(niche)


def test_membership_history_answers_which_segment_on_a_date(history):
    warehouse, seen = history
    customer = int(seen["period_0"]["customer_id"].iloc[0])
    spells = query(warehouse, "select * from segments_history.customer_segment_history where customer_id = ? "
                              "order by dbt_valid_from", [customer])
    assert spells["dbt_valid_to"].isna().sum() == 1  # exactly one open spell: the current segment
    first = spells.iloc[0]
    on_date = query(warehouse, "select segment_id from segments_history.customer_segment_history "
                               "where customer_id = ? and dbt_valid_from <= ? and coalesce(dbt_valid_to, ?) > ?",
                    [customer, first["dbt_valid_from"], pd.Timestamp.max.tz_localize("UTC"), first["dbt_valid_from"]])
    assert on_date["segment_id"].tolist() == [seen["period_0"].set_index("customer_id").loc[customer, "segment_id"]]


def test_the_holdout_is_the_same_customers_at_its_configured_share(history):
    warehouse, seen = history
    now = query(warehouse, "select * from marts.customer_holdouts order by customer_id")
    both = seen["holdout_0"].merge(now, on="customer_id", suffixes=("_0", "_1"))
    assert (both["is_holdout_0"] == both["is_holdout_1"]).all()
    assert abs(now["is_holdout"].mean() - 0.10) <= 0.01
    mirror = holdout_bucket(now["customer_id"].to_numpy(), "microseg-holdout-v1")
    assert np.allclose(mirror, now["holdout_bucket"])


def test_planted_uplifts_fall_in_their_intervals_and_no_other_segment_is_significant(history):
    warehouse, _ = history
    uplift = query(warehouse, "select * from marts.segment_uplift")
    truth = query(warehouse, """
        select s.macro_segment_id, s.segment_id, p.planted_conversion_uplift as u, h.is_holdout
        from segments.customer_scores s join eval.planted_personas p using (customer_id)
        join marts.customer_holdouts h using (customer_id)""")
    campaign = uplift["period_start"].max()
    judged = uplift[~uplift["too_small_to_say"]]
    assert len(judged[judged["period_start"] == campaign]) >= 4  # the macro segments can be judged
    for row in judged.itertuples():
        members = truth[truth["macro_segment_id" if row.level == "macro" else "segment_id"] == row.segment_id]
        planted = members.loc[~members["is_holdout"], "u"].mean() if row.period_start == campaign else 0.0
        expected = planted * (1 - row.holdout_conversion)  # only customers who would not have ordered convert
        if expected < 0.02:
            assert not row.conversion_uplift_significant, row
        else:
            assert row.conversion_uplift_low <= expected <= row.conversion_uplift_high, row
    assert judged["conversion_uplift_significant"].any()
    kpis = query(warehouse, "select * from marts.segment_kpis where level = 'macro' order by evidence_rank")
    assert kpis["ranked_by"].iloc[0] == "measured uplift"
