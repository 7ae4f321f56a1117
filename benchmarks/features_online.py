"""Feature store: in-process online lookups, embedded (SQLite) and Redis.

Run from the project root (Redis at 127.0.0.1:6379 for the Redis rows):

    .venv/bin/python benchmarks/features_online.py [--entities 10000] [--events 300000]
        [--lookups 20000] [--redis redis://127.0.0.1:6379/0] [--no-redis] [--smoke]

One view of 50 features (5 value columns x: latest value, sum 1 h, sum 24 h, mean 24 h,
mean 7 d, count 1 h, min 24 h, max 24 h, max 7 d, last 24 h) over ``--events`` purchases
of ``--entities`` cards during the 7 days before now, materialized into each store. Then,
timed one call at a time with perf_counter_ns:

- 1 entity x 50 features, ``get({"card": [k]}, ["activity:*"])`` at the current time:
  *first* (the first lookup of each entity after a write: read, decode, compute) and
  *repeat* (the same entities again: the embedded store's cached vectors, valid until the
  next bucket boundary or event; Redis is read every time);
- 100 random entities x 50 features per call.

Prints p50 / p99 / max in milliseconds. Garbage collection stays on, as in a server.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from dockyard.features import Aggregate, Entity, FeatureView, Field, OnlineFeatures
from dockyard.features.stores import OnlineStore, SQLiteOnlineStore
from dockyard.features.stores.redis import RedisOnlineStore

HOUR_US = 3_600_000_000


def view() -> FeatureView:
    features: list[Field | Aggregate] = []
    for col in ("amount", "items", "score", "distance", "velocity"):
        features += [
            Field(col, name=f"{col}_latest"),
            Aggregate(col, "sum", window="1h"),
            Aggregate(col, "sum", window="24h"),
            Aggregate(col, "mean", window="24h"),
            Aggregate(col, "mean", window="7d"),
            Aggregate(col, "count", window="1h"),
            Aggregate(col, "min", window="24h"),
            Aggregate(col, "max", window="24h"),
            Aggregate(col, "max", window="7d"),
            Aggregate(col, "last", window="24h"),
        ]
    return FeatureView(
        "activity",
        entities=[Entity("card", keys=["card"])],
        source="purchases",
        timestamp="ts",
        features=features,
        ttl="30d",
    )


def events(count: int, entities: int, now_us: int) -> pa.Table:
    rng = np.random.default_rng(3)
    ts = now_us - rng.integers(HOUR_US // 60, 7 * 24 * HOUR_US, count)
    columns: dict[str, pa.Array] = {
        "card": pa.array(rng.integers(0, entities, count)),
        "ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
    }
    for col in ("amount", "items", "score", "distance", "velocity"):
        columns[col] = pa.array(np.round(rng.lognormal(3, 1, count), 2))
    return pa.table(columns)


def percentiles(samples_ns: list[int]) -> str:
    ms = sorted(s / 1e6 for s in samples_ns)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {statistics.median(ms):.3f} ms  p99 {p99:.3f} ms  max {ms[-1]:.3f} ms"


def timed(call: Callable[[], object], times: int) -> list[int]:
    out = []
    for _ in range(times):
        started = time.perf_counter_ns()
        call()
        out.append(time.perf_counter_ns() - started)
    return out


def measure(name: str, store: OnlineStore, table: pa.Table, args: argparse.Namespace) -> None:
    online = OnlineFeatures(store, [view()])
    started = time.perf_counter()
    online.materialize("activity", table)
    print(
        f"{name}: materialized {table.num_rows:,} events in {time.perf_counter() - started:.1f} s"
    )
    rng = random.Random(5)
    keys = [rng.randrange(args.entities) for _ in range(args.lookups)]
    distinct = list(dict.fromkeys(keys))
    refs = ["activity:*"]
    it = iter(distinct)
    first = timed(lambda: online.get({"card": [next(it)]}, refs), len(distinct))
    it = iter(keys)
    repeat = timed(lambda: online.get({"card": [next(it)]}, refs), len(keys))
    batches = [rng.sample(range(args.entities), 100) for _ in range(max(50, args.lookups // 100))]
    bt = iter(batches)
    hundred = timed(lambda: online.get({"card": next(bt)}, refs), len(batches))
    print(f"  1 x 50 first  ({len(first):,} calls): {percentiles(first)}")
    print(f"  1 x 50 repeat ({len(repeat):,} calls): {percentiles(repeat)}")
    print(f"  100 x 50      ({len(hundred):,} calls): {percentiles(hundred)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.entities, args.events, args.lookups = 1_000, 20_000, 2_000
    table = events(args.events, args.entities, time.time_ns() // 1_000)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteOnlineStore(Path(folder) / "online.db")
        measure("embedded (SQLite)", store, table, args)
        store.close()
    if not args.no_redis:
        prefix = f"dockyard-bench:{uuid.uuid4().hex[:8]}:"
        redis_store = RedisOnlineStore(args.redis, prefix=prefix)
        try:
            measure("Redis", redis_store, table, args)
        finally:
            redis_store.drop("activity")
            redis_store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
