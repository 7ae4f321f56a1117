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

import pytest

from dockyard.features.offline import training_set
from dockyard.features.online_values import OnlineFeatures
from dockyard.features.stores import OnlineStore, SQLiteOnlineStore
from features_stores import redis_store
from features_support import fraud_views, labels_table, same, to_table, transactions


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
