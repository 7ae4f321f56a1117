"""Feature store: materializing a large source into the online stores (embedded, Redis).

Run from the project root (Redis at 127.0.0.1:6379 for the Redis rows):

    .venv/bin/python benchmarks/features_materialize.py [--events 1000000 10000000]
        [--entities 100000] [--redis redis://127.0.0.1:6379/0] [--no-redis]
        [--event-by-event]

The 50-feature view of ``benchmarks/features_online.py`` (5 value columns x: latest
value, sum 1 h, sum 24 h, mean 24 h, mean 7 d, count 1 h, min 24 h, max 24 h, max 7 d,
last 24 h) over ``--events`` purchases of ``--entities`` cards during the 7 days before
now, written once to Parquet under benchmarks/.data/features/. For each size and store a
fresh Python process reads the Parquet file, then times ``materialize`` (into an empty
store) with perf_counter; it prints the seconds, events per second, the peak RSS of the
process (``ru_maxrss``: the events table itself included) and the RSS before
materializing (after reading the table). ``--event-by-event`` times the old path instead
(only sensible for small sizes).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

DATA = Path(__file__).resolve().parent / ".data" / "features"


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def generate(events: int, entities: int) -> Path:
    path = DATA / f"materialize-{events}-{entities}.parquet"
    if path.exists():
        return path
    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from features_online import events as make_events

    DATA.mkdir(parents=True, exist_ok=True)
    now = time.time_ns() // 1_000
    pq.write_table(make_events(events, entities, now), path)
    return path


def child(path: str, store_url: str, event_by_event: bool) -> None:
    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from dockyard.features import OnlineFeatures
    from dockyard.features.stores import OnlineStore, SQLiteOnlineStore
    from dockyard.features.stores.redis import RedisOnlineStore
    from features_online import view

    table = pq.read_table(path)
    before = _rss_mib()
    store: OnlineStore
    if store_url.startswith("redis"):
        store = RedisOnlineStore(store_url, prefix=f"dockyard-bench:{uuid.uuid4().hex[:8]}:")
    else:
        store = SQLiteOnlineStore(store_url)
    online = OnlineFeatures(store, [view()], bulk_rows=10**12 if event_by_event else 20_000)
    started = time.perf_counter()
    online.materialize("activity", table)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if store_url.startswith("redis"):
        store.drop("activity")
    store.close()
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "before_mib": before}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--event-by-event", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2] == "1")
        return 0
    for count in args.events:
        path = generate(count, args.entities)
        with tempfile.TemporaryDirectory() as folder:
            targets = [("embedded (SQLite)", str(Path(folder) / "online.db"))]
            if not args.no_redis:
                targets.append(("Redis", args.redis))
            for name, url in targets:
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    str(path),
                    url,
                    "1" if args.event_by_event else "0",
                ]
                out = subprocess.run(command, check=True, capture_output=True, text=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"{count:>11,} events, {args.entities:,} cards, {name}: "
                    f"{result['seconds']:.1f} s ({count / result['seconds']:,.0f} events/s), "
                    f"peak RSS {result['peak_mib']:,.0f} MiB "
                    f"(events table read: {result['before_mib']:,.0f} MiB)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
