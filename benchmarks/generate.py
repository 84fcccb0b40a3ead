"""Demo-data generation speed and size: prints figures, asserts nothing.

    .venv/bin/python benchmarks/generate.py 1000000
"""

import resource
import sys
import tempfile
import time
from pathlib import Path

from orchestration.defs.demo.synthetic import GeneratorConfig, make_demo_data
from orchestration.lib.warehouse import replace_tables


def main(n: int) -> None:
    t = time.perf_counter()
    raw, planted, faults, _ = make_demo_data(GeneratorConfig(n_customers=n))
    generated = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        t = time.perf_counter()
        counts = replace_tables("raw", raw, path=path)
        written = time.perf_counter() - t
        size_mb = path.stat().st_size / 1e6
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"customers {n:,}: generate {generated:.1f}s, write to DuckDB {written:.1f}s, "
          f"{sum(counts.values()):,} raw rows, file {size_mb:,.0f} MB, peak RSS {peak_gb:.1f} GB")
    for table, rows in counts.items():
        print(f"  raw.{table:<18} {rows:>14,}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
