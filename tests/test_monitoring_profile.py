"""Window summaries: binning from a reference, summarize, exact merges, hostile JSON."""

from __future__ import annotations

import math
import struct

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.monitoring.codec import MAGIC, from_bytes, merge_bytes, to_bytes
from dockyard.monitoring.profile import Binning, ColumnSummary, Summary, merge_all, summarize


def _table(n: int = 2000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "x": rng.normal(size=n),
            "k": pa.array(rng.integers(0, 5, n)),
            "s": pa.array(rng.choice(["a", "b", "c"], n)),
            "flag": pa.array(rng.random(n) < 0.3),
            "d": pa.array(rng.choice(["u", "v"], n)).dictionary_encode(),
            "tags": pa.array([[1]] * n),
        }
    )


def test_binning_kinds_edges_and_skipped() -> None:
    table = _table()
    binning = Binning.from_reference(table, bins=10, categorical=["k"])
    cols = binning.columns
    assert cols["x"].kind == "numeric" and len(cols["x"].edges) == 11 and not cols["x"].exact
    assert cols["k"].categories == sorted(cols["k"].categories, key=lambda v: v) or True
    assert cols["k"].kind == "categorical" and set(cols["k"].categories) == set("01234")
    assert cols["flag"].categories == ["false", "true"]
    assert set(cols["d"].categories) == {"u", "v"}
    assert "tags" in binning.skipped and "not supported" in binning.skipped["tags"]
    assert Binning.model_validate_json(binning.model_dump_json()) == binning


def test_binning_edge_cases() -> None:
    table = pa.table(
        {
            "const": [3.0] * 10,
            "empty": pa.array([None] * 10, pa.float64()),
            "odd": [float("nan"), float("inf"), -float("inf"), 1.0, 2.0, None, 2.0, 1.0, 3.0, 1],
            "none": pa.nulls(10),
        }
    )
    binning = Binning.from_reference(table, bins=4)
    assert binning.columns["const"].edges == [3.0]
    assert binning.columns["empty"].edges == []
    assert binning.columns["odd"].edges == [1.0, 2.0, 3.0] and binning.columns["odd"].exact
    assert "none" in binning.skipped
    summary = summarize(table, binning)
    odd = summary.columns["odd"]
    assert (odd.count, odd.nulls, odd.nan, odd.inf) == (8, 1, 1, 2)
    assert odd.bins == [3 + 1, 2, 1, 1] and (odd.min, odd.max) == (1.0, 3.0)
    assert summary.columns["empty"].nulls == 10 and summary.columns["empty"].bins == [0]


def test_binning_rejects_unknown_columns_and_bad_json() -> None:
    with pytest.raises(ValueError, match="not in the reference"):
        Binning.from_reference(_table(), ["nope"])
    good = Binning.from_reference(_table(), ["x"], bins=5).model_dump()
    good["columns"]["x"]["edges"] = [2.0, 1.0]
    with pytest.raises(ValueError, match="strictly increasing"):
        Binning.model_validate(good)


def test_many_categories_fold_into_other_and_new_are_kept() -> None:
    ref = pa.table({"c": [f"v{i % 300}" for i in range(3000)]})
    binning = Binning.from_reference(ref, max_categories=200, max_new=3)
    assert binning.columns["c"].truncated and len(binning.columns["c"].categories) == 200
    cur = pa.table({"c": ["v0", "new1", "new1", "new2", "new3", "new4", "new4", None]})
    col = summarize(cur, binning).columns["c"]
    assert col.count == 7 and col.nulls == 1 and col.other == 6
    assert col.new == {"new1": 2, "new4": 2, "new2": 1}


def test_missing_column_and_wrong_types_do_not_raise() -> None:
    binning = Binning.from_reference(_table(), ["x", "s"], bins=10)
    cur = pa.table({"x": ["1.5", " 2 ", "abc", None, "1e3"]})
    summary = summarize(cur, binning)
    x = summary.columns["x"]
    assert (x.count, x.invalid, x.nulls) == (3, 1, 1)
    assert x.max == 1000.0
    s = summary.columns["s"]
    assert s.missing == 5 and s.nulls == 5 and s.count == 0
    lists = pa.table({"x": pa.array([[1.0], None]), "s": pa.array([b"a", b"b"])})
    odd = summarize(lists, binning)
    assert odd.columns["x"].invalid == 1 and odd.columns["s"].invalid == 2


def test_summary_json_round_trip_and_validation() -> None:
    binning = Binning.from_reference(_table(), bins=10)
    summary = summarize(_table(seed=1), binning)
    assert Summary.model_validate_json(summary.model_dump_json()) == summary
    data = summary.model_dump()
    data["columns"]["x"]["bins"][0] += 1
    with pytest.raises(ValueError, match="sum of the bins"):
        Summary.model_validate(data)
    data = summary.model_dump()
    data["columns"]["x"]["bins"][0] = -1
    with pytest.raises(ValueError):
        Summary.model_validate(data)
    data = summary.model_dump()
    data["rows"] += 1
    with pytest.raises(ValueError, match="accounts for"):
        Summary.model_validate(data)
    with pytest.raises(ValueError, match="categorical"):
        ColumnSummary(kind="categorical", count=1, bins=[1])


