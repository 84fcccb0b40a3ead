"""Identical raw data gives identical features, so the ledger's input fingerprint only moves with the data."""

import os
import subprocess

from orchestration.defs.segmentation.run_record import InputSummary
from tests.conftest import AS_OF, DBT_DIR, dbt_executable, query

FEATURES = "select * from marts.customer_features_wide"


def test_every_double_feature_is_rounded_to_the_projects_decimals(sql):
    columns = sql("select column_name from information_schema.columns where table_schema = 'marts' "
                  "and table_name = 'customer_features_wide' and data_type = 'DOUBLE'")["column_name"].tolist()
    assert "net_revenue" in columns and any(c.startswith("share_") for c in columns)
    unrounded = sql("select " + ", ".join(f'count(*) filter (where "{c}" <> round("{c}", 9)) as "{c}"'
                                          for c in columns) + " from marts.customer_features_wide").iloc[0]
    assert unrounded[unrounded > 0].to_dict() == {}


def test_rebuilding_the_features_from_the_same_raw_data_keeps_the_fingerprint(warehouse_copy, tmp_path):
    before = InputSummary.of_frame(query(warehouse_copy, FEATURES)).fingerprint
    env = {**os.environ, "MICROSEG_WAREHOUSE": str(warehouse_copy)}
    subprocess.run([dbt_executable(), "run", "--quiet", "--target-path", str(tmp_path / "target"),
                    "-s", "intermediate", "marts", "--exclude", "marts.segments",
                    "--vars", f'{{"as_of_date": "{AS_OF}"}}'], cwd=DBT_DIR, env=env, check=True)
    assert InputSummary.of_frame(query(warehouse_copy, FEATURES)).fingerprint == before
