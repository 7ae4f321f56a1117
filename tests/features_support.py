"""A brute-force reference of the feature semantics (dockyard.features.windows) and random
fraud-shaped data for the feature store's tests. Slow on purpose: it reads every event for
every question, so it shares no code or trick with the engine it checks."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from dockyard.features import Aggregate, Entity, FeatureView, Field
from dockyard.features.durations import parse_duration

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def micros(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


def reference(
    view: FeatureView,
    feature: Field | Aggregate,
    events: list[dict[str, Any]],
    key: tuple[Any, ...],
    t: int,
) -> Any:
    """The value of ``feature`` for ``key`` at ``t`` (µs) from ``events`` in arrival order
    (dicts of the source's columns with times as µs ints)."""
    ttl = None if view.ttl is None else parse_duration(view.ttl)
    mine = [
        (e[view.timestamp], seq, e)
        for seq, e in enumerate(events)
        if None not in key and tuple(e[k] for k in view.keys) == key and e[view.timestamp] < t
    ]  # a null key names no entity
    if isinstance(feature, Field):
        if not mine:
            return None
        ts, _, latest = max(mine, key=lambda x: (x[0], x[1]))
        return None if ttl is not None and ts < t - ttl else latest[feature.column]
    start = -math.inf
    if feature.window is not None:
        w = parse_duration(feature.window)
        b = view.bucket_us(feature)
        start = (t // b) * b - w
    chosen = [
        (ts, seq, e[feature.column])
        for ts, seq, e in mine
        if ts >= start
        and e[feature.column] is not None
        and (
            feature.available_at is None
            or (e[feature.available_at] is not None and e[feature.available_at] < t)
        )
    ]
    values = [v for _, _, v in chosen]
    if feature.fn == "count":
        return len(values)
    if feature.fn == "distinct_count":
        return len(set(values))
    if not values:
        return None
    if feature.fn == "sum":
        return math.fsum(float(v) for v in values)
    if feature.fn == "mean":
        return math.fsum(float(v) for v in values) / len(values)
    if feature.fn == "std":  # two passes, exactly rounded sums
        mean = math.fsum(float(v) for v in values) / len(values)
        return math.sqrt(math.fsum((float(v) - mean) ** 2 for v in values) / len(values))
    if feature.fn == "min":
        return min(values)
    if feature.fn == "max":
        return max(values)
    ts, _, value = max(chosen, key=lambda x: (x[0], x[1]))
    return None if ttl is not None and ts < t - ttl else value


def same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 (relative or absolute), nulls equal to nulls only."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


CARD = Entity("card", keys=["card_hash"])
MERCHANT = Entity("merchant", keys=["country", "merchant_id"])


def fraud_views(
    ttl: str | None = "2h", bucket: str | None = None, lateness: str = "1d"
) -> list[FeatureView]:
    """Views over the random transactions: one per entity, every kind of feature."""
    card = FeatureView(
        "card_activity",
        entities=[CARD],
        source="transactions",
        timestamp="ts",
        features=[
            Field("amount", name="last_amount"),
            Field("merchant_id", name="last_merchant"),
            Aggregate("amount", "sum", window="1h"),
            Aggregate("transaction_id", "count", window="1h"),
            Aggregate("amount", "mean", window="2h"),
            Aggregate("amount", "mean"),
            Aggregate("amount", "min", window="1h"),
            Aggregate("amount", "max", window="2h"),
            Aggregate("amount", "max"),
            Aggregate("amount", "std", window="2h"),
            Aggregate("amount", "std"),
            Aggregate("merchant_id", "std", window="1h"),
            Aggregate("merchant_id", "last", window="1h"),
            Aggregate("merchant_id", "last"),
            Aggregate("merchant_id", "distinct_count", window="2h"),
            Aggregate("merchant_id", "distinct_count"),
            Aggregate("is_fraud", "sum", window="2h", available_at="label_available_at"),
            Aggregate("is_fraud", "count", available_at="label_available_at"),
            Aggregate("is_fraud", "mean", window="1h", available_at="label_available_at"),
        ],
        ttl=ttl,
        bucket=bucket,
        lateness=lateness,
    )
    merchant = FeatureView(
        "merchant_activity",
        entities=[MERCHANT],
        source="transactions",
        timestamp="ts",
        features=[
            Aggregate("amount", "sum", window="30m"),
            Aggregate("card_hash", "distinct_count", window="1h"),
            Aggregate("amount", "min"),
            Aggregate("is_fraud", "std", window="30m"),
            Field("amount", name="merchant_last_amount"),
        ],
        lateness=lateness,
    )
    return [card, merchant]


def transactions(
    seed: int, *, rows: int, cards: int, span_s: int = 6 * 3600, step_s: int = 30
) -> list[dict[str, Any]]:
    """Random purchases in arrival order: times on a grid of ``step_s`` (so many ties and
    events exactly on bucket edges), nulls, labels known after a random delay (or never)."""
    rng = random.Random(seed)
    start = micros(DAY0)
    out = []
    for i in range(rows):
        ts = start + rng.randrange(0, span_s // step_s) * step_s * 1_000_000
        if rng.random() < 0.1:
            ts += rng.randrange(1, 1_000_000)
        delay = rng.choice([None, 0, 1, 60, 1800, 3 * 3600, 9 * 3600])
        out.append(
            {
                "transaction_id": f"t{i}",
                "card_hash": f"c{rng.randrange(cards)}",
                "country": rng.choice(["FR", "US"]),
                "merchant_id": rng.choice([None, *range(8)]) if rng.random() < 0.9 else None,
                "amount": None if rng.random() < 0.05 else round(rng.uniform(1, 500), 2),
                "is_fraud": rng.random() < 0.1,
                "ts": ts,
                "label_available_at": None if delay is None else ts + delay * 1_000_000,
            }
        )
    return out


TIME_COLUMNS = ("ts", "label_available_at")


def to_table(events: list[dict[str, Any]]) -> pa.Table:
    """The events as an Arrow table with UTC timestamp columns."""
    columns: dict[str, Any] = {}
    for name in events[0]:
        values = [e[name] for e in events]
        if name in TIME_COLUMNS:
            columns[name] = pa.array(values, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        elif name == "merchant_id":
            columns[name] = pa.array(values, pa.int64())
        else:
            columns[name] = pa.array(values)
    return pa.table(columns)


def random_labels(
    seed: int, events: list[dict[str, Any]], count: int, *, spread_s: int = 8 * 3600
) -> list[dict[str, Any]]:
    """Label rows at random times, many exactly at event times or bucket edges."""
    rng = random.Random(seed)
    start = micros(DAY0)
    out = []
    for i in range(count):
        e = rng.choice(events)
        kind = rng.random()
        if kind < 0.3:
            t = e["ts"]
        elif kind < 0.5:
            t = start + rng.randrange(0, spread_s // 150) * 150_000_000
        else:
            t = start + rng.randrange(0, spread_s * 1_000_000)
        out.append(
            {
                "label_id": i,
                "card_hash": e["card_hash"],
                "country": e["country"],
                "merchant_id": e["merchant_id"] if rng.random() < 0.9 else 99,
                "event_time": t,
            }
        )
    return out


def labels_table(labels: list[dict[str, Any]]) -> pa.Table:
    return pa.table(
        {
            "label_id": pa.array([x["label_id"] for x in labels], pa.int64()),
            "card_hash": pa.array([x["card_hash"] for x in labels]),
            "country": pa.array([x["country"] for x in labels]),
            "merchant_id": pa.array([x["merchant_id"] for x in labels], pa.int64()),
            "event_time": pa.array([x["event_time"] for x in labels], pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    )
