"""Training/serving parity: online lookups after pushes equal the offline training set.

A day of purchases for a few hundred cards (labels known after a delay, through
``available_at``) is pushed in arrival order; at thousands of random (card, time) pairs the
online value equals the point-in-time offline value (floats to 1e-9, nulls equal). Run
against the embedded store and a real Redis.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dockyard.features import Aggregate, FeatureView
from dockyard.features.offline import training_set
from dockyard.features.online_values import OnlineFeatures
from dockyard.features.stores import OnlineStore, SQLiteOnlineStore
from features_stores import redis_store
from features_support import (
    CARD,
    DAY0,
    fraud_views,
    labels_table,
    micros,
    reference,
    same,
    to_table,
    transactions,
)


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        sqlite = SQLiteOnlineStore(tmp_path / "online.db")
        yield sqlite
        sqlite.close()
    else:
        yield from redis_store()


def _compare(
    online: OnlineFeatures, offline: Any, queries: list[dict[str, Any]], views: list[Any]
) -> list[Any]:
    mismatches = []
    for row, q in enumerate(queries):
        for view in views:
            got = online.get({k: [q[k]] for k in view.keys}, [f"{view.name}:*"], at=q["event_time"])
            for feature in view.features:
                want = offline.column(feature.name)[row].as_py()
                if not same(got[feature.name][0], want):
                    mismatches.append((view.name, feature.name, q, got[feature.name][0], want))
    return mismatches


def _queries(
    seed: int, events: list[dict[str, Any]], count: int, lo: int, hi: int
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        e = rng.choice(events)
        t = e["ts"] if rng.random() < 0.2 else rng.randrange(lo, hi)
        out.append(
            {
                "label_id": i,
                "card_hash": e["card_hash"],
                "country": e["country"],
                "merchant_id": e["merchant_id"] if e["merchant_id"] is not None else 99,
                "event_time": t,
            }
        )
    return out


def test_replay_of_a_day_then_lookups_equal_training_set(store: OnlineStore) -> None:
    events = transactions(11, rows=6000, cards=300, span_s=86_400, step_s=10)
    arrival = sorted(
        range(len(events)),
        key=lambda i: max(events[i]["ts"], events[i]["label_available_at"] or events[i]["ts"]),
    )
    arrived = [events[i] for i in arrival]
    views = fraud_views(lateness="2d")
    online = OnlineFeatures(store, views)
    for at in range(0, len(arrived), 500):
        online.push("card_activity", to_table(arrived[at : at + 500]))
        online.push("merchant_activity", to_table(arrived[at : at + 500]))
    lo, hi = min(e["ts"] for e in events), max(e["ts"] for e in events) + 3_600_000_000
    queries = _queries(12, events, 1500, lo, hi)
    offline = training_set(
        labels_table(queries),
        views,
        {"transactions": to_table(arrived)},
        ["card_activity:*", "merchant_activity:*"],
    )
    mismatches = _compare(online, offline, queries, views)
    assert not mismatches, mismatches[:5]


def test_interleaved_pushes_with_short_lateness_equal_training_set(store: OnlineStore) -> None:
    """Events arrive up to 5 minutes late (lateness 10m), lookups happen as time goes by:
    buckets settle and old ones are dropped, and the values stay exact."""
    rng = random.Random(21)
    events = transactions(21, rows=3000, cards=150, span_s=6 * 3600, step_s=10)
    arrival_time = [e["ts"] + rng.randrange(0, 300_000_000) for e in events]
    order = sorted(range(len(events)), key=lambda i: arrival_time[i])
    arrived = [events[i] for i in order]
    views = fraud_views(lateness="10m")
    online = OnlineFeatures(store, views)
    lo, hi = min(e["ts"] for e in events), max(e["ts"] for e in events)
    queries = sorted(_queries(22, events, 600, lo, hi), key=lambda q: q["event_time"])
    offline = training_set(
        labels_table(queries),
        views,
        {"transactions": to_table(arrived)},
        ["card_activity:*", "merchant_activity:*"],
    )
    pushed = 0
    mismatches = []
    for row, q in enumerate(queries):
        # push, in arrival order, until every event before the lookup's time has arrived
        needed = max((i for i, e in enumerate(arrived) if e["ts"] < q["event_time"]), default=-1)
        if needed >= pushed:
            batch = to_table(arrived[pushed : needed + 1])
            online.push("card_activity", batch)
            online.push("merchant_activity", batch)
            pushed = needed + 1
        mismatches += _compare(online, offline.slice(row, 1), [q], views)
    assert pushed > 0
    assert not mismatches, mismatches[:5]


def test_std_keeps_its_digits_when_values_barely_vary(store: OnlineStore) -> None:
    """Amounts near 1e6 that differ by cents (a sum of squares minus the squared sum would
    lose every digit) and a card whose amounts are all equal (std exactly 0): online,
    offline and the brute-force reference agree, windowed and over all history."""
    view = FeatureView(
        "steady",
        entities=[CARD],
        source="transactions",
        timestamp="ts",
        features=[Aggregate("amount", "std", window="1h"), Aggregate("amount", "std")],
        lateness="1d",
    )
    rng = random.Random(5)
    start = micros(DAY0)
    events = []
    for i in range(400):
        card = f"c{i % 4}"
        amount = 7.3 if card == "c0" else 1e6 + rng.randrange(0, 500) / 100
        ts = start + rng.randrange(0, 4 * 3600) * 1_000_000
        events.append({"card_hash": card, "ts": ts, "amount": amount})
    table = pa.table(
        {
            "card_hash": [e["card_hash"] for e in events],
            "ts": pa.array([e["ts"] for e in events], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "amount": [e["amount"] for e in events],
        }
    )
    online = OnlineFeatures(store, [view])
    for at in range(0, len(events), 100):
        online.push("steady", table.slice(at, 100))
    times = [start + 4 * 3600_000_000 + k * 97_000_000 for k in range(40)]
    queries = [(f"c{k % 4}", t) for k, t in enumerate(times)]
    labels = pa.table(
        {
            "card_hash": [c for c, _ in queries],
            "event_time": pa.array([t for _, t in queries], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    )
    offline = training_set(labels, [view], {"transactions": table}, ["steady:*"])
    checked = varied = 0
    for row, (card, t) in enumerate(queries):
        got = online.get({"card_hash": [card]}, ["steady:*"], at=t)
        for feature in view.features:
            want = reference(view, feature, events, (card,), t)
            assert isinstance(feature, Aggregate)
            assert same(got[feature.name][0], want), (feature.name, card, t)
            assert same(offline.column(feature.name)[row].as_py(), want), (feature.name, card, t)
            if card == "c0" and want is not None:
                assert got[feature.name][0] == 0.0
                assert offline.column(feature.name)[row].as_py() == 0.0
                checked += 1
            elif want:  # cents around 1e6 (0.0 for a window of one value)
                assert 0.5 < want < 3.0
                varied += 1
    assert checked > 0 and varied > 0
