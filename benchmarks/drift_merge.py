"""Merging a 30-day view: 720 hourly summaries of 50 columns, from their stored form.

Run from the project root:

    .venv/bin/python benchmarks/drift_merge.py [--hours 720] [--rows-per-hour 5000] [--repeat 5]

Builds the binning of the 50-column reference of drift.py (``--smoke`` data: 100k rows, made
when missing), summarises ``--hours`` windows of ``--rows-per-hour`` rows each, stores each as
JSON (``model_dump_json``) and in the binary form (``codec.to_bytes``), then times, median of
``--repeat``: parsing the JSON with pydantic + ``merge_all``, and ``codec.merge_bytes`` of the
binary payloads. Target: the whole 30-day merge within 200 ms. Exits 1 when the faster path
misses it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dockyard.monitoring.codec import merge_bytes, to_bytes
from dockyard.monitoring.profile import Binning, Summary, merge_all, summarize
from drift import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=int, default=720)
    parser.add_argument("--rows-per-hour", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = generate(100_000)
    reference = pq.read_table(folder / "reference.parquet")
    current = pq.read_table(folder / "current.parquet")
    binning = Binning.from_reference(reference)
    size = args.rows_per_hour
    windows = [
        summarize(current.slice((h * size) % (current.num_rows - size), size), binning)
        for h in range(args.hours)
    ]
    as_json = [w.model_dump_json() for w in windows]
    as_bytes = [to_bytes(w) for w in windows]
    timings: dict[str, list[float]] = {"json": [], "bytes": []}
    for _ in range(args.repeat):
        start = time.perf_counter()
        from_json = merge_all([Summary.model_validate_json(j) for j in as_json])
        timings["json"].append(time.perf_counter() - start)
        start = time.perf_counter()
        from_bytes = merge_bytes(as_bytes)
        timings["bytes"].append(time.perf_counter() - start)
    if from_json != from_bytes:
        raise SystemExit("the two paths merged to different summaries")
    json_mib = sum(len(j) for j in as_json) / 2**20
    bytes_mib = sum(len(b) for b in as_bytes) / 2**20
    print(f"{args.hours} summaries x {len(binning.columns)} columns, {size} rows each")
    print(
        f"pydantic JSON + merge_all: {statistics.median(timings['json']) * 1000:.0f} ms "
        f"({json_mib:.1f} MiB of JSON)"
    )
    fast = statistics.median(timings["bytes"])
    print(f"codec.merge_bytes:         {fast * 1000:.0f} ms ({bytes_mib:.1f} MiB)")
    ok = fast <= 0.2
    print(f"{'PASS' if ok else 'FAIL'}  30-day merge <= 200 ms")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
