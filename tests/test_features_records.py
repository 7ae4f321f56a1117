"""The binary online records: every kind of value survives a write and a read exactly, both
writers (one record at a time, many with arrays) give the same bytes for unusual values,
and a store written in another format is refused with what to do."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest

from dockyard.features import Aggregate, Entity, FeatureView, Field
from dockyard.features.codec import decode, encode, entity_key
from dockyard.features.errors import InvalidDefinition
from dockyard.features.online_values import OnlineFeatures
from dockyard.features.partials import Consumer
from dockyard.features.record_format import decode_front, decode_state
from dockyard.features.record_format import encode as encode_record
from dockyard.features.stores import SQLiteOnlineStore

NOW = 1_800_000_000_000_000
MINUTE = 60_000_000

ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,  # past int64: kept as an object
    -(2**70),
    0.0,
    -0.0,
    1.5,
    float("inf"),
    float("-inf"),
    float("nan"),
    5e-324,
    "",
    'café\n"quoted" \\ \u2028',
]


def _view(kind: str = "float") -> FeatureView:
    return FeatureView(
        "odd",
        entities=[Entity("thing", keys=["thing"])],
        source="events",
        timestamp="ts",
        features=[
            Field("value", name="latest"),
            Aggregate("value", "last", window="1h"),
            Aggregate("value", "max", window="1h"),
            Aggregate("value", "min"),
            Aggregate("value", "count", window="1h"),
            Aggregate("value", "distinct_count"),
        ]
        + (
            [Aggregate("value", "sum", window="1h"), Aggregate("value", "std")]
            if kind != "string"
            else []
        ),
        ttl="1d",
        lateness="30m",
    )


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_every_value_survives_a_record_exactly() -> None:
    view = _view()
    consumers = [Consumer(view, f) for f in view.features if isinstance(f, Field | Aggregate)]
    record: dict[str, dict[str, object]] = {}
    for i, consumer in enumerate(consumers):
        pending = [[NOW - j, j, None if j % 2 else NOW, v] for j, v in enumerate(ODD_VALUES)]
        if consumer.window is not None:
            settled: object = [[NOW - 3600_000_000, [2, 3.5]], [NOW - 1800_000_000, [1, -0.0]]]
            if consumer.fn in ("max", "last"):
                settled = [
                    [NOW - 60, v if consumer.fn == "max" else [NOW, 7, v]] for v in ODD_VALUES
                ]
        elif consumer.fn == "distinct_count":
            settled = list(ODD_VALUES)
        elif consumer.fn == "std":
            settled = [3, 1.25, 0.5]
        else:
            settled = (
                [NOW, i, ODD_VALUES[i % len(ODD_VALUES)]]
                if consumer.fn == "last"
                else ODD_VALUES[i]
            )
        record[consumer.name] = {"s": settled, "p": pending}
    front = ODD_VALUES[: len(consumers)]
    data = encode_record(NOW, NOW + 5, 42, front, consumers, record)
    begins, until, seq, values = decode_front(data)
    assert (begins, until, seq) == (NOW, NOW + 5, 42)
    assert _same(values, front)
    assert _same(decode_state(data, consumers), record)


@pytest.mark.parametrize("kind", ["float", "int", "string", "bool"])
def test_both_writers_give_the_same_bytes_for_odd_values(tmp_path: Path, kind: str) -> None:
    """Nulls, NaN, -0.0, huge and tiny numbers, strings that need escaping; a column whose
    type changes between files (stored ints, then floats); the array writer must tag and
    order every slot as the one-at-a-time writer does."""
    view = _view(kind)
    values = {
        "float": [None, 0.0, -0.0, 1.5, float("inf"), float("nan"), 5e-324, -2.5],
        "int": [None, 0, -1, 2**40, -(2**40), 7, 7, 3],
        "string": [None, "", "a", 'café\n"q"', "a", "\u2028", "z", "b"],
        "bool": [None, True, False, True, True, False, None, False],
    }[kind]
    kinds = {"float": pa.float64(), "int": pa.int64(), "string": pa.string(), "bool": pa.bool_()}

    def events(first: int, count: int, shift: int, as_type: pa.DataType) -> pa.Table:
        rows = range(first, first + count)
        return pa.table(
            {
                "thing": pa.array([f"t{i % 5}" for i in rows]),
                "ts": pa.array([NOW + shift + i * MINUTE // 3 for i in rows]).cast(
                    pa.timestamp("us", tz="UTC")
                ),
                "value": pa.array([values[i % len(values)] for i in rows], kinds[kind]).cast(
                    as_type
                ),
            }
        )

    later_type = pa.float64() if kind == "int" else kinds[kind]  # ints, then floats
    bulk_store = SQLiteOnlineStore(tmp_path / "bulk.db")
    one_store = SQLiteOnlineStore(tmp_path / "one.db")
    bulk = OnlineFeatures(bulk_store, [view], bulk_rows=1, clock=lambda: NOW + 400 * MINUTE)
    one = OnlineFeatures(one_store, [view], bulk_rows=10**9, clock=lambda: NOW + 400 * MINUTE)
    for online in (bulk, one):
        online.apply_part("odd", "first", events(0, 200, 0, kinds[kind]))
        online.apply_part("odd", "second", events(200, 200, 0, later_type))
    keys = [entity_key([f"t{i}"]) for i in range(5)]
    state_bulk, records_bulk = bulk_store.read("odd", keys)
    state_one, records_one = one_store.read("odd", keys)
    assert state_bulk == state_one
    for a, b in zip(records_bulk, records_one, strict=True):
        assert a is not None and a == b
    at = NOW + 401 * MINUTE
    got = bulk.get({"thing": ["t0", "t3"]}, ["odd:*"], at=at)
    expected = one.get({"thing": ["t0", "t3"]}, ["odd:*"], at=at)
    assert got.keys() == expected.keys()
    assert all(_same(got[k], v) for k, v in expected.items())


def _one(at: int, value: float) -> pa.Table:
    return pa.table(
        {
            "thing": ["a"],
            "ts": pa.array([at]).cast(pa.timestamp("us", tz="UTC")),
            "value": [value],
        }
    )


def test_a_store_of_another_format_is_refused_with_what_to_do(tmp_path: Path) -> None:
    view = _view()
    store = SQLiteOnlineStore(tmp_path / "old.db")
    online = OnlineFeatures(store, [view], clock=lambda: NOW)
    online.push("odd", _one(NOW - MINUTE, 1.0))
    raw = decode(store.read_state("odd"))
    del raw["format"]  # as the JSON records' version wrote it
    store.write("odd", {entity_key(["a"]): b'[1,2,{},3]\n{"latest":{}}'}, encode(raw))
    fresh = OnlineFeatures(store, [view], clock=lambda: NOW)
    for call in (
        lambda: fresh.get({"thing": ["a"]}, ["odd:latest"], at=NOW),
        lambda: fresh.push("odd", _one(NOW, 2.0)),
    ):
        with pytest.raises(InvalidDefinition, match="materialize --reset"):
            call()
    fresh.reset("odd")
    fresh.push("odd", _one(NOW, 2.0))
    assert fresh.get({"thing": ["a"]}, ["odd:latest"], at=NOW + 1)["latest"] == [2.0]
