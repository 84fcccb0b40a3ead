"""The load's speed per table: validate, quarantine and keep each key once, from export files into raw.

    .venv/bin/python benchmarks/load.py /tmp/gen/landing/demo [--repeat 2]

Loads every file of a landing folder (e.g. one `benchmarks/generate.py --keep` left) with the load the
ingest asset runs (``orchestration.lib.files.load_files``, mode replace) into a scratch DuckDB file, once
per repeat, and prints wall and CPU seconds and rows per second per table. CPU seconds are this process's
own, so they are comparable across runs on a shared machine; wall seconds are not. Asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a source's folder of export files (<landing>/<source>)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    import duckdb

    from orchestration.lib.dbt import raw_tables
    from orchestration.lib.files import REPLACE, load_files

    files = sorted(p for p in args.folder.iterdir() if p.suffix in (".parquet", ".csv"))
    print(f"{'table':<20}{'rows read':>14}{'wall s':>9}{'CPU s':>9}{'rows/s':>14}")
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="microseg-load-") as scratch:
            con = duckdb.connect(str(Path(scratch) / "warehouse.duckdb"))
            total_wall = total_cpu = 0.0
            for path in files:
                wall, cpu = time.perf_counter(), _cpu()
                con.execute("begin transaction")
                (load,) = load_files(con, [path], source=args.folder.name, mode=REPLACE, tables=raw_tables())
                con.execute("commit")
                wall, cpu = time.perf_counter() - wall, _cpu() - cpu
                total_wall, total_cpu = total_wall + wall, total_cpu + cpu
                print(f"{load.table:<20}{load.rows_read:>14,}{wall:>9.2f}{cpu:>9.2f}"
                      f"{load.rows_read / max(wall, 1e-9):>14,.0f}")
            con.close()
            print(f"{'all (run ' + str(attempt + 1) + ')':<20}{'':>14}{total_wall:>9.2f}{total_cpu:>9.2f}")


if __name__ == "__main__":
    main()
