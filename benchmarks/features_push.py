"""Feature store: sustained pushes into a windowed view at a fixed rate, beside Feast's push.

Run from the project root (Redis at 127.0.0.1:6379 for the Redis rows):

    .venv/bin/python benchmarks/features_push.py [--rate 10000] [--seconds 20]
        [--batches 100,1000] [--entities 10000] [--events 300000] [--redis-db 12]
        [--no-redis] [--no-http] [--no-feast] [--smoke]

The view is the 50-feature ``activity`` view of ``features_online.py`` (5 value columns x
latest, sum 1 h / 24 h, mean 24 h / 7 d, count 1 h, min 24 h, max 24 h / 7 d, last 24 h),
materialized (not timed) from ``--events`` purchases of ``--entities`` cards in the 7 days
before now. Then new purchases (random cards of the same set, times a ``1 / rate`` apart
from the moment the data was made) are pushed in batches of ``--batches`` events, each
batch due at ``start + i * batch / rate`` (pushed at once when late, one push at a time:
a view has one writer), for ``--seconds``; the first batch is a warm-up, not counted.
Reported: the events pushed per second of wall time (the sustained rate; below ``--rate``
when pushes cannot keep up), each push's time p50 / p99 / max, and a check: at a time just
after the last pushed event, 200 sampled cards have the values of the offline training set
(``dockyard.features.offline.training_set`` over the history and the pushed events, in
arrival order) and how many of them changed with the pushes.

Sides, each in a fresh process:

- dockyard in-process: ``OnlineFeatures.push`` into the embedded store (SQLite) and Redis
  (DB ``--redis-db``, which must be empty; emptied afterwards);
- dockyard over HTTP: ``dockyard server`` (embedded metadata in a temporary home, the
  view applied and materialized through the service) and ``POST
  /api/v1/projects/bench/features/push`` with the events as JSON columns (times as
  integer microseconds), sent one after the other on a keep-alive connection. A push
  through the service also appends its events to the source dataset (a Parquet file and
  a new dataset version), so training sees them: more work than the engine's push;
- Feast 0.67 (``.bench/feast``): ``store.push(..., to=PushMode.ONLINE)`` into its sqlite
  and redis online stores, of a FeatureView of the 5 value columns over a PushSource. Feast
  writes each pushed row as the entity's latest values: it has no windowed aggregation, so
  the checks there are the latest values of the sampled cards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
VALUE_COLUMNS = ["amount", "items", "score", "distance", "velocity"]


def push_events(count: int, entities: int, start_us: int, rate: float) -> pa.Table:
    """``count`` purchases of random cards, ``1 / rate`` seconds apart from ``start_us``."""
    import numpy as np

    rng = np.random.default_rng(17)
    step = int(1e6 / rate)
    columns: dict[str, pa.Array] = {
        "card": pa.array(rng.integers(0, entities, count)),
        "ts": pa.array(start_us + np.arange(count, dtype=np.int64) * step).cast(
            pa.timestamp("us", tz="UTC")
        ),
    }
    for col in VALUE_COLUMNS:
        columns[col] = pa.array(np.round(rng.lognormal(3, 1, count), 2))
    return pa.table(columns)


def paced(batches: list[Any], push: Any, batch: int, rate: float, seconds: float) -> dict[str, Any]:
    """Push ``batches[1:]`` on schedule (the first one is a warm-up) for ``seconds``."""
    push(batches[0])
    durations: list[float] = []
    pushed = 0
    start = time.perf_counter()
    for i, item in enumerate(batches[1:]):
        due = start + i * batch / rate
        if due - start >= seconds or time.perf_counter() - start >= seconds:
            break  # the schedule's end, or the wall clock's when pushes fall behind
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        pushed += push(item)
        durations.append(time.perf_counter() - began)
    return {"events": pushed, "seconds": time.perf_counter() - start, "push_seconds": durations}


def expected(history: pa.Table, pushed: pa.Table | None, cards: list[int], at_us: int) -> Any:
    """The training set's values of ``cards`` at ``at_us`` (history, then pushed events)."""
    from dockyard.features.offline import training_set
    from features_online import view

    labels = pa.table(
        {
            "card": pa.array(cards, pa.int64()),
            "event_time": pa.array([at_us] * len(cards), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    )
    events = history if pushed is None else pa.concat_tables([history, pushed.cast(history.schema)])
    out = training_set(labels, [view()], {"purchases": events}, ["activity:*"])
    names = [f.name for f in view().features]
    return {str(c): [out.column(n)[i].as_py() for n in names] for i, c in enumerate(cards)}


def check(got: dict[str, list[Any]], want: dict[str, list[Any]], before: Any) -> dict[str, int]:
    from features_http import equal_rows

    equal, compared = equal_rows(got, want)
    changed = sum(1 for k in got if k in before and not equal_rows({k: got[k]}, before)[0])
    return {"equal": equal, "compared": compared, "changed": changed}


def columns_of(got: dict[str, list[Any]], cards: list[int]) -> dict[str, list[Any]]:
    from features_online import view

    names = [f.name for f in view().features]
    return {str(c): [got[n][i] for n in names] for i, c in enumerate(cards)}


# -- the sides (children) ------------------------------------------------------------------


def child_inprocess(args: argparse.Namespace) -> dict[str, Any]:
    from dockyard.features import OnlineFeatures
    from dockyard.features.stores import SQLiteOnlineStore
    from dockyard.features.stores.redis import RedisOnlineStore
    from features_online import view

    history = pq.read_table(args.history)
    pushes = pq.read_table(args.pushes)
    if args.store == "redis":
        store: Any = RedisOnlineStore(
            f"redis://127.0.0.1:6379/{args.redis_db}",
            prefix=f"dockyard-bench:{uuid.uuid4().hex[:8]}:",
        )
    else:
        store = SQLiteOnlineStore(Path(args.work) / f"online-{uuid.uuid4().hex[:8]}.db")
    online = OnlineFeatures(store, [view()])
    online.materialize("activity", history)
    cards = json.loads(Path(args.keys).read_text())
    refs = ["activity:*"]
    batches = [pushes.slice(at, args.batch) for at in range(0, pushes.num_rows, args.batch)]
    try:
        result = paced(
            batches, lambda b: online.push("activity", b), args.batch, args.rate, args.seconds
        )
        done = pa.concat_tables(batches[: 1 + len(result["push_seconds"])])
        at_us = int(pc.max(done.column("ts")).cast(pa.int64()).as_py()) + 1
        cached = online.get({"card": cards}, refs, at=at_us)  # the writer's own engine
        fresh = OnlineFeatures(store, [view()])  # the values as stored, no in-process cache
        got = columns_of(fresh.get({"card": cards}, refs, at=at_us), cards)
        result["check"] = check(
            got, expected(history, done, cards, at_us), expected(history, None, cards, at_us)
        )
        result["check"]["cached_equal"] = int(columns_of(cached, cards) == got)
    finally:
        if args.store == "redis":
            store.drop("activity")
        store.close()
    return result


def child_http(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    pushes = pq.read_table(args.pushes)
    history = pq.read_table(args.history)
    cards = json.loads(Path(args.keys).read_text())
    batches = [pushes.slice(at, args.batch) for at in range(0, pushes.num_rows, args.batch)]
    bodies = []
    for b in batches:
        events = {c: b.column(c).to_pylist() for c in b.column_names if c != "ts"}
        events["ts"] = b.column("ts").cast(pa.int64()).to_pylist()
        bodies.append(json.dumps({"view": "activity", "events": events}))
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=args.url + "/api/v1/projects/bench/features", timeout=120) as http:

        def push(body: str) -> int:
            response = http.post("/push", content=body, headers=headers)
            response.raise_for_status()
            return int(response.json()["events"])

        result = paced(bodies, push, args.batch, args.rate, args.seconds)
        done = pa.concat_tables(batches[: 1 + len(result["push_seconds"])])
        at_us = int(pc.max(done.column("ts")).cast(pa.int64()).as_py()) + 1
        at = datetime.fromtimestamp(at_us / 1e6, UTC).isoformat()
        response = http.post(
            "/online", json={"keys": {"card": cards}, "features": ["activity:*"], "at": at}
        )
        response.raise_for_status()
        got = columns_of(response.json()["columns"], cards)
    previous = pq.read_table(args.previous) if args.previous else None
    pushed = done if previous is None else pa.concat_tables([previous, done])
    pq.write_table(pushed, args.done)  # the next run on this server continues from here
    result["check"] = check(
        got, expected(history, pushed, cards, at_us), expected(history, previous, cards, at_us)
    )
    return result


# -- the parent ----------------------------------------------------------------------------


def run_child(cmd: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-3:] if out.stderr.strip() else ["failed"]
        return {"error": " | ".join(tail)}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def latest(table: pa.Table, cards: list[int]) -> dict[str, list[Any]]:
    """The latest values (by time, then row order) of ``cards`` in ``table``."""
    rows = table.select(["card", "ts", *VALUE_COLUMNS]).to_pylist()
    best: dict[int, tuple[Any, int, list[Any]]] = {}
    for i, row in enumerate(rows):
        key = (row["ts"], i)
        if row["card"] not in best or key > best[row["card"]][:2]:
            best[row["card"]] = (row["ts"], i, [row[c] for c in VALUE_COLUMNS])
    return {str(c): best[c][2] if c in best else [None] * 5 for c in cards}


def summary(result: dict[str, Any], target: float) -> str:
    if "error" in result:
        return f"failed: {result['error']}"
    ms = sorted(x * 1e3 for x in result["push_seconds"])
    rate = result["events"] / result["seconds"]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    text = (
        f"{rate:,.0f} events/s ({rate / target:.0%} of the rate), {len(ms)} pushes: p50 "
        f"{statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"
    )
    if "check" in result:
        c = result["check"]
        text += f"; {c['equal']}/{c['compared']} cards = training set"
        if "changed" in c:
            text += f", {c['changed']} changed by the pushes"
        if "cached_equal" in c:
            text += f", cached = stored: {bool(c['cached_equal'])}"
    if "feast_check" in result:
        text += f"; {result['feast_check']}"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batches", default="100,1000")
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-feast", action="store_true")
    parser.add_argument("--no-inprocess", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    for hidden in ("child", "store", "history", "pushes", "keys", "work", "url", "done"):
        parser.add_argument(f"--{hidden}", help=argparse.SUPPRESS)
    parser.add_argument("--previous", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.redis_db = int(args.redis_db)
    if args.child:
        child = child_inprocess if args.child == "inprocess" else child_http
        print(json.dumps(child(args)))
        return 0
    if args.smoke:
        args.events, args.entities, args.seconds = 20_000, 1_000, 5.0
    import redis

    from features_feast import FEAST_PY, ensure_feast
    from features_http import dockyard_home, start_dockyard
    from features_online import events

    feast_version = None if args.no_feast else ensure_feast()
    load = os.getloadavg()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}; Feast {feast_version}",
        flush=True,
    )
    stores = ["sqlite"] if args.no_redis else ["sqlite", "redis"]
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    if "redis" in stores and redis.Redis.from_url(redis_url).dbsize():
        raise SystemExit(f"Redis DB {args.redis_db} is not empty: pick another --redis-db")
    sizes = [int(x) for x in args.batches.split(",")]
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--rate", str(args.rate), "--seconds", str(args.seconds)]
    common += ["--redis-db", str(args.redis_db)]
    results: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="features-push-") as tmp:
        work = Path(tmp)
        now_us = time.time_ns() // 1_000
        history = events(args.events, args.entities, now_us)
        pq.write_table(history, work / "history.parquet")
        count = int(args.rate * args.seconds) + 2 * max(sizes)
        pushes = push_events(count, args.entities, now_us, args.rate)
        pq.write_table(pushes, work / "pushes.parquet")
        cards = random.Random(3).sample(range(args.entities), min(200, args.entities))
        (work / "keys.json").write_text(json.dumps(cards))
        files = ["--history", str(work / "history.parquet"), "--pushes"]
        files += [str(work / "pushes.parquet"), "--keys", str(work / "keys.json")]
        files += ["--work", str(work)]
        for store in stores if not args.no_inprocess else []:
            for batch in sizes:
                cmd = [*me, "--child", "inprocess", "--store", store, "--batch", str(batch)]
                result = run_child(cmd + common + files)
                label = f"dockyard in-process {store}, {batch} per push"
                results.append((label, result))
                print(f"  {label}: {summary(result, args.rate)}", flush=True)
        for store in stores if not args.no_http else []:
            online = redis_url if store == "redis" else None
            home = work / f"home-{store}"
            dockyard_home(home, online, work / "history.parquet", None)
            url, proc = start_dockyard(home, online, work / f"server-{store}.log")
            try:
                previous: Path | None = None
                for batch in sizes:
                    done = work / f"done-{store}-{batch}.parquet"
                    cmd = [*me, "--child", "http", "--url", url, "--batch", str(batch)]
                    cmd += ["--done", str(done)]
                    if previous is not None:
                        cmd += ["--previous", str(previous)]
                    result = run_child(cmd + common + files)
                    label = f"dockyard HTTP {store}, {batch} per push"
                    results.append((label, result))
                    print(f"  {label}: {summary(result, args.rate)}", flush=True)
                    previous = done if done.exists() else previous
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        for store in stores if not args.no_feast else []:
            for batch in sizes:
                repo = work / f"feast-{store}-{batch}"
                cmd = [str(FEAST_PY), str(ROOT / "benchmarks" / "features_feast_peer.py")]
                cmd += ["push", "--events", str(work / "history.parquet"), "--repo", str(repo)]
                cmd += ["--store", store, "--pushes", str(work / "pushes.parquet")]
                cmd += ["--keys", str(work / "keys.json"), "--batch", str(batch)]
                cmd += ["--rate", str(args.rate), "--seconds", str(args.seconds)]
                cmd += ["--redis", f"127.0.0.1:6379,db={args.redis_db}"]
                result = run_child(cmd)
                if "error" not in result:
                    done = pushes.slice(0, batch + result["events"])
                    want = latest(pa.concat_tables([history, done]), cards)
                    equal = sum(1 for c in want if _same_row(result["sample"][c], want[c]))
                    result["feast_check"] = f"{equal}/{len(want)} cards = the latest pushed row"
                label = f"Feast {feast_version} {store}, {batch} per push"
                results.append((label, result))
                print(f"  {label}: {summary(result, args.rate)}", flush=True)
    if "redis" in stores:
        client = redis.Redis.from_url(redis_url)
        left = client.dbsize()
        client.flushdb()  # it was empty before: all of it is ours
        print(f"Redis DB {args.redis_db}: {left} keys left, removed", flush=True)
    end = os.getloadavg()
    print(f"load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    ok = all("error" not in r for _, r in results) and all(
        r["check"]["equal"] == r["check"]["compared"] for _, r in results if "check" in r
    )
    return 0 if ok else 1


def _same_row(a: list[Any], b: list[Any]) -> bool:
    from features_http import same

    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))


if __name__ == "__main__":
    sys.exit(main())
