"""End to end: segments land in the warehouse with a ledger, and answer the SQL a user would run."""

import json

import pytest

from tests.conftest import FAST_SEGMENTATION, SMALL_CUSTOMERS


def test_segmentation_assets_and_checks_succeed(built_warehouse):
    _, result = built_warehouse
    assert result.success
    keys = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert {"segments/customer_segments", "segments/segment_profiles", "segments/segmentation_runs",
            "marts/customer_segment_details", "marts/segment_kpis"} <= keys
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["every_customer_assigned_once"].passed
    assert checks["no_segment_below_minimum_size"].passed
    assert checks["segment_names_unique"].passed
    assert "macro_ari" in checks["planted_persona_recovery"].metadata
    profiles_meta = next(m for m in result.get_asset_materialization_events()
                         if m.asset_key.to_user_string() == "segments/segment_profiles").materialization.metadata
    assert "data:image/png;base64," in profiles_meta["chart"].value
    assert "segment_id" in profiles_meta["segment_sizes"].value


def test_segment_sizes_cover_every_customer_once(sql):
    sizes = sql("select segment_id, count(*) as customers from segments.customer_segments group by 1")
    assert sizes["customers"].sum() == SMALL_CUSTOMERS
    assert sql("select count(distinct customer_id) from segments.customer_segments").iloc[0, 0] == SMALL_CUSTOMERS
    minimum = max(25, int(0.005 * SMALL_CUSTOMERS))
    assert sizes["customers"].min() >= minimum
    macro = sql("select count(*) from segments.segment_profiles where level = 'macro'").iloc[0, 0]
    assert FAST_SEGMENTATION["macro_k_min"] - 1 <= macro <= FAST_SEGMENTATION["macro_k_max"]


def test_one_customers_segment_and_its_profile(sql):
    customer = sql("select customer_id from marts.customer_features order by net_revenue desc limit 1").iloc[0, 0]
    row = sql("""
        select d.segment_name, d.macro_segment_name, p.description, p.recommended_channel, p.customers, p.level,
               d.source_customer_id
        from marts.customer_segment_details d join segments.segment_profiles p using (segment_id)
        where d.customer_id = ?
    """, [int(customer)]).iloc[0]
    assert row["level"] == "micro" and row["customers"] >= 25
    assert row["segment_name"] and row["macro_segment_name"] and row["segment_name"] != row["macro_segment_name"]
    assert row["recommended_channel"] in {"email", "sms", "push"}
    assert row["source_customer_id"] == str(customer)  # integer ids are shown as they are (no raw._id_keys rows)
    assert f"{row['customers']:,} customers" in row["description"]


def test_segments_ranked_by_value_make_sense(sql):
    ranked = sql("""
        select segment_id, segment_name, priority_rank, priority_score, budget_share, budget, avg_customer_value
        from marts.segment_kpis where level = 'micro' order by priority_rank
    """)
    assert ranked["priority_rank"].iloc[0] == 1 and ranked["priority_score"].iloc[0] == pytest.approx(100)
    assert ranked["priority_score"].is_monotonic_decreasing
    assert ranked["budget_share"].sum() == pytest.approx(1.0)
    assert ranked["budget"].sum() == pytest.approx(FAST_SEGMENTATION["total_budget"])
    # the top-priority segment gets more budget than the bottom one
    assert ranked["budget"].iloc[0] > ranked["budget"].iloc[-1]


def test_every_result_row_traces_to_the_run_ledger(sql):
    runs = sql("select * from segments.segmentation_runs")
    assert len(runs) == 1
    run = runs.iloc[0]
    for table in ("customer_segments", "segment_profiles", "segment_traits", "model_scaling", "model_centroids"):
        assert sql(f"select distinct run_id from segments.{table}")["run_id"].tolist() == [run["run_id"]], table
    assert run["input_rows"] == SMALL_CUSTOMERS and len(run["input_fingerprint"]) == 16
    params = json.loads(run["parameters"])
    assert params["macro_k_max"] == FAST_SEGMENTATION["macro_k_max"] and params["seed"] == 42
    candidates = json.loads(run["k_candidates"])
    macro = [c for c in candidates if c["level"] == "macro"]
    assert [c["k"] for c in macro] == list(range(4, 8)) and sum(c["chosen"] for c in macro) == 1
    assert run["dagster_run_id"] and run["features_dagster_run_id"] == run["dagster_run_id"]
    assert "net_revenue" in json.loads(run["feature_columns"])


