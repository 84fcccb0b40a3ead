"""The segmentation step alone at any size: its wall time and peak memory, through Dagster.

Run after `make run` (it tiles that warehouse's marts.customer_features_wide, customer ids offset, into a
scratch DuckDB file, so the figures need no ten-million-customer dbt build):
    .venv/bin/python benchmarks/segmentation.py 1000000 [10000000 ...]
Each size runs the real `customer_segmentation` multi-asset (fit on the bounded sample, assignment,
id matching, profiles, explanations and publish inside the warehouse) with execute_in_process in a
process of its own, so its peak RSS is that size's alone. Prints seconds and peak RSS; asserts nothing.
Tiled customers repeat the demo's, so the segments are the demo's: this measures cost, not quality
(benchmarks/quality.py does that).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(source: Path, target: Path, customers: int) -> int:
    import duckdb

    with duckdb.connect(str(target)) as con:
        # under its own file's name, which dbt's views over it use
        con.execute(f"attach '{source}' as \"{source.stem}\" (read_only)")
        (base,) = con.execute(f'select count(*) from "{source.stem}".marts.customer_features_wide').fetchone()
        copies = -(-customers // base)
        con.execute("create schema marts")
        con.execute(f"""create table marts.customer_features_wide as
            select * replace (customer_id + copy * 100000000 as customer_id)
            from "{source.stem}".marts.customer_features_wide, range({copies}) as t(copy) limit {customers}""")
    return base


def child(warehouse: Path) -> dict:
    """One segmentation run on ``warehouse``, in this process; what it took."""
    import dagster as dg

    os.environ["MICROSEG_WAREHOUSE"] = str(warehouse)
    from orchestration.lib.warnings import quiet_library_warnings
    from tests.conftest import load_defs

    quiet_library_warnings()
    defs = load_defs()
    keys = list(defs.resolve_assets_def(dg.AssetKey(["segments", "customer_segments"])).keys)
    started = time.perf_counter()
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=keys, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)  # the defaults
    seconds = time.perf_counter() - started
    explained = next((m.materialization.metadata["seconds"].value for m in result.get_asset_materialization_events()
                      if m.asset_key.path[-1] == "customer_explanations"), None)
    steps = next((m.materialization.metadata["seconds_per_step"].value for m in result.get_asset_materialization_events()
                  if m.asset_key.path[-1] == "segmentation_runs"), {})
    return {"success": result.success, "seconds": seconds, "explain_seconds": explained, "steps": steps,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customers", type=int, nargs="+")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    from orchestration.lib.settings import warehouse_path

    print(f"{'customers':>12}{'build s':>9}{'segmentation s':>16}{'explain s':>11}{'peak RSS GB':>13}")
    for customers in args.customers:
        with tempfile.TemporaryDirectory(prefix="microseg-seg-") as tmp:
            warehouse = Path(tmp) / "tiled.duckdb"
            started = time.perf_counter()
            base = build(warehouse_path(), warehouse, customers)
            built = time.perf_counter() - started
            out = subprocess.run([sys.executable, __file__, str(customers), "--child", str(warehouse)],
                                 capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                print(out.stderr[-3000:])
                raise SystemExit(f"the segmentation at {customers:,} failed")
            run = json.loads(out.stdout.strip().splitlines()[-1])
            state = "" if run["success"] else "  (failed: see the run's log)"
            print(f"{customers:>12,}{built:>9.1f}{run['seconds']:>16.1f}{run['explain_seconds'] or 0:>11.1f}"
                  f"{run['peak_rss_gb']:>13.2f}{state}")
            print("    seconds per step: " + ", ".join(f"{k} {v:.1f}" for k, v in run["steps"].items()))
    print(f"(the {base:,} customers of {warehouse_path()} tiled; the default segmentation settings)")


if __name__ == "__main__":
    main()
