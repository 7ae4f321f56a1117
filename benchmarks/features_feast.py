"""Feature store: dockyard side by side with Feast (training set, materialize, online lookups).

Run from the project root (Redis at 127.0.0.1:6379 for the Redis rows):

    .venv/bin/python benchmarks/features_feast.py [--smoke] [--repeat 3] [--skip-training]
        [--skip-online] [--no-aggregates] [--no-redis] [--labels 1000000] [--events 10000000]
        [--online-events 1000000] [--entities 250000] [--lookups 2000] [--redis-db 11]
        [--feast-limit-gib 16] [--feast-first]

Feast lives in its own venv, ``.bench/feast`` (created when missing, with
``feast[duckdb,redis]==0.67.*``); its side is ``features_feast_peer.py``, run by Feast's
interpreter. Both sides read the same Parquet files under benchmarks/.data/features/.

training: the fraud-shaped events and labels of features_training_set.py (``--labels`` x
``--events``; ``--smoke``: 100k x 1M). Feast's offline store (DuckDB) has no windowed
aggregation, so the comparable request is the latest ``amount``, ``merchant_id`` and
``transaction_id`` of the card strictly before each label's time, null when older than 30 d
(dockyard: three ``Field`` of a view with ``ttl="30d"``, ``training_set``; Feast: a
FeatureView with ``ttl=30d`` and ``get_historical_features(...).to_arrow()``, the label
times moved back 1 µs since Feast takes events at or before the entity time). Each side in
a fresh process, timed from the Parquet events file to an Arrow table (labels read before
the clock starts), with its peak RSS; a Feast process above ``--feast-limit-gib`` is
stopped. dockyard's 7-feature set of features_training_set.py (6 windowed aggregates, one
gated by ``available_at``) is timed beside it; Feast cannot compute it.

online: ``--online-events`` events (``--entities`` cards, 50 float columns, the 7 days
before the data was written) materialized, in a fresh process per side and store, into
SQLite (dockyard's embedded store / Feast's sqlite online store) and Redis (DB
``--redis-db``, which must be empty; dockyard under a key prefix; all removed afterwards),
timed from the Parquet file, with the peak RSS. Then in the same process, 50 features
(dockyard: 50 ``Field``, no TTL; Feast: 50 Float64 fields, no TTL), one call at a time:
warm-up, 1 entity x 50 for ``--lookups`` distinct entities (``first``), the same again
(``repeat``: dockyard's embedded store answers from its in-process cache; Feast has none),
and ``--lookups`` calls of 100 entities. p50 / p99 in ms.

Repetitions interleave the sides (dockyard first on even ones, Feast first on odd ones;
``--feast-first`` swaps that);
the table shows medians over ``--repeat`` and the ratio Feast / dockyard. Sample rows of
each side are compared value by value. No PASS/FAIL: the script exits 0 unless a side
fails or values differ.
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
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features_training_set import DATA, generate

ROOT = Path(__file__).resolve().parent.parent
FEAST_VENV = ROOT / ".bench" / "feast"
FEAST_PY = FEAST_VENV / "bin" / "python"
PEER = Path(__file__).resolve().parent / "features_feast_peer.py"
VALUE_COLUMNS = [f"f{i:02d}" for i in range(50)]
HOUR_US = 3_600_000_000
FEAST_FIRST = 0  # 1 with --feast-first


def ensure_feast() -> str:
    """Create Feast's venv (`.bench/feast`) if it is not there yet; return Feast's version."""
    if not FEAST_PY.exists():
        print(f"creating {FEAST_VENV} with feast (one-off)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(FEAST_VENV)], check=False)
        if not (FEAST_VENV / "bin" / "pip").exists():
            subprocess.run(["python3", "-m", "venv", str(FEAST_VENV)], check=True)
        subprocess.run(
            [str(FEAST_VENV / "bin" / "pip"), "install", "-q", "feast[duckdb,redis]==0.67.*"],
            check=True,
        )
    out = subprocess.run(
        [str(FEAST_PY), "-c", "import importlib.metadata as m; print(m.version('feast'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# -- data --------------------------------------------------------------------------------


def online_events(count: int, entities: int) -> Path:
    """events.parquet for the online rows (written once per size): card, ts (distinct, the
    7 days before writing), 50 float columns."""
    folder = DATA / f"online-e{count}-c{entities}"
    path = folder / "events.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    now_us = time.time_ns() // 1_000
    span = 7 * 24 * HOUR_US
    step = span // count
    ts = now_us - span + np.arange(count, dtype=np.int64) * step + rng.integers(0, step, count)
    columns: dict[str, pa.Array] = {
        "card": pa.array(rng.integers(0, entities, count)),
        "ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
    }
    for col in VALUE_COLUMNS:
        columns[col] = pa.array(np.round(rng.lognormal(3, 1, count), 2))
    pq.write_table(pa.table(columns), path)
    return path


def key_plan(entities: int, lookups: int, path: Path) -> None:
    """The keys both sides look up, written to ``path`` as JSON."""
    rng = random.Random(5)
    order = list(range(entities))
    rng.shuffle(order)
    warmup, single = order[:200], order[200 : 200 + lookups]
    rest = order[200 + lookups :]
    if len(rest) >= 100 * lookups:
        batches = [rest[i * 100 : (i + 1) * 100] for i in range(lookups)]
    else:  # too few entities for disjoint batches: some keys repeat across calls
        batches = [rng.sample(range(entities), 100) for _ in range(lookups)]
    sample = rng.sample(range(entities), min(500, entities))
    path.write_text(
        json.dumps({"warmup": warmup, "single": single, "batches": batches, "sample": sample})
    )


# -- the dockyard side (run as `features_feast.py --child ...` in a fresh process) ---------


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_training(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow.compute as pc

    from dockyard.features import Aggregate, Entity, FeatureView, Field
    from dockyard.features.offline import training_set

    folder = Path(args.folder)
    labels = pq.read_table(
        folder / "labels.parquet", columns=["label_id", "card_hash", "event_time"]
    )
    card = Entity("card", keys=["card_hash"])
    if args.child == "training":
        views = [
            FeatureView(
                "card_latest",
                entities=[card],
                source="transactions",
                timestamp="ts",
                features=[Field("amount"), Field("merchant_id"), Field("transaction_id")],
                ttl="30d",
            )
        ]
        refs = ["card_latest:*"]
        columns = ["card_hash", "ts", "amount", "merchant_id", "transaction_id"]
    else:  # the 7 features of features_training_set.py
        views = [
            FeatureView(
                "card_activity",
                entities=[card],
                source="transactions",
                timestamp="ts",
                features=[
                    Field("amount", name="last_amount"),
                    Aggregate("amount", "sum", window="24h"),
                    Aggregate("transaction_id", "count", window="1h"),
                    Aggregate("amount", "mean", window="7d"),
                    Aggregate("amount", "max", window="24h"),
                    Aggregate("merchant_id", "distinct_count", window="7d"),
                ],
                ttl="30d",
            ),
            FeatureView(
                "card_reports",
                entities=[card],
                source="transactions",
                timestamp="ts",
                features=[
                    Aggregate("is_fraud", "sum", window="90d", available_at="label_available_at")
                ],
            ),
        ]
        refs = ["card_activity:*", "card_reports:*"]
        columns = None
    started = time.perf_counter()
    events = pq.read_table(folder / "events.parquet", columns=columns)
    read_s = time.perf_counter() - started
    out = training_set(labels, views, {"transactions": events}, refs)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "seconds": seconds,
        "read_seconds": read_s,
        "rows": out.num_rows,
        "columns": out.num_columns,
        "peak_rss_mib": peak_rss_mib(),
    }
    if args.child == "training":
        sample = json.loads(Path(args.sample).read_text())
        picked = out.filter(pc.is_in(out.column("label_id"), value_set=pa.array(sample)))
        result["sample"] = {
            str(r["label_id"]): [r["amount"], r["merchant_id"], r["transaction_id"]]
            for r in picked.to_pylist()
        }
    return result


def child_online(args: argparse.Namespace) -> dict[str, Any]:
    from dockyard.features import Entity, FeatureView, Field, OnlineFeatures
    from dockyard.features.stores import SQLiteOnlineStore
    from dockyard.features.stores.redis import RedisOnlineStore

    view = FeatureView(
        "activity",
        entities=[Entity("card", keys=["card"])],
        source="purchases",
        timestamp="ts",
        features=[Field(c) for c in VALUE_COLUMNS],
    )
    if args.store == "redis":
        store: Any = RedisOnlineStore(
            f"redis://127.0.0.1:6379/{args.redis_db}",
            prefix=f"dockyard-bench:{uuid.uuid4().hex[:8]}:",
        )
    else:
        store = SQLiteOnlineStore(Path(args.repo) / "online.db")
    online = OnlineFeatures(store, [view])
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    table = pq.read_table(args.events_path)
    online.materialize("activity", table)
    materialize_s = time.perf_counter() - started
    rss_after = peak_rss_mib()
    del table
    keys = json.loads(Path(args.keys).read_text())
    refs = ["activity:*"]

    def timed(call: Any, items: list[Any]) -> list[int]:
        out = []
        for item in items:
            t0 = time.perf_counter_ns()
            call(item)
            out.append(time.perf_counter_ns() - t0)
        return out

    timed(lambda k: online.get({"card": [k]}, refs), keys["warmup"])
    single = timed(lambda k: online.get({"card": [k]}, refs), keys["single"])
    repeat = timed(lambda k: online.get({"card": [k]}, refs), keys["single"])
    hundred = timed(lambda ks: online.get({"card": ks}, refs), keys["batches"])
    got = online.get({"card": keys["sample"]}, refs)
    values = {str(k): [got[c][i] for c in VALUE_COLUMNS] for i, k in enumerate(got["card"])}
    if args.store == "redis":
        store.drop("activity")
    store.close()
    return {
        "materialize_seconds": materialize_s,
        "materialize_peak_rss_mib": rss_after,
        "rss_before_materialize_mib": rss_before,
        "single_ns": single,
        "repeat_ns": repeat,
        "hundred_ns": hundred,
        "sample": values,
    }


# -- running the sides ---------------------------------------------------------------------


def run_child(cmd: list[str], limit_mib: float | None) -> dict[str, Any]:
    """Run ``cmd`` (prints one JSON line last); watch its RSS and stop it above
    ``limit_mib``. Returns its JSON, or {"error": ...}."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    state = {"max_rss": 0.0, "killed": False}

    def watch() -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) / 1024
                        state["max_rss"] = max(state["max_rss"], rss)
                        if limit_mib is not None and rss > limit_mib:
                            state["killed"] = True
                            proc.kill()
            except OSError:
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = proc.communicate()
    watcher.join()
    if state["killed"]:
        return {"error": f"stopped above {limit_mib / 1024:.0f} GiB RSS", "killed": True}
    if proc.returncode != 0:
        return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else "failed"}
    return json.loads(stdout.strip().splitlines()[-1])


