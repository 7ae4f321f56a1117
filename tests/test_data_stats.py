"""compute_stats over Parquet files, checked against numpy and pandas."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dockyard.core.errors import InvalidInput
from dockyard.data.duck import sandbox
from dockyard.data.schemas import Column, ColumnStats
from dockyard.data.stats import QUANTILE_KEYS, QUANTILES, compute_stats, json_safe

N = 20_000


def write(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def columns_of(table: pa.Table) -> list[Column]:
    return [Column(name=f.name, type=str(f.type)) for f in table.schema]


def stats_of(tmp_path: Path, table: pa.Table, name: str = "v.parquet") -> dict[str, ColumnStats]:
    path = write(tmp_path / name, table)
    with sandbox([path], temp_dir=tmp_path / "tmp") as con:
        return {s.name: s for s in compute_stats(con, columns_of(table))}


def strict_json(stats: ColumnStats) -> None:
    """The stats serialize to JSON without NaN or infinities."""

    def refuse(token: str) -> None:
        raise AssertionError(f"non-finite {token} in JSON")

    json.loads(stats.model_dump_json(), parse_constant=refuse)


def check_quantiles(stats: ColumnStats, values: np.ndarray) -> None:
    """Each approximate quantile sits within 1 percentile point of its rank."""
    assert list(stats.quantiles) == list(QUANTILE_KEYS)
    ordered = np.sort(values)
    for key, p in zip(QUANTILE_KEYS, QUANTILES, strict=True):
        q = stats.quantiles[key]
        low = np.searchsorted(ordered, q, side="left") / len(ordered)
        high = np.searchsorted(ordered, q, side="right") / len(ordered)
        assert low - 0.01 <= p <= high + 0.01, (key, q, low, high)


def check_histogram(stats: ColumnStats, values: np.ndarray) -> None:
    counts, edges = np.histogram(values, bins=20)
    assert stats.histogram is not None
    assert stats.histogram.edges == pytest.approx(edges.tolist(), rel=1e-12, abs=1e-12)
    assert stats.histogram.counts == counts.tolist()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[str, ColumnStats]]:
    rng = np.random.default_rng(7)
    ints = rng.integers(-1000, 1000, N)
    floats = rng.normal(50.0, 12.5, N)
    # 30 categories with distinct frequencies, so the top 10 are unambiguous
    weights = np.arange(30, 0, -1, dtype=float)
    cats = rng.choice([f"c{i:02d}" for i in range(30)], size=N, p=weights / weights.sum())
    null = rng.random(N) < 0.1
    day0 = dt.date(2024, 1, 1)
    days = [day0 + dt.timedelta(days=int(d)) for d in rng.integers(0, 20, N)]
    moments = [
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=int(s))
        for s in rng.integers(0, 10**7, N)
    ]
    frame = pd.DataFrame(
        {
            "ints": pd.Series(ints, dtype="Int64").where(~null),
            "floats": np.where(null, np.nan, floats),
            "cats": pd.Series(cats).where(~null),
            "flags": pd.Series(rng.random(N) < 0.3, dtype="boolean").where(~null),
            "days": pd.Series(days).where(~null),
        }
    )
    table = pa.table(
        {
            "ints": pa.array(frame["ints"], pa.int64()),
            "floats": pa.array(frame["floats"], pa.float64(), from_pandas=True),
            "cats": pa.array(frame["cats"], pa.string(), from_pandas=True),
            "flags": pa.array(frame["flags"], pa.bool_()),
            "days": pa.array(frame["days"], pa.date32(), from_pandas=True),
            "moments": pa.array(moments, pa.timestamp("us", tz="UTC")),
            "naive": pa.array([m.replace(tzinfo=None) for m in moments], pa.timestamp("ns")),
            "money": pa.array([decimal.Decimal(int(i)) / 100 for i in ints], pa.decimal128(12, 2)),
            "small": pa.array(rng.random(N).astype(np.float32), pa.float32()),
            "tags": pa.array([[int(i)] if i % 3 else None for i in ints], pa.list_(pa.int64())),
            "raw": pa.array([b"\x00\xff" if i % 2 else None for i in ints], pa.binary()),
            "pair": pa.array([{"a": int(i), "b": "x"} for i in ints]),
        }
    )
    frame["moments"] = moments
    frame["raw_ints"] = ints
    frame["money"] = ints / 100
    frame["small"] = table.column("small").to_numpy()
    root = tmp_path_factory.mktemp("mixed")
    return frame, stats_of(root, table)


def test_counts_nulls_and_distinct(mixed: tuple[pd.DataFrame, dict[str, ColumnStats]]) -> None:
    frame, stats = mixed
    for name in ("ints", "floats", "cats", "flags", "days"):
        s = stats[name]
        assert s.count == frame[name].notna().sum(), name
        assert s.nulls == frame[name].isna().sum(), name
        exact = frame[name].nunique()
        assert s.distinct is not None
        assert abs(s.distinct - exact) <= max(2, 0.05 * exact), (name, s.distinct, exact)
    assert stats["moments"].nulls == 0
    assert stats["moments"].count == N


def test_numeric_columns(mixed: tuple[pd.DataFrame, dict[str, ColumnStats]]) -> None:
    frame, stats = mixed
    for name in ("ints", "floats", "money", "small"):
        values = frame[name].dropna().to_numpy(dtype=float)
        s = stats[name]
        assert s.min == pytest.approx(values.min(), rel=1e-12)
        assert s.max == pytest.approx(values.max(), rel=1e-12)
        assert s.mean == pytest.approx(values.mean(), rel=1e-9)
        assert s.std == pytest.approx(values.std(ddof=1), rel=1e-9)
        check_quantiles(s, values)
        check_histogram(s, values)
        assert s.nans == 0
        assert s.infinities == 0
        strict_json(s)
    assert isinstance(stats["ints"].min, int)
    assert stats["ints"].type == "int64"
    assert stats["money"].type == "decimal128(12, 2)"


def test_top_values_exact(mixed: tuple[pd.DataFrame, dict[str, ColumnStats]]) -> None:
    frame, stats = mixed
    expected = frame["cats"].value_counts().head(10)
    top = stats["cats"].top
    assert [t.value for t in top] == expected.index.tolist()
    assert [t.count for t in top] == expected.tolist()

    flags = frame["flags"].value_counts()
    assert {t.value: t.count for t in stats["flags"].top} == {
        bool(k): int(v) for k, v in flags.items()
    }
    assert stats["flags"].min is False
    assert stats["flags"].max is True

    days = frame["days"].dropna().map(dt.date.isoformat).value_counts()
    assert len(stats["days"].top) == 10
    for t in stats["days"].top:
        assert t.count == days[t.value]
    assert sorted(t.count for t in stats["days"].top) == sorted(days.head(10).tolist())

    ints = frame["ints"].dropna().value_counts()
    for t in stats["ints"].top:
        assert isinstance(t.value, int)
        assert t.count == ints[t.value]
    counts = [t.count for t in stats["ints"].top]
    assert counts == sorted(counts, reverse=True)
    assert not stats["floats"].top  # no top values for floats


def test_temporal_and_opaque_columns(mixed: tuple[pd.DataFrame, dict[str, ColumnStats]]) -> None:
    frame, stats = mixed
    days = frame["days"].dropna()
    assert stats["days"].min == min(days).isoformat()
    assert stats["days"].max == max(days).isoformat()
    assert stats["days"].mean is None
    day_seconds = np.array([(d - dt.date(1970, 1, 1)).days * 86400.0 for d in days])
    check_histogram(stats["days"], day_seconds)
    moments = frame["moments"]
    moment_seconds = np.array([m.timestamp() for m in moments])
    check_histogram(stats["moments"], moment_seconds)
    check_histogram(stats["naive"], moment_seconds)  # a wall clock without zone read as UTC
    assert stats["moments"].min == min(moments).isoformat()
    assert stats["moments"].max == max(moments).isoformat()
    naive = stats["naive"]
    assert naive.min == min(moments).replace(tzinfo=None).isoformat()
    assert dt.datetime.fromisoformat(str(naive.max)) == max(moments).replace(tzinfo=None)
    for name in ("tags", "raw", "pair"):
        s = stats[name]
        assert s.distinct is None
        assert s.min is None
        assert s.max is None
        assert s.top == []
        assert s.histogram is None
    assert stats["tags"].nulls == (frame["raw_ints"] % 3 == 0).sum()
    assert stats["raw"].nulls == (frame["raw_ints"] % 2 == 0).sum()
    assert stats["pair"].nulls == 0
    assert stats["pair"].count == N


def test_nan_and_infinities(tmp_path: Path) -> None:
    values = [1.0, float("nan"), float("inf"), None, -2.5, float("-inf"), 4.0, float("nan")]
    stats = stats_of(tmp_path, pa.table({"x": pa.array(values, pa.float64())}))
    s = stats["x"]
    assert (s.count, s.nulls, s.nans, s.infinities) == (7, 1, 2, 2)
    assert (s.min, s.max) == (-2.5, 4.0)
    finite = np.array([1.0, -2.5, 4.0])
    assert s.mean == pytest.approx(finite.mean())
    assert s.std == pytest.approx(finite.std(ddof=1))
    check_histogram(s, finite)
    assert all(math.isfinite(v) for v in s.quantiles.values())
    strict_json(s)


def test_only_non_finite_floats(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([float("nan"), float("inf"), None], pa.float64())})
    s = stats_of(tmp_path, table)["x"]
    assert (s.count, s.nulls, s.nans, s.infinities) == (2, 1, 1, 1)
    assert s.min is None and s.max is None and s.mean is None and s.std is None
    assert s.quantiles == {}
    assert s.histogram is None
    strict_json(s)


def test_huge_floats_do_not_overflow(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([-1e308, 1e308, 0.0], pa.float64())})
    s = stats_of(tmp_path, table)["x"]
    assert (s.min, s.max) == (-1e308, 1e308)
    assert s.histogram is None  # the span does not fit in a double
    strict_json(s)


def test_integer_extremes(tmp_path: Path) -> None:
    big = 2**63 - 1
    table = pa.table(
        {
            "i": pa.array([-(2**63), big, 0], pa.int64()),
            "u": pa.array([0, 2**64 - 1, 5], pa.uint64()),
        }
    )
    stats = stats_of(tmp_path, table)
    assert (stats["i"].min, stats["i"].max) == (-(2**63), big)
    assert (stats["u"].min, stats["u"].max) == (0, 2**64 - 1)
    assert {t.value for t in stats["u"].top} == {0, 2**64 - 1, 5}
    for s in stats.values():
        strict_json(s)


def test_all_null_columns(tmp_path: Path) -> None:
    n = 50
    table = pa.table(
        {
            "i": pa.nulls(n, pa.int64()),
            "f": pa.nulls(n, pa.float64()),
            "s": pa.nulls(n, pa.string()),
            "b": pa.nulls(n, pa.bool_()),
            "d": pa.nulls(n, pa.date32()),
            "t": pa.nulls(n, pa.timestamp("us", tz="UTC")),
            "n": pa.nulls(n),
        }
    )
    for s in stats_of(tmp_path, table).values():
        assert (s.count, s.nulls) == (0, n), s.name
        assert s.min is None and s.max is None and s.mean is None, s.name
        assert s.top == [] and s.histogram is None and s.quantiles == {}, s.name
        assert s.distinct in (0, None), s.name
        strict_json(s)


def test_zero_rows(tmp_path: Path) -> None:
    table = pa.table(
        {
            "i": pa.array([], pa.int64()),
            "f": pa.array([], pa.float64()),
            "s": pa.array([], pa.string()),
            "t": pa.array([], pa.timestamp("ms")),
            "l": pa.array([], pa.list_(pa.string())),
        }
    )
    stats = stats_of(tmp_path, table)
    assert list(stats) == ["i", "f", "s", "t", "l"]
    for s in stats.values():
        assert (s.count, s.nulls) == (0, 0)
        assert s.min is None and s.histogram is None and s.top == []


def test_no_files(tmp_path: Path) -> None:
    with sandbox([]) as con:
        stats = compute_stats(con, [Column(name="a", type="int64")])
    assert stats == [ColumnStats(name="a", type="int64", count=0, nulls=0)]


def test_constant_column_has_one_bin(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([3] * 10 + [None], pa.int32())})
    s = stats_of(tmp_path, table)["x"]
    assert s.histogram is not None
    assert (s.histogram.edges, s.histogram.counts) == ([3.0, 3.0], [10])
    assert s.std == 0.0
    assert s.top[0].value == 3 and s.top[0].count == 10


def test_odd_column_names(tmp_path: Path) -> None:
    names = ["with space", 'say "hi"', "it's", "naïve ünïcødé 列", "select", "$h0", "a.b"]
    table = pa.table({name: pa.array([i, i + 1, None], pa.int64()) for i, name in enumerate(names)})
    stats = stats_of(tmp_path, table)
    assert list(stats) == names
    for i, name in enumerate(names):
        s = stats[name]
        assert (s.count, s.nulls, s.min, s.max) == (2, 1, i, i + 1)
        assert s.mean == pytest.approx(i + 0.5)


def test_several_files_are_one_version(tmp_path: Path) -> None:
    a = write(tmp_path / "a.parquet", pa.table({"x": [1, 2, 3]}))
    b = write(tmp_path / "b.parquet", pa.table({"x": [4, 5, None]}))
    with sandbox([a, b]) as con:
        (s,) = compute_stats(con, [Column(name="x", type="int64")])
    assert (s.count, s.nulls, s.min, s.max, s.mean) == (5, 1, 1, 5, 3.0)


def test_wide_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    width, rows = 500, 200
    data = {}
    for i in range(width):
        kind = i % 3
        if kind == 0:
            data[f"n{i}"] = pa.array(rng.integers(0, 100, rows))
        elif kind == 1:
            data[f"f{i}"] = pa.array(rng.random(rows))
        else:
            data[f"s{i}"] = pa.array(rng.choice(["a", "b", "c"], rows))
    table = pa.table(data)
    stats = stats_of(tmp_path, table)
    assert list(stats) == table.column_names
    for name in table.column_names:
        values = table.column(name).to_numpy()
        s = stats[name]
        assert s.count == rows
        if name.startswith("s"):
            assert sum(t.count for t in s.top) == rows
        else:
            assert s.mean == pytest.approx(values.mean())
            check_histogram(s, values.astype(float))


def test_long_strings_are_cut(tmp_path: Path) -> None:
    long = "x" * 5000
    s = stats_of(tmp_path, pa.table({"s": [long, long, "y"]}))["s"]
    assert s.top[0].count == 2
    assert isinstance(s.top[0].value, str)
    assert len(s.top[0].value) <= 1000
    assert isinstance(s.max, str) and len(s.max) <= 1000


def test_timestamp_in_another_zone_is_reported_in_utc(tmp_path: Path) -> None:
    moment = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    table = pa.table({"t": pa.array([moment], pa.timestamp("s", tz="America/New_York"))})
    s = stats_of(tmp_path, table)["t"]
    assert s.min == "2024-06-01T16:00:00+00:00"


def test_temporal_histograms_leave_out_infinities_and_keep_one_instant(tmp_path: Path) -> None:
    path = write(tmp_path / "v.parquet", pa.table({"a": [1]}))
    with sandbox([path], temp_dir=tmp_path / "tmp") as con:
        con.execute(
            "CREATE OR REPLACE VIEW data AS SELECT * FROM (VALUES "
            "(DATE '2024-01-01', TIMESTAMP '2024-05-01 10:00:00'), "
            "(DATE 'infinity', TIMESTAMP '2024-05-01 10:00:00'), "
            "(DATE '2024-01-21', NULL)) t(d, t)"
        )
        stats = {
            s.name: s
            for s in compute_stats(
                con, [Column(name="d", type="date32"), Column(name="t", type="timestamp[us]")]
            )
        }
    d = stats["d"].histogram
    assert d is not None and sum(d.counts) == 2
    assert (d.edges[0], d.edges[-1]) == (1704067200.0, 1704067200.0 + 20 * 86400)
    assert d.counts[0] == 1 and d.counts[-1] == 1
    t = stats["t"].histogram
    assert t is not None and (t.edges, t.counts) == ([1714557600.0, 1714557600.0], [2])


def test_column_missing_from_data(tmp_path: Path) -> None:
    path = write(tmp_path / "v.parquet", pa.table({"a": [1]}))
    with sandbox([path]) as con, pytest.raises(InvalidInput, match="'b'"):
        compute_stats(con, [Column(name="b", type="int64")])


def test_json_safe() -> None:
    assert json_safe(float("nan")) == "NaN"
    assert json_safe(float("-inf")) == "-inf"
    assert json_safe(decimal.Decimal("1.50")) == 1.5
    assert json_safe(dt.date(2024, 1, 2)) == "2024-01-02"
    assert json_safe(b"abc") == "abc"
    assert json_safe(b"\xff") == "base64:/w=="
    assert json_safe({"k": [dt.time(1, 2), None]}) == {"k": ["01:02:00", None]}
    json.dumps(json_safe([float("inf"), dt.timedelta(days=1)]), allow_nan=False)


def test_unique_values_are_not_top_values(tmp_path: Path) -> None:
    table = pa.table({"id": pa.array(range(100), pa.int64()), "s": [f"v{i}" for i in range(100)]})
    stats = stats_of(tmp_path, table)
    assert stats["id"].top == []
    assert stats["s"].top == []
    few = stats_of(tmp_path, pa.table({"x": [1, 2, 3]}), "few.parquet")["x"]
    assert {t.value for t in few.top} == {1, 2, 3}  # every value, each once


def test_timestamp_fractions_in_iso_form(tmp_path: Path) -> None:
    table = pa.table(
        {
            "us": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 600000)], pa.timestamp("us")),
            "ns": pa.array([1_704_164_645_123_456_789], pa.timestamp("ns")),
            "s": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("s", tz="UTC")),
        }
    )
    stats = stats_of(tmp_path, table)
    assert stats["us"].min == "2024-01-02T03:04:05.600000"
    assert stats["ns"].min == "2024-01-02T03:04:05.123456789"
    assert stats["s"].max == "2024-01-02T03:04:05+00:00"
    assert dt.datetime.fromisoformat(str(stats["us"].min)) == dt.datetime(
        2024, 1, 2, 3, 4, 5, 600000
    )


def test_quantiles_of_a_large_version_come_from_a_sample(tmp_path: Path) -> None:
    values = np.random.default_rng(3).normal(100, 15, 400_000)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": values}), path)
    with sandbox([path]) as con:
        (sampled,) = compute_stats(con, [Column(name="x", type="double")], rows=40_000_000)
        (full,) = compute_stats(con, [Column(name="x", type="double")])
    assert sampled.count == full.count == 400_000  # counts, mean and std are exact
    assert sampled.mean == pytest.approx(full.mean)
    for key in ("p05", "p50", "p95"):
        assert sampled.quantiles[key] == pytest.approx(full.quantiles[key], rel=0.05)