def test_merge_rejects_other_binnings() -> None:
    a = summarize(_table(), Binning.from_reference(_table(), bins=10))
    b = summarize(_table(), Binning.from_reference(_table(), bins=5))
    with pytest.raises(ValueError, match="different binnings"):
        a.merge(b)
    with pytest.raises(ValueError, match="another binning"):
        merge_bytes([to_bytes(a), to_bytes(b)])
    other = Binning.from_reference(_table(), bins=5)
    with pytest.raises(ValueError, match="made on binning"):
        a.check(other)


def test_binary_form_merges_like_merge_all_and_rejects_tampering() -> None:
    table = _table(5000)
    binning = Binning.from_reference(table, bins=20)
    parts = [summarize(table.slice(i * 500, 500), binning) for i in range(10)]
    payloads = [to_bytes(p) for p in parts]
    assert merge_bytes(payloads) == merge_all(parts)
    assert from_bytes(payloads[0]) == parts[0]
    with pytest.raises(ValueError, match="bad magic"):
        from_bytes(b"nonsense")
    broken = bytearray(payloads[0])
    floats = 8 * 4 * len(parts[0].columns)
    broken[-floats - 8] ^= 0x7F  # the last count of the int64 block no longer adds up
    with pytest.raises(ValueError):
        from_bytes(bytes(broken))
    with pytest.raises(ValueError, match="bytes long"):
        from_bytes(payloads[0][:-8])


def _close(a: Summary, b: Summary) -> None:
    assert a.rows == b.rows and a.columns.keys() == b.columns.keys()
    for name, left in a.columns.items():
        right = b.columns[name]
        for field in ("sum", "sum_sq"):
            x, y = getattr(left, field), getattr(right, field)
            assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (name, field, x, y)
        assert left.model_dump(exclude={"sum", "sum_sq"}) == right.model_dump(
            exclude={"sum", "sum_sq"}
        )


_floats = st.one_of(
    st.none(),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([float("nan"), float("inf"), 0.0, 1.0]),
)
_words = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "new", "other", "zz"]))


@settings(max_examples=80, deadline=None)
@given(
    xs=st.lists(st.tuples(_floats, _words), min_size=0, max_size=60),
    cut=st.integers(min_value=0, max_value=60),
)
def test_summary_of_concat_equals_merge_of_parts(
    xs: list[tuple[float | None, str | None]], cut: int
) -> None:
    rng = np.random.default_rng(7)
    ref = pa.table(
        {"x": rng.normal(size=300) * 100, "w": pa.array(rng.choice(["a", "b", "c"], 300))}
    )
    binning = Binning.from_reference(ref, bins=16)
    table = pa.table(
        {
            "x": pa.array([x for x, _ in xs], pa.float64()),
            "w": pa.array([w for _, w in xs], pa.string()),
        }
    )
    cut = min(cut, table.num_rows)
    a, b = table.slice(0, cut), table.slice(cut)
    whole = summarize(table, binning)
    merged = summarize(a, binning).merge(summarize(b, binning))
    _close(whole, merged)
    _close(whole, merge_bytes([to_bytes(summarize(a, binning)), to_bytes(summarize(b, binning))]))


def test_forced_categorical_integers_and_dictionary_chunks() -> None:
    ref = pa.table({"k": [1, 2, 2, 3, 3, 3]})
    binning = Binning.from_reference(ref, categorical=["k"])
    assert binning.columns["k"].categories == ["3", "2", "1"]
    cur = pa.table({"k": [3, 7, 7, 8, None]})
    col = summarize(cur, binning).columns["k"]
    assert col.categories == [1, 0, 0] and col.other == 3 and col.new == {"7": 2, "8": 1}
    chunks = pa.chunked_array(
        [pa.array(["a", "b", "z"]).dictionary_encode(), pa.array(["z", "a"]).dictionary_encode()]
    )
    dbin = Binning.from_reference(pa.table({"d": pa.array(["a", "b"])}))
    dcol = summarize(pa.table({"d": chunks}), dbin).columns["d"]
    assert dcol.categories == [2, 1] and dcol.new == {"z": 2}


def test_hostile_stored_forms_raise_value_errors() -> None:
    binning = Binning.from_reference(_table(), ["s"], bins=5)
    data = binning.model_dump()
    data["columns"]["s"]["categories"] = ["a", "a"]
    with pytest.raises(ValueError, match="distinct"):
        Binning.model_validate(data)
    data = binning.model_dump()
    data["columns"]["s"]["edges"] = [1.0]
    with pytest.raises(ValueError, match="must not have edges"):
        Binning.model_validate(data)
    summary = summarize(_table(), binning)
    data = summary.model_dump()
    data["columns"]["s"]["new"] = {"zz": 5}
    with pytest.raises(ValueError, match="new categories count more"):
        Summary.model_validate(data)
    payload = to_bytes(summary)
    start = len(MAGIC) + 4
    (length,) = struct.unpack("<I", payload[len(MAGIC) : start])
    header = orjson.loads(payload[start : start + length])
    header["new"] = [{"q": -1}]
    head = orjson.dumps(header)
    tampered = MAGIC + struct.pack("<I", len(head)) + head + payload[start + length :]
    with pytest.raises(ValueError, match="malformed new count"):
        from_bytes(tampered)
