"""Online values: materialize, push, get on both stores; TTL, leakage, lateness, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dockyard.core.errors import InvalidInput, NotFound
from dockyard.features import Aggregate, Entity, FeatureView, Field, OnDemand
from dockyard.features.errors import InvalidTable, LateEvent, OutOfHorizon, UnknownFeature
from dockyard.features.offline import training_set
from dockyard.features.online_values import OnlineFeatures
from dockyard.features.stores import OnlineStore, SQLiteOnlineStore
from features_stores import redis_store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CARD = Entity("card", keys=["card_hash"])


def _zscore(amount: float, mean: float | None, count: int) -> float | None:
    return None if mean is None or count == 0 else amount - mean


VIEW = FeatureView(
    "card_activity",
    entities=[CARD],
    source="transactions",
    timestamp="ts",
    features=[
        Field("amount", name="last_amount"),
        Aggregate("amount", "sum", window="1h"),
        Aggregate("amount", "count", window="1h"),
        Aggregate("amount", "mean"),
        Aggregate("is_fraud", "sum", window="24h", available_at="label_at"),
        OnDemand(
            "amount_vs_mean",
            _zscore,
            inputs=["amount", "card_activity:amount_mean_all", "card_activity:amount_count_1h"],
        ),
    ],
    ttl="2h",
    lateness="10m",
)


def events(*rows: tuple[str, timedelta, float | None, bool, timedelta | None]) -> pa.Table:
    return pa.table(
        {
            "card_hash": [r[0] for r in rows],
            "ts": pa.array([T0 + r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "amount": pa.array([r[2] for r in rows], pa.float64()),
            "is_fraud": [r[3] for r in rows],
            "label_at": pa.array(
                [None if r[4] is None else T0 + r[4] for r in rows], pa.timestamp("us", tz="UTC")
            ),
        }
    )


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    if request.param == "sqlite":
        sqlite = SQLiteOnlineStore(tmp_path / "online.db")
        yield sqlite
        sqlite.close()
    else:
        yield from redis_store()


def micros(at: datetime) -> int:
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def value(online: OnlineFeatures, feature: str, at: datetime | None, card: str = "c1") -> Any:
    return online.get({"card_hash": [card]}, [f"card_activity:{feature}"], at=at)[feature][0]


def test_push_then_get_exact_semantics(store: OnlineStore) -> None:
    online = OnlineFeatures(store, [VIEW])
    m = timedelta(minutes=1)
    online.push(
        "card_activity",
        events(
            ("c1", 0 * m, 10.0, True, 90 * m),
            ("c1", 5 * m, 20.0, False, 6 * m),
            ("c1", 5 * m, 30.0, False, None),  # same time, arrived later: the latest
            ("c2", 7 * m, 99.0, True, 8 * m),
        ),
    )
    # an event exactly at t is not known at t
    assert value(online, "last_amount", T0 + 5 * m) == 10.0
    assert value(online, "amount_count_1h", T0 + 5 * m) == 1
    assert value(online, "last_amount", T0 + 5 * m + timedelta(microseconds=1)) == 30.0
    assert value(online, "amount_sum_1h", T0 + 6 * m) == 60.0
    # the fraud label of the first purchase is known only after 90 minutes
    assert value(online, "is_fraud_sum_24h", T0 + 89 * m) == 0.0
    assert value(online, "is_fraud_sum_24h", T0 + 90 * m) == 0.0
    assert value(online, "is_fraud_sum_24h", T0 + 91 * m) == 1.0
    assert value(online, "is_fraud_sum_24h", T0 + 91 * m, card="c2") == 1.0
    # TTL: the last amount is never served once older than 2 h; unknown cards get nulls
    assert value(online, "last_amount", T0 + 125 * m) == 30.0
    assert value(online, "last_amount", T0 + 126 * m) is None
    assert value(online, "amount_count_1h", T0 + 6 * m, card="nobody") == 0
    assert value(online, "amount_sum_1h", T0 + 6 * m, card="nobody") is None
    got = online.get(
        {"card_hash": ["c1", "c2"]},
        ["card_activity:amount_vs_mean"],
        at=T0 + 10 * m,
        request={"amount": [100.0, 100.0]},
    )
    assert got == {"card_hash": ["c1", "c2"], "amount_vs_mean": [80.0, 1.0]}


def test_cached_values_expire_and_follow_writes(store: OnlineStore) -> None:
    online = OnlineFeatures(store, [VIEW])
    m = timedelta(minutes=1)
    online.push("card_activity", events(("c1", 0 * m, 10.0, False, None)))
    assert value(online, "amount_sum_1h", T0 + 30 * m) == 10.0
    assert value(online, "amount_sum_1h", T0 + 31 * m) == 10.0  # cached
    # the window passes the event by: the cached vector is not used past its valid-until
    assert value(online, "amount_sum_1h", T0 + 65 * m) is None
    # a second engine on the same store (another process) writes: the first one sees it
    other = OnlineFeatures(store, [VIEW])
    other.push("card_activity", events(("c1", 40 * m, 5.0, False, None)))
    assert value(online, "amount_sum_1h", T0 + 41 * m) == 15.0


def test_a_reader_sees_each_write_of_another_engine(store: OnlineStore) -> None:
    """A reader remembers the stored lines it decoded, the view's horizon and entity keys:
    none of it hides a write of another engine (another process), and keys of other types
    stay other entities."""
    m = timedelta(minutes=1)
    reader, writer = OnlineFeatures(store, [VIEW]), OnlineFeatures(store, [VIEW])
    writer.push("card_activity", events(("c1", 0 * m, 10.0, False, None)))
    assert value(reader, "amount_sum_1h", T0 + 30 * m) == 10.0
    assert value(reader, "amount_sum_1h", T0 + 30 * m) == 10.0  # the same line, read again
    writer.push("card_activity", events(("c1", 20 * m, 5.0, False, None)))
    assert value(reader, "amount_sum_1h", T0 + 30 * m) == 15.0
    writer.push("card_activity", events(("1", 300 * m, 1.0, False, None)))
    with pytest.raises(OutOfHorizon):  # the newest event moved the horizon to 290 minutes
        value(reader, "amount_sum_1h", T0 + 30 * m)
    at = T0 + 301 * m
    for _ in range(2):  # the second time from the remembered keys
        got = reader.get({"card_hash": ["1", 1, True, 1.0]}, ["card_activity:amount_sum_1h"], at=at)
        assert got["amount_sum_1h"] == [1.0, None, None, None]


def test_values_after_a_bucket_boundary_are_computed_ahead_and_stay_exact(
    store: OnlineStore,
) -> None:
    """Shortly before a bucket boundary a lookup also computes the values after it, from
    the same record; they serve after the boundary, and a write makes them unused."""
    m = timedelta(minutes=1)
    writer, reader = OnlineFeatures(store, [VIEW]), OnlineFeatures(store, [VIEW])
    writer.push("card_activity", events(("c1", 0 * m, 10.0, False, None)))
    writer.push("card_activity", events(("c1", 3 * m, 5.0, False, None)))
    boundary = T0 + 62 * m + timedelta(seconds=30)  # 1-hour windows: 2.5-minute buckets
    just_before = boundary - timedelta(microseconds=1)
    assert value(reader, "amount_sum_1h", boundary - timedelta(seconds=10)) == 15.0
    assert not reader._ahead  # not yet within the lead
    assert value(reader, "amount_sum_1h", just_before) == 15.0
    assert [a[1] for a in reader._ahead.values()] == [micros(boundary)]
    assert value(reader, "amount_sum_1h", boundary) == 5.0  # the first event left the window
    assert value(OnlineFeatures(store, [VIEW]), "amount_sum_1h", boundary) == 5.0
    assert value(reader, "amount_sum_1h", just_before) == 15.0  # back in time: recomputed
    writer.push("card_activity", events(("c1", 61 * m, 1.0, False, None)))
    assert value(reader, "amount_sum_1h", boundary) == 6.0
    assert value(reader, "amount_sum_1h", just_before) == 16.0


def test_late_events_are_refused_and_nothing_is_written(store: OnlineStore) -> None:
    online = OnlineFeatures(store, [VIEW])
    m = timedelta(minutes=1)
    online.push("card_activity", events(("c1", 60 * m, 1.0, False, None)))
    online.push("card_activity", events(("c1", 51 * m, 2.0, False, None)))  # within 10m
    with pytest.raises(LateEvent, match="older than its lateness") as caught:
        online.push(
            "card_activity",
            events(("c1", 62 * m, 4.0, False, None), ("c1", 49 * m, 3.0, False, None)),
        )
    assert caught.value.http_status == 422
    # times people read, in ISO 8601 UTC; the numbers stay in the details
    assert "accepted time is 2026-03-01T12:50:00Z" in caught.value.message
    assert "oldest given 2026-03-01T12:49:00Z" in caught.value.message
    state = online.state("card_activity")
    assert state is not None and state.watermark is not None
    assert caught.value.details["oldest_us"] == state.watermark - 11 * 60_000_000
    assert value(online, "amount_sum_1h", T0 + 63 * m) == 3.0
    with pytest.raises(OutOfHorizon, match="build a training set") as refused:
        value(online, "amount_sum_1h", T0 + 40 * m)
    assert "start at 2026-03-01T12:50:00Z" in refused.value.message
    assert "2026-03-01T12:40:00Z is older" in refused.value.message
    assert " us" not in refused.value.message


def test_materialize_is_incremental_and_idempotent(store: OnlineStore) -> None:
    online = OnlineFeatures(store, [VIEW])
    m = timedelta(minutes=1)
    source = events(("c1", 3 * m, 1.0, False, None), ("c1", 1 * m, 2.0, False, None))
    assert online.materialize("card_activity", source) == 2
    assert online.materialize("card_activity", source) == 0
    grown = pa.concat_tables([source, events(("c1", 4 * m, 4.0, False, None))])
    assert online.materialize("card_activity", grown) == 1
    assert value(online, "amount_sum_1h", T0 + 5 * m) == 7.0
    assert value(online, "last_amount", T0 + 5 * m) == 4.0


def test_online_equals_offline_including_on_demand(store: OnlineStore) -> None:
    online = OnlineFeatures(store, [VIEW])
    m = timedelta(minutes=1)
    source = events(
        ("c1", 0 * m, 10.0, True, 30 * m),
        ("c1", 20 * m, None, False, 21 * m),
        ("c1", 40 * m, 7.5, True, 200 * m),
        ("c2", 40 * m, 1.0, False, 41 * m),
    )
    online.materialize("card_activity", source)
    times = [T0 + 30 * m + k * 9 * m for k in range(30)]  # from the horizon on
    labels = pa.table(
        {
            "card_hash": ["c1", "c2"] * len(times),
            "amount": [50.0] * 2 * len(times),
            "when": pa.array([t for t in times for _ in "ab"], pa.timestamp("us", tz="UTC")),
        }
    )
    offline = training_set(labels, [VIEW], {"transactions": source}, ["card_activity:*"])
    for row in range(labels.num_rows):
        card, at = labels.column("card_hash")[row].as_py(), labels.column("when")[row].as_py()
        got = online.get(
            {"card_hash": [card]}, ["card_activity:*"], at=at, request={"amount": [50.0]}
        )
        for feature in VIEW.features:
            assert got[feature.name][0] == offline.column(feature.name)[row].as_py(), (
                feature.name,
                row,
            )


def test_bad_lookups_and_pushes_say_what_to_fix(tmp_path: Path) -> None:
    online = OnlineFeatures(SQLiteOnlineStore(tmp_path / "o.db"), [VIEW])
    with pytest.raises(UnknownFeature, match=r"has no feature 'nope'.*it has: last_amount") as e:
        online.get({"card_hash": ["c1"]}, ["card_activity:nope"])
    assert isinstance(e.value, NotFound)
    with pytest.raises(UnknownFeature, match="unknown feature view 'cards'"):
        online.get({"card_hash": ["c1"]}, ["cards:*"])
    with pytest.raises(UnknownFeature, match="write 'view:feature'"):
        online.get({"card_hash": ["c1"]}, ["amount_sum_1h"])
    with pytest.raises(InvalidTable, match="lacks the key column"):
        online.get({"card": ["c1"]}, ["card_activity:amount_sum_1h"])
    with pytest.raises(InvalidTable, match="request value"):
        online.get({"card_hash": ["c1"]}, ["card_activity:amount_vs_mean"])
    with pytest.raises(InvalidTable, match=r"give one per row \(1\)"):
        online.get(
            {"card_hash": ["c1"]},
            ["card_activity:amount_vs_mean"],
            request={"amount": [1.0, 2.0]},
        )
    with pytest.raises(InvalidTable, match="same number of values"):
        online.get({"card_hash": ["c1"], "other": []}, ["card_activity:amount_sum_1h"])
    wrong = events(("c1", timedelta(0), 1.0, False, None)).drop_columns(["amount"])
    with pytest.raises(InvalidTable, match=r"lacks the column\(s\) \['amount'\]"):
        online.push("card_activity", wrong)
    as_text = events(("c1", timedelta(0), 1.0, False, None)).set_column(
        1, "ts", pa.array(["2026-03-01"])
    )
    with pytest.raises(InvalidTable, match="must hold timestamps"):
        online.push("card_activity", as_text)
    with pytest.raises(UnknownFeature, match="unknown feature view"):
        online.push("nope", wrong)


def test_bad_training_set_inputs_say_what_to_fix() -> None:
    source = events(("c1", timedelta(0), 1.0, False, None))
    labels = pa.table({"card_hash": ["c1"], "when": pa.array([T0], pa.timestamp("us"))})
    ok = training_set(labels, [VIEW], {"transactions": source}, ["card_activity:amount_sum_1h"])
    assert ok.column("amount_sum_1h").to_pylist() == [None]
    with pytest.raises(InvalidTable, match="has no event-time column"):
        training_set(
            labels.drop_columns(["when"]), [VIEW], {"transactions": source}, ["card_activity:*"]
        )
    with pytest.raises(InvalidTable, match=r"labels table lacks the column\(s\) \['card_hash'\]"):
        training_set(
            labels.drop_columns(["card_hash"]),
            [VIEW],
            {"transactions": source},
            ["card_activity:last_amount"],
        )
    with pytest.raises(InvalidTable, match="no events given for the source 'transactions'"):
        training_set(labels, [VIEW], {}, ["card_activity:last_amount"])
    with pytest.raises(InvalidTable, match="request values"):
        training_set(labels, [VIEW], {"transactions": source}, ["card_activity:amount_vs_mean"])
    with pytest.raises(InvalidInput, match="is string in the labels but int64 in the source"):
        training_set(
            labels,
            [VIEW],
            {"transactions": source.set_column(0, "card_hash", pa.array([1]))},
            ["card_activity:last_amount"],
        )
    with pytest.raises(UnknownFeature):
        training_set(labels, [VIEW], {"transactions": source}, ["card_activity:nope"])
    with pytest.raises(InvalidTable, match=r"already has the column\(s\) \['last_amount'\]"):
        training_set(
            labels.append_column("last_amount", pa.array([1.0])),
            [VIEW],
            {"transactions": source},
            ["card_activity:last_amount"],
        )
    both = training_set(
        labels.append_column("last_amount", pa.array([1.0])),
        [VIEW],
        {"transactions": source},
        ["card_activity:last_amount"],
        full_names=True,
    )
    assert both.column("card_activity__last_amount").to_pylist() == [None]


def test_values_stored_with_a_write_serve_the_present_and_expire(store: OnlineStore) -> None:
    now = datetime.now(UTC)
    online = OnlineFeatures(store, [VIEW])
    table = events(("c1", timedelta(0), 4.0, False, None))
    shifted = table.set_column(
        1, "ts", pa.array([now - timedelta(minutes=30)], pa.timestamp("us", tz="UTC"))
    )
    online.push("card_activity", shifted)
    reader = OnlineFeatures(store, [VIEW])  # no in-process cache: reads what the push stored
    assert value(reader, "amount_sum_1h", None) == 4.0
    assert value(reader, "last_amount", None) == 4.0
    # past the window and the TTL the stored vector is not served: values are recomputed
    later = now + timedelta(hours=3)
    assert value(OnlineFeatures(store, [VIEW]), "amount_sum_1h", later) is None
    assert value(OnlineFeatures(store, [VIEW]), "last_amount", later) is None
    assert value(OnlineFeatures(store, [VIEW]), "amount_mean_all", later) == 4.0
