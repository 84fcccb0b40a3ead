"""What users query stays consistent across layers: segment marts always show the published segments.* run,
and a mart whose upstream tests fail keeps its previous contents."""

import os
import subprocess

import duckdb

from tests.conftest import AS_OF, DBT_DIR, dbt_executable, query


def test_segment_marts_show_what_segments_holds_with_no_dbt_step_in_between(warehouse_copy):
    """A publish of segments.* that no dbt run followed (a crash right after it) is what the marts show."""
    customer, before = query(warehouse_copy, "select customer_id, segment_id from marts.customer_segment_details "
                                             "order by customer_id limit 1").iloc[0]
    other = query(warehouse_copy, "select segment_id, segment_name from segments.segment_profiles "
                                  "where level = 'micro' and segment_id <> ? limit 1", [before]).iloc[0]
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute("update segments.customer_scores set segment_id = ? where customer_id = ?",
                    [other.segment_id, int(customer)])
        con.execute("update segments.segment_profiles set customers = customers + 1 where segment_id = ?",
                    [other.segment_id])
    after = query(warehouse_copy, "select segment_id, segment_name from marts.customer_segment_details "
                                  "where customer_id = ?", [int(customer)]).iloc[0]
    assert (after.segment_id, after.segment_name) == (other.segment_id, other.segment_name)
    kpis = query(warehouse_copy, "select k.customers = p.customers as same from marts.segment_kpis k "
                                 "join segments.segment_profiles p using (segment_id)")
    assert kpis["same"].all()


def test_a_failing_upstream_test_leaves_the_previous_mart_in_place(warehouse_copy, tmp_path):
    """A raw row that slipped past the loader (written by hand) fails a staging test: dbt build skips the marts."""
    before = query(warehouse_copy, "select count(*) as n, sum(net_revenue) as revenue from marts.customer_features")
    with duckdb.connect(str(warehouse_copy)) as con:
        # an order with no id for a real customer: staging's not_null test on order_id fails
        con.execute("insert into raw.orders (order_id, customer_id, order_ts, channel, status) "
                    "select null, customer_id, timestamp '2026-06-01', 'web', 'completed' from raw.customers limit 1")
    env = {**os.environ, "MICROSEG_WAREHOUSE": str(warehouse_copy)}
    built = subprocess.run([dbt_executable(), "build", "--target-path", str(tmp_path / "target"),
                            "-s", "stg_shop__orders+", "--exclude", "marts.segments",
                            "--vars", f'{{"as_of_date": "{AS_OF}"}}'], cwd=DBT_DIR, env=env, capture_output=True,
                           text=True)
    assert built.returncode != 0 and "not_null_stg_shop__orders_order_id" in built.stdout
    assert "SKIP" in built.stdout
    after = query(warehouse_copy, "select count(*) as n, sum(net_revenue) as revenue from marts.customer_features")
    assert after.equals(before)


def test_the_ledger_marks_a_result_complete_once_its_segment_marts_are_built(sql):
    runs = sql("select count(*) as results, count(*) filter (where completed_at >= scored_at) as complete "
               "from segments.scoring_runs").iloc[0]
    assert runs.results > 0 and runs.complete == runs.results