def test_traits_index_and_z_score(sql):
    traits = sql("""
        select t.segment_id, t.feature, t.segment_value, t.population_value, t."index", t.z_score
        from segments.segment_traits t where t.level = 'macro' and t.feature = 'net_revenue'
    """)
    assert (traits["index"] - traits["segment_value"] / traits["population_value"] * 100).abs().max() < 1e-6
    assert sql("select avg(net_revenue) from marts.customer_features").iloc[0, 0] == pytest.approx(
        traits["population_value"].iloc[0])


def test_a_failed_blocking_check_is_reported_and_publishes_nothing(built_warehouse, tmp_path, monkeypatch):
    import shutil

    import dagster as dg

    from tests.conftest import load_defs, query

    path, _ = built_warehouse
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(path, copy)
    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(copy))
    before = query(copy, "select run_id, count(*) as n from segments.customer_segments group by 1")
    impossible = {**FAST_SEGMENTATION, "min_segment_size": 10 * SMALL_CUSTOMERS}  # no segment can be this big
    result = load_defs().resolve_job_def("segment_customers").execute_in_process(
        run_config={"ops": {"customer_segmentation": {"config": impossible}}},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    failed = checks["no_segment_below_minimum_size"]
    assert not failed.passed and f"minimum of {10 * SMALL_CUSTOMERS:,} customers" in failed.description
    assert checks["every_customer_assigned_once"].passed
    assert not result.get_asset_materialization_events()
    after = query(copy, "select run_id, count(*) as n from segments.customer_segments group by 1")
    assert after.equals(before)
    runs = query(copy, "select count(*) as n from segments.segmentation_runs")["n"].item()
    assert runs == 1


def test_a_base_larger_than_the_fit_sample_is_fitted_on_a_sample_and_assigned_in_full(warehouse_copy):
    """Only the sample reaches Python; every customer is still assigned once, profiled and explained."""
    import dagster as dg

    from tests.conftest import AS_OF, load_defs, query

    defs = load_defs()
    segmentation = defs.resolve_assets_def(dg.AssetKey(["segments", "customer_segments"]))
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=list(segmentation.keys), instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"customer_segmentation": {"config": {**FAST_SEGMENTATION, "fit_customers": 1_000}}},
                    "resources": {"analysis": {"config": {"as_of_date": AS_OF}}}})
    assert result.success
    run = query(warehouse_copy, "select input_rows, fitted_on_customers, parameters from segments.segmentation_runs "
                                "order by finished_at desc limit 1").iloc[0]
    assert run["input_rows"] == SMALL_CUSTOMERS and run["fitted_on_customers"] == 1_000
    assert json.loads(run["parameters"])["fit_customers"] == 1_000
    assigned = query(warehouse_copy, "select count(*) as n, count(distinct customer_id) as customers, "
                                     "count(segment_name) as named from segments.customer_segments").iloc[0]
    assert assigned.to_dict() == {"n": SMALL_CUSTOMERS, "customers": SMALL_CUSTOMERS, "named": SMALL_CUSTOMERS}
    sizes = query(warehouse_copy, "select level, sum(customers) as customers from segments.segment_profiles "
                                  "group by level")
    assert set(sizes["customers"]) == {SMALL_CUSTOMERS}
    explained = query(warehouse_copy, "select count(distinct customer_id) from segments.customer_explanations").iloc[0, 0]
    assert explained >= 0.9 * SMALL_CUSTOMERS
    assert query(warehouse_copy, "select count(*) from information_schema.tables "
                                 "where table_schema = 'segmentation_work'").iloc[0, 0] == 0  # work tables dropped
