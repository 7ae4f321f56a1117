"""The Feast side of benchmarks/features_feast.py; runs in Feast's venv, prints one JSON line.

    .bench/feast/bin/python benchmarks/features_feast_peer.py training --folder DIR --repo DIR
        --sample FILE [--ttl-days 30]
    .bench/feast/bin/python benchmarks/features_feast_peer.py online --events FILE --repo DIR
        --keys FILE --store sqlite|redis [--redis 127.0.0.1:6379,db=11]
    .bench/feast/bin/python benchmarks/features_feast_peer.py serve --events FILE --repo DIR
        --store sqlite|redis [--redis 127.0.0.1:6379,db=11]
    .bench/feast/bin/python benchmarks/features_feast_peer.py push --events FILE --repo DIR
        --pushes FILE --keys FILE --store sqlite|redis [--batch 1000] [--rate 10000]
        [--seconds 20] [--redis ...]

training: a feature repo (Entity ``card`` on ``card_hash``, a FileSource over
``DIR/events.parquet`` with ``ts`` as its timestamp, a FeatureView of the latest
``amount``, ``merchant_id`` and ``transaction_id`` with a TTL, the DuckDB offline store) is
applied, the labels are read into a pandas DataFrame (not timed), then
``get_historical_features(...).to_arrow()`` is timed. Each label's time is moved back by
1 µs for Feast, whose join takes events at or before the entity time, where dockyard takes
events strictly before it. online: a view of 50 Float64 columns over ``FILE`` is applied and
``materialize`` runs into the SQLite or Redis online store (timed, with the peak RSS right
after), then ``get_online_features(...).to_dict()`` is timed call by call on the keys of
``--keys`` (warm-up, 1 entity of each of the ``single`` keys, the same again, and each
``batches`` row of 100 keys). Both modes also print the values of a sample of rows for the
parent to compare with dockyard's. The Redis keys written are removed by ``teardown``.
serve: the online mode's repo, applied and materialized, for ``feast serve``
(benchmarks/features_http.py); nothing timed after materialize. push: a view of the 5 value
columns of features_online.py fed by a PushSource, materialized from ``--events``, then
``store.push(..., to=PushMode.ONLINE)`` of ``--pushes`` at ``--rate`` events/s in batches
of ``--batch`` (benchmarks/features_push.py); serve-push: that repo for ``feast serve``.
Not part of dockyard; no dockyard imports.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64

VALUE_COLUMNS = [f"f{i:02d}" for i in range(50)]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_repo(repo: Path, online: str, redis: str) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    if online == "redis":
        store = f'  type: redis\n  connection_string: "{redis}"\n'
    else:
        store = f"  type: sqlite\n  path: {repo / 'online.db'}\n"
    (repo / "feature_store.yaml").write_text(
        "project: bench\n"
        f"registry: {repo / 'registry.db'}\n"
        "provider: local\n"
        "offline_store:\n  type: duckdb\n"
        f"online_store:\n{store}"
        "entity_key_serialization_version: 3\n"
    )


def training(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.folder)
    repo = Path(args.repo)
    write_repo(repo, "sqlite", "")
    store = FeatureStore(repo_path=str(repo))
    card = Entity(name="card", join_keys=["card_hash"], value_type=ValueType.INT64)
    source = FileSource(path=str(folder / "events.parquet"), timestamp_field="ts")
    view = FeatureView(
        name="card_latest",
        entities=[card],
        ttl=timedelta(days=args.ttl_days),
        schema=[
            Field(name="amount", dtype=Float64),
            Field(name="merchant_id", dtype=Int64),
            Field(name="transaction_id", dtype=Int64),
        ],
        source=source,
        online=False,
    )
    started = time.perf_counter()
    store.apply([card, view])
    apply_s = time.perf_counter() - started
    labels = pq.read_table(
        folder / "labels.parquet", columns=["label_id", "card_hash", "event_time"]
    )
    entity_df = labels.to_pandas()
    entity_df["event_timestamp"] = entity_df.pop("event_time") - pd.Timedelta(microseconds=1)
    refs = ["card_latest:amount", "card_latest:merchant_id", "card_latest:transaction_id"]
    started = time.perf_counter()
    out = store.get_historical_features(entity_df=entity_df, features=refs).to_arrow()
    seconds = time.perf_counter() - started
    sample = json.loads(Path(args.sample).read_text())
    picked = out.filter(pc.is_in(out.column("label_id"), value_set=pc.cast(sample, "int64")))
    values = {
        str(row["label_id"]): [row["amount"], row["merchant_id"], row["transaction_id"]]
        for row in picked.select(
            ["label_id", "amount", "merchant_id", "transaction_id"]
        ).to_pylist()
    }
    return {
        "seconds": seconds,
        "apply_seconds": apply_s,
        "rows": out.num_rows,
        "columns": out.num_columns,
        "peak_rss_mib": peak_rss_mib(),
        "sample": values,
    }


def timed(call: Any, items: list[Any]) -> list[int]:
    out = []
    for item in items:
        started = time.perf_counter_ns()
        call(item)
        out.append(time.perf_counter_ns() - started)
    return out


def materialized(args: argparse.Namespace) -> tuple[FeatureStore, float, float, float]:
    """The repo of the 50-column view over ``--events``, applied and materialized into the
    ``--store`` online store: (store, seconds, peak RSS before, peak RSS after)."""
    repo = Path(args.repo)
    write_repo(repo, args.store, args.redis)
    store = FeatureStore(repo_path=str(repo))
    card = Entity(name="card", join_keys=["card"], value_type=ValueType.INT64)
    source = FileSource(path=args.events, timestamp_field="ts")
    view = FeatureView(
        name="activity",
        entities=[card],
        ttl=timedelta(0),  # no TTL, like the dockyard view
        schema=[Field(name=c, dtype=Float64) for c in VALUE_COLUMNS],
        source=source,
        online=True,
    )
    store.apply([card, view])
    ts = pq.read_table(args.events, columns=["ts"]).column("ts")
    start = pc.min(ts).as_py() - timedelta(seconds=1)
    end = datetime.now(UTC)
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    store.materialize(start_date=start, end_date=end)
    return store, time.perf_counter() - started, rss_before, peak_rss_mib()


def serve(args: argparse.Namespace) -> dict[str, Any]:
    """The repo for ``feast serve`` (benchmarks/features_http.py), materialized."""
    _, materialize_s, _, rss = materialized(args)
    return {"materialize_seconds": materialize_s, "materialize_peak_rss_mib": rss}


def online(args: argparse.Namespace) -> dict[str, Any]:
    store, materialize_s, rss_before, rss_after = materialized(args)
    keys = json.loads(Path(args.keys).read_text())
    refs = [f"activity:{c}" for c in VALUE_COLUMNS]

    def get(cards: list[int]) -> dict[str, list[Any]]:
        return store.get_online_features(
            features=refs, entity_rows=[{"card": k} for k in cards]
        ).to_dict()

    timed(lambda k: get([k]), keys["warmup"])
    single = timed(lambda k: get([k]), keys["single"])
    repeat = timed(lambda k: get([k]), keys["single"])
    hundred = timed(get, keys["batches"])
    sample = get(keys["sample"])
    values = {str(k): [sample[c][i] for c in VALUE_COLUMNS] for i, k in enumerate(sample["card"])}
    result = {
        "materialize_seconds": materialize_s,
        "materialize_peak_rss_mib": rss_after,
        "rss_before_materialize_mib": rss_before,
        "single_ns": single,
        "repeat_ns": repeat,
        "hundred_ns": hundred,
        "sample": values,
    }
    if args.store == "redis":
        store.teardown()
    return result


PUSH_COLUMNS = ["amount", "items", "score", "distance", "velocity"]


def push_repo(args: argparse.Namespace) -> FeatureStore:
    """A view of the 5 value columns of features_online.py's events, fed by a PushSource
    (its batch source: the history file ``--events``), materialized from the history."""
    from feast import PushSource

    repo = Path(args.repo)
    write_repo(repo, args.store, args.redis)
    store = FeatureStore(repo_path=str(repo))
    card = Entity(name="card", join_keys=["card"], value_type=ValueType.INT64)
    source = PushSource(
        name="purchases_push", batch_source=FileSource(path=args.events, timestamp_field="ts")
    )
    view = FeatureView(
        name="activity",
        entities=[card],
        ttl=timedelta(0),
        schema=[Field(name=c, dtype=Float64) for c in PUSH_COLUMNS],
        source=source,
        online=True,
    )
    store.apply([card, source, view])
    ts = pq.read_table(args.events, columns=["ts"]).column("ts")
    store.materialize(
        start_date=pc.min(ts).as_py() - timedelta(seconds=1), end_date=datetime.now(UTC)
    )
    return store


def push(args: argparse.Namespace) -> dict[str, Any]:
    """``store.push(..., to=PushMode.ONLINE)`` of the batches of ``--pushes`` (rows in
    order, ``--batch`` per push), each due at ``start + i * batch / rate``, for at most
    ``--seconds``: the events pushed, the seconds taken and each push's seconds."""
    from feast.data_source import PushMode

    store = push_repo(args)
    table = pq.read_table(args.pushes)
    frames = [
        table.slice(at, args.batch).to_pandas() for at in range(0, table.num_rows, args.batch)
    ]
    store.push("purchases_push", frames[0], to=PushMode.ONLINE)  # warm-up, not counted
    durations = []
    pushed = 0
    start = time.perf_counter()
    for i, frame in enumerate(frames[1:]):
        due = start + i * args.batch / args.rate
        if due - start >= args.seconds or time.perf_counter() - start >= args.seconds:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        began = time.perf_counter()
        store.push("purchases_push", frame, to=PushMode.ONLINE)
        durations.append(time.perf_counter() - began)
        pushed += len(frame)
    elapsed = time.perf_counter() - start
    cards = json.loads(Path(args.keys).read_text())
    got = store.get_online_features(
        features=[f"activity:{c}" for c in PUSH_COLUMNS], entity_rows=[{"card": k} for k in cards]
    ).to_dict()
    values = {str(k): [got[c][i] for c in PUSH_COLUMNS] for i, k in enumerate(got["card"])}
    if args.store == "redis":
        store.teardown()
    return {"events": pushed, "seconds": elapsed, "push_seconds": durations, "sample": values}


def serve_push(args: argparse.Namespace) -> dict[str, Any]:
    """The push repo for ``feast serve`` (benchmarks/features_push.py), materialized."""
    push_repo(args)
    return {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["training", "online", "serve", "push", "serve-push"])
    parser.add_argument("--folder")
    parser.add_argument("--repo", required=True)
    parser.add_argument("--sample")
    parser.add_argument("--ttl-days", type=int, default=30)
    parser.add_argument("--events")
    parser.add_argument("--keys")
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--redis", default="127.0.0.1:6379,db=11")
    parser.add_argument("--pushes")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    modes = {"training": training, "online": online, "serve": serve, "push": push}
    result = (modes | {"serve-push": serve_push})[args.mode](args)
    result["feast_version"] = __import__("feast").__version__
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
