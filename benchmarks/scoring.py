"""Scoring speed: the persisted model as SQL inside DuckDB vs the same model in pandas/numpy.

Run after `make run` (it reads the latest model and marts.customer_features_wide):
    .venv/bin/python benchmarks/scoring.py 1000000
The feature table is tiled (customer ids offset) up to the requested size in a
scratch DuckDB file under /tmp, so the figures do not need a million-customer dbt
build. Prints seconds and peak memory of each path; asserts nothing.
"""

import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from ml.scoring import assign_segments
from ml.scoring_sql import scoring_sql
from orchestration.lib.settings import warehouse_path
from orchestration.lib.warehouse import query_df


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


def main(n_customers: int) -> None:
    (run_id,) = query_df("select run_id from segments.segmentation_runs order by finished_at desc limit 1")["run_id"]
    scaling = query_df("select * from segments.model_scaling where run_id = ?", [run_id])
    centroids = query_df("select * from segments.model_centroids where run_id = ?", [run_id])
    sql = scoring_sql(scaling, centroids, "customer_features")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scoring.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute(f"attach '{warehouse_path()}' as source (read_only)")
            (base,) = con.execute("select count(*) from source.marts.customer_features_wide").fetchone()
            copies = -(-n_customers // base)
            con.execute(f"""create table customer_features as
                select * replace (customer_id + copy * 10000000 as customer_id)
                from source.marts.customer_features_wide, range({copies}) as t(copy)
                limit {n_customers}""")
            con.execute("detach source")
        print(f"model {run_id}: {len(centroids['segment_id'].unique())} centroids, "
              f"{len(scaling)} scaling rows; SQL is {len(sql):,} characters")
        print(f"{n_customers:,} customers (the {base:,} demo customers tiled {copies}x)")

        before = rss_gb()
        started = time.perf_counter()
        with duckdb.connect(str(path)) as con:
            con.execute(f"create table scores as {sql}")
            (rows,) = con.execute("select count(*) from scores").fetchone()
        sql_s = time.perf_counter() - started
        print(f"in-warehouse SQL : {sql_s:6.1f} s, {rows:,} rows scored, peak RSS {rss_gb():.2f} GB "
              f"(was {before:.2f} GB before)")

        started = time.perf_counter()
        with duckdb.connect(str(path), read_only=True) as con:
            features = con.execute("select * from customer_features").df()
        read_s = time.perf_counter() - started
        scores = assign_segments(features, scaling, centroids)
        py_s = time.perf_counter() - started
        print(f"pandas + numpy   : {py_s:6.1f} s ({read_s:.1f} s of it reading), {len(scores):,} rows, "
              f"peak RSS {rss_gb():.2f} GB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
