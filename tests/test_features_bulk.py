"""Bulk materialization (array operations, a chunk of entities at a time) writes the very
same bytes as adding the events one by one, on both stores: the first materialization,
later source files merged into records that already have state (pending events, buckets),
pushes in between, and a file applied twice."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dockyard.features import FeatureView
from dockyard.features import online_values as online_module
from dockyard.features.codec import entity_key
from dockyard.features.online_values import OnlineFeatures
from dockyard.features.stores import OnlineStore, SQLiteOnlineStore
from features_stores import redis_store
from features_support import fraud_views, same, to_table, transactions

NOW = 1_800_000_000_000_000


@pytest.fixture(params=["sqlite", "redis"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[OnlineStore]]:
    if request.param == "sqlite":
        pair = [SQLiteOnlineStore(tmp_path / "bulk.db"), SQLiteOnlineStore(tmp_path / "one.db")]
        yield list(pair)
        for s in pair:
            s.close()
    else:
        first = redis_store()
        second = redis_store()
        yield [next(first), next(second)]
        for gen in (first, second):
            gen.close()


def _keys(view: FeatureView, events: list[dict[str, Any]]) -> list[str]:
    keys = {tuple(e[k] for k in view.keys) for e in events}
    return sorted(entity_key(list(k)) for k in keys if None not in k)


def _same_bytes(
    bulk: OnlineStore, one: OnlineStore, views: list[FeatureView], events: list[dict[str, Any]]
) -> int:
    compared = 0
    for view in views:
        keys = _keys(view, events)
        state_bulk, records_bulk = bulk.read(view.name, keys)
        state_one, records_one = one.read(view.name, keys)
        assert state_bulk == state_one
        for key, a, b in zip(keys, records_bulk, records_one, strict=True):
            assert a == b, (view.name, key, a, b)
            compared += a is not None
    return compared


def _parts(events: list[dict[str, Any]], cuts: list[int], seed: int) -> list[pa.Table]:
    """The events by time, cut into files; rows shuffled inside each file (ties then
    follow the file's order)."""
    rng = random.Random(seed)
    ordered = sorted(events, key=lambda e: e["ts"])
    out = []
    for lo, hi in zip([0, *cuts], [*cuts, len(ordered)], strict=True):
        rows = ordered[lo:hi]
        rng.shuffle(rows)
        out.append(to_table(rows))
    return out


def test_bulk_and_event_by_event_write_the_same_bytes(
    stores: list[OnlineStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(online_module, "_CHUNK_ROWS", 700)  # many chunks of entities
    monkeypatch.setattr(online_module, "_CHUNK_ENTITIES", 37)
    bulk_store, one_store = stores
    views = fraud_views(lateness="10m", bucket=None)
    events = transactions(31, rows=6000, cards=120, span_s=8 * 3600, step_s=10)
    parts = _parts(events, [2500, 2600, 5000], seed=32)
    latest = sorted(events, key=lambda e: e["ts"])[2580:2600]  # the end of the second file
    pushed = to_table([dict(e, ts=e["ts"] + 1) for e in latest])
    bulk = OnlineFeatures(bulk_store, views, bulk_rows=50, clock=lambda: NOW)
    one = OnlineFeatures(one_store, views, bulk_rows=10**9, clock=lambda: NOW)
    for online in (bulk, one):
        for view in views:
            for number, part in enumerate(parts):
                assert online.apply_part(view.name, f"part{number}", part) == part.num_rows
                if number == 1:  # a small push: event by event on both
                    online.push(view.name, pushed)
            assert online.apply_part(view.name, "part0", parts[0]) == 0  # applied already
    assert _same_bytes(bulk_store, one_store, views, events) == 120 + 16  # cards, merchants
    # and the lookups agree (they read the same bytes, so this checks the keys too)
    newest = max(e["ts"] for e in events)
    cards = sorted({e["card_hash"] for e in events})
    for at in (newest, newest + 1_800_000_000, newest + 7_200_000_000):
        got_bulk = bulk.get({"card_hash": cards}, ["card_activity:*"], at=at)
        got_one = one.get({"card_hash": cards}, ["card_activity:*"], at=at)
        for name, values in got_one.items():
            assert all(same(a, b) for a, b in zip(got_bulk[name], values, strict=True))


def test_bulk_materialize_grows_like_event_by_event(stores: list[OnlineStore]) -> None:
    bulk_store, one_store = stores
    views = fraud_views(lateness="30m", bucket="5m")
    events = sorted(
        transactions(41, rows=3000, cards=60, span_s=4 * 3600, step_s=5), key=lambda e: e["ts"]
    )
    bulk = OnlineFeatures(bulk_store, views, bulk_rows=1, clock=lambda: NOW)
    one = OnlineFeatures(one_store, views, bulk_rows=10**9, clock=lambda: NOW)
    for online in (bulk, one):
        for view in views:
            assert online.materialize(view.name, to_table(events[:1800])) == 1800
            assert online.materialize(view.name, to_table(events[:1800])) == 0
            assert online.materialize(view.name, to_table(events)) > 0
    assert _same_bytes(bulk_store, one_store, views, events) > 60


def test_an_update_that_fails_midway_writes_nothing(stores: list[OnlineStore]) -> None:
    store = stores[0]
    store.write("v", {"a": b"old"}, b"state-0")

    def change(number: int, old: list[bytes | None]) -> dict[str, bytes]:
        if number == 1:
            raise RuntimeError("interrupted")
        assert old == [b"old", None]
        return {"a": b"new", "b": b"new"}

    with pytest.raises(RuntimeError, match="interrupted"):
        store.update("v", [["a", "b"], ["c"]], change, b"state-1")
    assert store.read("v", ["a", "b", "c"]) == (b"state-0", [b"old", None, None])
    store.update("v", [["a", "b"]], change, b"state-1")
    assert store.read("v", ["a", "b", "c"]) == (b"state-1", [b"new", b"new", None])


def test_a_large_push_writes_what_event_by_event_writes(stores: list[OnlineStore]) -> None:
    """A push of many events goes through the array path in arrival order (the table's,
    not time order: late events within the lateness, ties), over stored states."""
    bulk_store, one_store = stores
    views = fraud_views(lateness="2h", bucket="5m")
    events = transactions(51, rows=3000, cards=50, span_s=3 * 3600, step_s=5)
    ordered = sorted(events, key=lambda e: e["ts"])
    first, later = ordered[:1500], ordered[1500:]
    rng = random.Random(52)
    rng.shuffle(later)  # arrival order differs from time order, within the lateness
    bulk = OnlineFeatures(bulk_store, views, bulk_rows=20, clock=lambda: NOW)
    one = OnlineFeatures(one_store, views, bulk_rows=10**9, clock=lambda: NOW)
    for online in (bulk, one):
        for view in views:
            online.materialize(view.name, to_table(first))
            for at in range(0, len(later), 700):
                online.push(view.name, to_table(later[at : at + 700]))
            online.push(view.name, to_table(later[:5]))  # small: event by event on both
    assert _same_bytes(bulk_store, one_store, views, events) > 50


def test_columns_without_nulls_share_a_layout_but_keep_their_values(tmp_path: Path) -> None:
    """Features over different columns without nulls share the layout of their events in a
    first materialization; each must still fold its own column's values."""
    import numpy as np

    from dockyard.features import Aggregate, Entity, Field

    rng = np.random.default_rng(7)
    count = 4000
    columns = ("a", "b", "c")
    table = pa.table(
        {
            "card": pa.array(rng.integers(0, 60, count)),
            "ts": pa.array(NOW - rng.integers(1, 3 * 3600 * 10**6, count)).cast(
                pa.timestamp("us", tz="UTC")
            ),
            **{c: pa.array(np.round(rng.lognormal(2, 1, count), 2)) for c in columns},
        }
    )
    features: list[Any] = []
    for c in columns:
        features += [
            Field(c, name=f"{c}_latest"),
            Aggregate(c, "sum", window="1h"),
            Aggregate(c, "mean", window="1h"),
            Aggregate(c, "max", window="2h"),
            Aggregate(c, "std", window="2h"),
            Aggregate(c, "last", window="1h"),
        ]
    view = FeatureView(
        "wide",
        entities=[Entity("card", keys=["card"])],
        source="s",
        timestamp="ts",
        features=features,
        lateness="10m",
    )
    bulk_store = SQLiteOnlineStore(tmp_path / "bulk.db")
    one_store = SQLiteOnlineStore(tmp_path / "one.db")
    bulk = OnlineFeatures(bulk_store, [view], bulk_rows=1, clock=lambda: NOW)
    one = OnlineFeatures(one_store, [view], bulk_rows=10**9, clock=lambda: NOW)
    for online in (bulk, one):
        online.materialize("wide", table)
    keys = [entity_key([k]) for k in range(60)]
    assert bulk_store.read("wide", keys) == one_store.read("wide", keys)
    got = bulk.get({"card": [1, 2]}, ["wide:*"], at=NOW)
    assert got["a_sum_1h"] != got["b_sum_1h"]
