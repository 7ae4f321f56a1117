"""Feature store: a point-in-time training set on fraud-shaped data.

Run from the project root:

    .venv/bin/python benchmarks/features_training_set.py [--labels 1000000] [--events 10000000]
        [--cards 200000] [--smoke] [--executor ray --partitions 4] [--repeat 3]

Synthetic purchases (``--events`` rows over 120 days: card (a tenth of the purchases on the
busiest 1 % of cards), amount, merchant, a fraud flag
known after a random delay of 0-60 days, or never) and labels (``--labels`` rows: a card
and a time, 10 % of them exactly at a purchase's time) are written to Parquet under
benchmarks/.data/features/ (kept between runs, keyed by the sizes). Then a fresh Python
process reads them and builds the training set for two views (7 features: the latest
amount, sum 24 h, count 1 h, mean 7 d, max 24 h, distinct merchants 7 d, and fraud labels
over 90 d counted from the time they were known). The child's wall time (reading the
Parquet files excluded), rows per second and peak RSS are printed. ``--smoke``: 100k labels
over 1M events.

``--executor NAME --partitions N`` splits the join by card in N shares run as units of work
of that executor (``ray``: a local Ray started by the child before the clock starts, one
CPU per share); without them the join runs in the child's own DuckDB. ``--repeat`` builds
the training set that many times in the same child (the first run on Ray also starts its
workers) and prints each time. With an executor, peak RSS is the driver's only (not the Ray
workers').
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / ".data" / "features"
DAY_US = 86_400_000_000
START_US = 1_767_225_600_000_000  # 2026-01-01


def generate(events: int, labels: int, cards: int, folder: Path) -> None:
    """Write events.parquet and labels.parquet into ``folder`` (unless already there)."""
    if (folder / "labels.parquet").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    span = 120 * DAY_US
    ts = START_US + rng.integers(0, span, events)
    ts.sort()
    busy = rng.random(events) < 0.1  # a tenth of the purchases use the busiest 1 % of cards
    card = np.where(
        busy, rng.integers(0, max(1, cards // 100), events), rng.integers(0, cards, events)
    )
    fraud = rng.random(events) < 0.02
    delay = rng.integers(0, 60 * DAY_US, events)
    known = np.where(rng.random(events) < 0.9, ts + delay, np.iinfo(np.int64).min)
    stamp = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "transaction_id": pa.array(np.arange(events)),
            "card_hash": pa.array(card.astype(np.int64)),
            "ts": pa.array(ts).cast(stamp),
            "amount": pa.array(np.round(rng.lognormal(3.5, 1.0, events), 2)),
            "merchant_id": pa.array(rng.integers(0, 5_000, events)),
            "is_fraud": pa.array(fraud),
            "label_available_at": pa.array(known, mask=known == np.iinfo(np.int64).min).cast(stamp),
        }
    )
    pq.write_table(table, folder / "events.parquet")
    pick = rng.integers(0, events, labels)
    at_event = rng.random(labels) < 0.1
    label_ts = np.where(at_event, ts[pick], ts[pick] + rng.integers(1, DAY_US, labels))
    pq.write_table(
        pa.table(
            {
                "label_id": pa.array(np.arange(labels)),
                "card_hash": pa.array(card[pick].astype(np.int64)),
                "event_time": pa.array(label_ts).cast(stamp),
                "is_fraud": pa.array(fraud[pick]),
            }
        ),
        folder / "labels.parquet",
    )


CHILD = """
import json, resource, sys, time
import pyarrow.parquet as pq
from dockyard.compute.registry import open_executor
from dockyard.features import Aggregate, Entity, FeatureView, Field
from dockyard.features.offline import training_set

folder, executor_name = sys.argv[1], sys.argv[2]
partitions, repeat = int(sys.argv[3]), int(sys.argv[4])
started = time.perf_counter()
executor = open_executor(executor_name) if executor_name else None
executor_start = time.perf_counter() - started
events = pq.read_table(folder + "/events.parquet")
labels = pq.read_table(folder + "/labels.parquet")
card = Entity("card", keys=["card_hash"])
activity = FeatureView(
    "card_activity", entities=[card], source="transactions", timestamp="ts",
    features=[
        Field("amount", name="last_amount"),
        Aggregate("amount", "sum", window="24h"),
        Aggregate("transaction_id", "count", window="1h"),
        Aggregate("amount", "mean", window="7d"),
        Aggregate("amount", "max", window="24h"),
        Aggregate("merchant_id", "distinct_count", window="7d"),
    ],
    ttl="30d",
)
reports = FeatureView(
    "card_reports", entities=[card], source="transactions", timestamp="ts",
    features=[Aggregate("is_fraud", "sum", window="90d", available_at="label_available_at")],
)
split = {"executor": executor, "partitions": partitions} if executor is not None else {}
times = []
for _ in range(repeat):
    started = time.perf_counter()
    out = training_set(labels, [activity, reports], {"transactions": events},
                       ["card_activity:*", "card_reports:*"], **split)
    times.append(time.perf_counter() - started)
if executor is not None:
    executor.close()
print(json.dumps({
    "seconds": min(times),
    "times": times,
    "executor_start": executor_start,
    "rows": out.num_rows,
    "columns": out.num_columns,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--cards", type=int, default=200_000)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--executor", default="", help="ray, process or inprocess")
    parser.add_argument("--partitions", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if bool(args.executor) != bool(args.partitions):
        parser.error("--executor and --partitions go together")
    if args.smoke:
        args.labels, args.events, args.cards = 100_000, 1_000_000, 20_000
    folder = DATA / f"e{args.events}-l{args.labels}-c{args.cards}"
    started = time.perf_counter()
    generate(args.events, args.labels, args.cards, folder)
    print(f"data ready in {time.perf_counter() - started:.1f} s: {folder}")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(folder),
            args.executor,
            str(args.partitions),
            str(args.repeat),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        return 1
    result = json.loads(child.stdout.strip().splitlines()[-1])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    where = (
        f"{args.executor}, {args.partitions} partitions (executor started in "
        f"{result['executor_start']:.1f} s)"
        if args.executor
        else "one DuckDB process"
    )
    print(f"{where}: runs {', '.join(f'{t:.2f}' for t in result['times'])} s")
    print(
        f"training set: {args.labels:,} labels x {args.events:,} events, "
        f"{result['columns']} columns: {result['seconds']:.2f} s (best), "
        f"{result['rows'] / result['seconds']:,.0f} label rows/s, "
        f"peak RSS {max(result['peak_rss_mib'], children):,.0f} MiB (child process)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
