"""Demo-data generation speed, memory and size: prints figures, asserts nothing.

    .venv/bin/python benchmarks/generate.py 1000000 [--workdir /tmp/gen] [--period 1]

Materialises the real ``demo_exports`` asset (Dagster, in this process) into a scratch landing folder and
warehouse under --workdir, so the figures are those of the code `make run` runs: wall time, this
process's peak RSS (Dagster's own ~0.3 GB included), rows and file size per table. The files are deleted
afterwards unless --keep. One size per process, so each peak RSS is its own.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customers", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--period", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="microseg-generate-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.update({"MICROSEG_WAREHOUSE": str(workdir / "warehouse.duckdb"), "MICROSEG_DEMO": "1",
                       "MICROSEG_LANDING": str(workdir / "landing")})

    import dagster as dg

    from orchestration.defs.demo.definitions import demo_exports
    from orchestration.defs.resources import WarehouseResource
    from orchestration.lib.warnings import quiet_library_warnings

    quiet_library_warnings()
    baseline_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    started = time.perf_counter()
    result = dg.materialize(
        [demo_exports], resources={"warehouse": WarehouseResource()},
        run_config={"ops": {"demo_exports": {"config": {"n_customers": args.customers, "seed": 42,
                                                         "reference_date": "2026-06-30", "period": args.period}}},
                    "loggers": {"console": {"config": {"log_level": "INFO"}}}})  # a line per block
    seconds = time.perf_counter() - started
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    rows = next(m.materialization.metadata["rows"].value for m in result.get_asset_materialization_events()
                if m.asset_key == dg.AssetKey(["demo", "synthetic_exports"]))
    folder = workdir / "landing" / "demo"
    sizes = {p.stem: p.stat().st_size for p in folder.glob("*.parquet")}
    print(f"customers {args.customers:,} (period {args.period}): generate and write {seconds:.1f} s, "
          f"{sum(rows.values()):,} raw rows, files {sum(sizes.values()) / 1e9:.2f} GB, "
          f"peak RSS {peak_gb:.2f} GB (after imports {baseline_gb:.2f} GB)")
    for table, n in rows.items():
        print(f"  {table:<18} {n:>14,} rows {sizes[table] / 1e6:>10,.0f} MB")
    if not args.keep:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