def interleave(
    rep: int, ours_cmd: list[str], feast_cmd: list[str], limit_mib: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run both sides, dockyard first on even repetitions, Feast first on odd ones
    (the other way round with ``--feast-first``)."""
    if (rep + FEAST_FIRST) % 2 == 0:
        mine = run_child(ours_cmd, None)
        return mine, run_child(feast_cmd, limit_mib)
    peer = run_child(feast_cmd, limit_mib)
    return run_child(ours_cmd, None), peer


def dockyard_cmd(*extra: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", *extra]


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
    return a == b


def compare(ours: dict[str, list[Any]], theirs: dict[str, list[Any]]) -> tuple[int, int]:
    """(rows equal, rows compared)."""
    keys = sorted(set(ours) | set(theirs))
    equal = sum(
        1
        for k in keys
        if k in ours
        and k in theirs
        and len(ours[k]) == len(theirs[k])
        and all(same(a, b) for a, b in zip(ours[k], theirs[k], strict=True))
    )
    return equal, len(keys)


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def pct(samples_ns: list[int], q: float) -> float:
    ms = sorted(s / 1e6 for s in samples_ns)
    return statistics.median(ms) if q == 0.5 else ms[min(len(ms) - 1, int(len(ms) * q))]


class Results:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, float | None, float | None, str]] = []
        self.notes: list[str] = []

    def add(
        self, what: str, unit: str, ours: float | None, theirs: float | None, note: str = ""
    ) -> None:
        self.rows.append((what, unit, ours, theirs, note))

    def print(self, title: str) -> None:
        table = Table(title=title)
        for name, justify in (
            ("measure", "left"),
            ("unit", "left"),
            ("dockyard", "right"),
            ("Feast", "right"),
            ("Feast / dockyard", "right"),
            ("note", "left"),
        ):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for what, unit, ours, theirs, note in self.rows:
            ratio = f"{theirs / ours:.1f}x" if ours and theirs else ""
            table.add_row(what, unit, fmt(ours), fmt(theirs), ratio, note)
        Console(width=160).print(table)
        for note in self.notes:
            print(f"- {note}")


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}"


def bench_training(args: argparse.Namespace, work: Path, res: Results) -> bool:
    folder = DATA / f"e{args.events}-l{args.labels}-c{args.cards}"
    started = time.perf_counter()
    generate(args.events, args.labels, args.cards, folder)
    print(f"training data ready in {time.perf_counter() - started:.1f} s: {folder}", flush=True)
    sample_path = work / "sample.json"
    rng = random.Random(11)
    sample_path.write_text(json.dumps(rng.sample(range(args.labels), min(1000, args.labels))))
    limit = args.feast_limit_gib * 1024
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    aggregates: list[dict[str, Any]] = []
    ok = True
    for rep in range(args.repeat):
        repo = work / f"feast-training-{rep}"

        ours_cmd = dockyard_cmd("training", "--folder", str(folder), "--sample", str(sample_path))
        feast_cmd = [str(FEAST_PY), str(PEER), "training", "--folder", str(folder)]
        feast_cmd += ["--repo", str(repo), "--sample", str(sample_path)]
        mine, peer = interleave(rep, ours_cmd, feast_cmd, limit)
        ours.append(mine)
        theirs.append(peer)
        if not args.no_aggregates:
            aggregates.append(run_child(dockyard_cmd("aggregates", "--folder", str(folder)), None))
        print(
            f"  training rep {rep + 1}: dockyard {ours[-1].get('seconds', ours[-1].get('error'))}"
            f"  Feast {theirs[-1].get('seconds', theirs[-1].get('error'))}",
            flush=True,
        )
        if theirs[-1].get("killed"):
            break
    good_ours = [r for r in ours if "error" not in r]
    good_theirs = [r for r in theirs if "error" not in r]
    scale = f"{args.labels:,} labels x {args.events:,} events"
    res.add(
        f"training set, 3 latest values, TTL 30 d ({scale})",
        "s",
        med([r["seconds"] for r in good_ours]),
        med([r["seconds"] for r in good_theirs]),
        "fresh process, from the events Parquet file",
    )
    res.add(
        "  peak RSS",
        "MiB",
        med([r["peak_rss_mib"] for r in good_ours]),
        med([r["peak_rss_mib"] for r in good_theirs]),
        "",
    )
    if not args.no_aggregates:
        good_agg = [r for r in aggregates if "error" not in r]
        res.add(
            "training set, 7 features (6 windowed aggregates)",
            "s",
            med([r["seconds"] for r in good_agg]),
            None,
            "Feast: not expressible in its offline store",
        )
        res.add("  peak RSS", "MiB", med([r["peak_rss_mib"] for r in good_agg]), None, "")
    for r in ours + theirs + aggregates:
        if "error" in r:
            res.notes.append(f"training: a run failed: {r['error']}")
            ok = ok and bool(r.get("killed"))
    if good_ours and good_theirs:
        equal, compared = compare(good_ours[0]["sample"], good_theirs[0]["sample"])
        nulls = sum(1 for v in good_ours[0]["sample"].values() if v[0] is None)
        res.notes.append(
            f"training: {equal:,} of {compared:,} sampled label rows have the same 3 values on "
            f"both sides ({nulls} of them null on both: no event of the card in the 30 d before)"
        )
        ok = ok and equal == compared
        res.notes.append(
            f"training: Feast apply() {good_theirs[0]['apply_seconds']:.2f} s, not timed"
        )
    if good_ours:
        read = med([r["read_seconds"] for r in good_ours]) or 0.0
        res.notes.append(f"training: of dockyard's time, reading the events Parquet: {read:.2f} s")
    return ok


def redis_client(db: int) -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=6379, db=db)


def bench_online(args: argparse.Namespace, work: Path, res: Results) -> bool:
    started = time.perf_counter()
    events = online_events(args.online_events, args.entities)
    print(f"online data ready in {time.perf_counter() - started:.1f} s: {events}", flush=True)
    keys_path = work / "keys.json"
    key_plan(args.entities, args.lookups, keys_path)
    stores = ["sqlite"] if args.no_redis else ["sqlite", "redis"]
    if "redis" in stores:
        client = redis_client(args.redis_db)
        if client.dbsize():
            raise SystemExit(f"Redis DB {args.redis_db} is not empty: pick another --redis-db")
    ok = True
    for name in stores:
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for rep in range(args.repeat):
            repo = work / f"{name}-{rep}"
            repo.mkdir()

            ours_cmd = dockyard_cmd("online", "--store", name, "--events-file", str(events))
            ours_cmd += ["--keys", str(keys_path), "--repo", str(repo / "dockyard")]
            ours_cmd += ["--redis-db", str(args.redis_db)]
            feast_cmd = [str(FEAST_PY), str(PEER), "online", "--store", name, "--events"]
            feast_cmd += [str(events), "--keys", str(keys_path), "--repo", str(repo / "feast")]
            feast_cmd += ["--redis", f"127.0.0.1:6379,db={args.redis_db}"]
            mine, peer = interleave(rep, ours_cmd, feast_cmd, args.feast_limit_gib * 1024)
            ours.append(mine)
            theirs.append(peer)
            print(
                f"  {name} rep {rep + 1}: materialize dockyard "
                f"{ours[-1].get('materialize_seconds', ours[-1].get('error'))}  Feast "
                f"{theirs[-1].get('materialize_seconds', theirs[-1].get('error'))}",
                flush=True,
            )
        label = "embedded SQLite" if name == "sqlite" else "Redis"
        good_ours = [r for r in ours if "error" not in r]
        good_theirs = [r for r in theirs if "error" not in r]
        for r in ours + theirs:
            if "error" in r:
                res.notes.append(f"{label}: a run failed: {r['error']}")
                ok = False
        res.add(
            f"materialize {args.online_events:,} events, {args.entities:,} cards -> {label}",
            "s",
            med([r["materialize_seconds"] for r in good_ours]),
            med([r["materialize_seconds"] for r in good_theirs]),
            "fresh process, from the Parquet file",
        )
        res.add(
            "  peak RSS",
            "MiB",
            med([r["materialize_peak_rss_mib"] for r in good_ours]),
            med([r["materialize_peak_rss_mib"] for r in good_theirs]),
            "whole process (imports included)",
        )
        for key, what in (
            ("single_ns", "1 entity x 50, first lookup of each"),
            ("repeat_ns", "1 entity x 50, same entities again"),
            ("hundred_ns", "100 entities x 50"),
        ):
            for q, qname in ((0.5, "p50"), (0.99, "p99")):
                res.add(
                    f"  {label}: {what} {qname}",
                    "ms",
                    med([pct(r[key], q) for r in good_ours]),
                    med([pct(r[key], q) for r in good_theirs]),
                    f"{len(good_ours[0][key]):,} calls" if good_ours and q == 0.5 else "",
                )
        if good_ours and good_theirs:
            equal, compared = compare(good_ours[0]["sample"], good_theirs[0]["sample"])
            res.notes.append(
                f"{label}: {equal} of {compared} sampled cards have the same 50 values on both "
                "sides"
            )
            ok = ok and equal == compared
    if "redis" in stores:
        left = redis_client(args.redis_db).dbsize()
        if left:  # the DB was empty before: whatever is left is ours
            redis_client(args.redis_db).flushdb()
            res.notes.append(f"Redis: {left} keys were left in DB {args.redis_db}; flushed")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--cards", type=int, default=200_000)
    parser.add_argument("--online-events", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=250_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--feast-limit-gib", type=float, default=16.0)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-online", action="store_true")
    parser.add_argument("--no-aggregates", action="store_true")
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--feast-first", action="store_true", help="Feast first on even reps")
    parser.add_argument(
        "--child", choices=["training", "aggregates", "online"], help=argparse.SUPPRESS
    )
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--sample", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    parser.add_argument("--repo", help=argparse.SUPPRESS)
    parser.add_argument("--events-file", dest="events_path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child = child_online if args.child == "online" else child_training
        print(json.dumps(child(args)))
        return 0
    global FEAST_FIRST
    FEAST_FIRST = int(args.feast_first)
    if args.smoke:
        args.labels, args.events, args.cards = 100_000, 1_000_000, 20_000
        args.online_events, args.entities = 100_000, 25_000
    version = ensure_feast()
    load = os.getloadavg()
    print(
        f"Feast {version}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        flush=True,
    )
    res = Results()
    ok = True
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="feast-bench-", dir=DATA.parent) as tmp:
        work = Path(tmp)
        if not args.skip_training:
            ok = bench_training(args, work, res) and ok
        if not args.skip_online:
            ok = bench_online(args, work, res) and ok
    end_load = os.getloadavg()
    res.notes.append(
        f"load average at the end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f} "
        f"(2 cores, shared)"
    )
    res.print(f"dockyard beside Feast {version}, medians of {args.repeat}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
