"""Figures, not a test: how long the audience exports take for N customers (default 1,000,000).

Builds the frame the asset reads from the warehouse (segment, holdout, contact keys, consents) with the
demo generator's contacts, then times the plan (normalise, hash, count) and the files (CSV, Parquet,
manifests) into a temp folder. Usage: .venv/bin/python benchmarks/audiences.py [N] [segments]
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.defs.demo.synthetic.generator import GeneratorConfig, _contacts  # noqa: E402
from orchestration.lib.audiences import plan_exports, write_export  # noqa: E402


def main(n: int, segments: int) -> None:
    rng = np.random.default_rng(0)
    ids = np.arange(n) + 100_000
    segment = pd.Series(rng.integers(0, segments, n)).map(lambda s: f"M{s // 4 + 1}.{s % 4 + 1}")
    frame = pd.DataFrame({
        "customer_id": ids, "source_customer_id": ids.astype(str), "segment_id": segment,
        "segment_name": "name " + segment, "recommended_channel": "email", "offer_type": "discount",
        "is_holdout": rng.random(n) < 0.1, "email": [f"First.Last{i}@Example.com " for i in ids],
        **_contacts(GeneratorConfig(n_customers=n), n)})
    started = time.perf_counter()
    plan = plan_exports(frame, None, min_audience_size=100, default_country_code="1")
    planned = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _, manifest = write_export(plan, Path(tmp), "bench", {})
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    written = time.perf_counter()
    print(f"{n:,} customers, {segments} segments: plan (normalise, hash, count) {planned - started:.1f} s, "
          f"files {written - planned:.1f} s ({len(manifest)} files, {size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 24)
