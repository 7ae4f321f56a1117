"""Reading a version's Parquet files: projection and filters pushed down, Arrow, pandas,
Polars and DuckDB results equal to the data ingested, batches of bounded size."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dockyard.core.errors import InvalidInput
from dockyard.data import read
from dockyard.data.ingest import to_parquet

ROWS = 1000


def frame() -> pd.DataFrame:
    start = dt.datetime(2024, 3, 1, 12, 0)
    return pd.DataFrame(
        {
            "id": list(range(ROWS)),
            "amount": [float(i % 250) + 0.5 for i in range(ROWS)],
            "merchant": [f"m{i % 4}" if i % 10 else None for i in range(ROWS)],
            "at": pd.to_datetime([start + dt.timedelta(minutes=i) for i in range(ROWS)]),
            "local": pd.to_datetime([start + dt.timedelta(hours=i) for i in range(ROWS)])
            .tz_localize("UTC")
            .tz_convert("Europe/Paris"),
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=i % 30) for i in range(ROWS)],
            "ok": [i % 2 == 0 for i in range(ROWS)],
            "odd name": [f'x"{i}' for i in range(ROWS)],
        }
    )


@pytest.fixture
def paths(tmp_path: Path) -> list[Path]:
    result = to_parquet(frame(), tmp_path / "v", rows_per_file=400)
    assert [f.rows for f in result.files] == [400, 400, 200]
    return [f.path for f in result.files]


def recorded(paths: list[Path]) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in paths)


def test_to_arrow_gives_back_the_recorded_table(paths: list[Path]) -> None:
    table = read.to_arrow(paths)
    expected = recorded(paths)
    assert table.schema.equals(expected.schema, check_metadata=False)
    assert table.equals(expected)
    assert table.schema.field("local").type.tz == "Europe/Paris"


def test_to_pandas_equals_the_original_frame(paths: list[Path]) -> None:
    pd.testing.assert_frame_equal(read.to_pandas(paths), frame())


def test_to_polars_equals_the_original_frame(paths: list[Path]) -> None:
    got = read.to_polars(paths, columns=["id", "merchant", "at", "ok"])
    expected = pl.from_pandas(frame()[["id", "merchant", "at", "ok"]])
    assert got.equals(expected)


def test_to_polars_without_polars_says_how_to_install(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(InvalidInput, match=r"pip install 'dockyard\[polars\]'"):
        read.to_polars(paths)


def test_columns_come_in_the_order_asked(paths: list[Path]) -> None:
    table = read.to_arrow(paths, columns=["odd name", "amount", "id"])
    assert table.column_names == ["odd name", "amount", "id"]
    assert table.column("odd name")[1].as_py() == 'x"1'
    assert table.schema.field("amount").type == pa.float64()


def test_filters_keep_matching_rows_and_may_use_other_columns(paths: list[Path]) -> None:
    got = read.to_pandas(paths, columns=["id"], filter="amount > 200 AND merchant = 'm1'")
    original = frame()
    keep = (original["amount"] > 200) & (original["merchant"] == "m1")
    assert got["id"].tolist() == original.loc[keep, "id"].tolist()
    assert len(got) > 0
    dated = read.to_arrow(paths, filter="day = DATE '2024-01-05' AND ok", columns=["day"])
    assert set(dated.column("day").to_pylist()) == {dt.date(2024, 1, 5)}
    assert read.to_arrow(paths, filter="id < 0").num_rows == 0
    assert read.to_arrow(paths, filter="id < 0").schema == recorded(paths).schema


def test_projection_and_filter_are_pushed_down_to_the_files(paths: list[Path]) -> None:
    plan = read.scan(paths, columns=["id"], filter="amount > 100").explain()
    assert "Parquet Scan" in plan or "PARQUET_SCAN" in plan
    assert "Filters:amount>100" in plan.replace(" ", "")


def test_unknown_columns_are_named(paths: list[Path]) -> None:
    with pytest.raises(InvalidInput, match="no column 'nope' in these files; they have 'id'"):
        read.to_arrow(paths, columns=["id", "nope"])
    with pytest.raises(InvalidInput, match=r"filter 'nope > 1': .*\"nope\""):
        read.to_arrow(paths, filter="nope > 1")
    with pytest.raises(InvalidInput, match="columns is empty"):
        read.to_arrow(paths, columns=[])


def test_filters_must_be_one_valid_expression(paths: list[Path]) -> None:
    with pytest.raises(InvalidInput, match=r"filter .* is not valid SQL"):
        read.to_arrow(paths, filter="id > 1; DROP TABLE x")
    with pytest.raises(InvalidInput, match=r"filter .* is not valid SQL"):
        read.to_arrow(paths, filter="id >")
    with pytest.raises(InvalidInput, match=r"filter \"merchant > 'x' \+ 1\""):
        read.to_arrow(paths, filter="merchant > 'x' + 1")
    with pytest.raises(InvalidInput, match="failed: Could not convert string 'm1' to INT"):
        read.to_arrow(paths, filter="CAST(merchant AS INTEGER) > 1")


def test_no_files() -> None:
    with pytest.raises(InvalidInput, match="no files to read"):
        read.to_arrow([])


def test_iter_batches_streams_bounded_batches(paths: list[Path]) -> None:
    batches = list(read.iter_batches(paths, batch_size=128))
    assert max(b.num_rows for b in batches) <= 128
    assert sum(b.num_rows for b in batches) == ROWS
    assert pa.Table.from_batches(batches).equals(recorded(paths))
    picked = list(read.iter_batches(paths, columns=["amount", "id"], filter="ok", batch_size=100))
    table = pa.Table.from_batches(picked)
    assert table.column_names == ["amount", "id"]
    assert table.column("id").to_pylist() == list(range(0, ROWS, 2))


def test_iter_batches_checks_before_the_first_batch(paths: list[Path]) -> None:
    with pytest.raises(InvalidInput, match="no column 'nope'"):
        read.iter_batches(paths, columns=["nope"])
    with pytest.raises(InvalidInput, match="batch_size must be at least 1"):
        read.iter_batches(paths, batch_size=0)
    with pytest.raises(InvalidInput, match="failed: Could not convert"):
        list(read.iter_batches(paths, filter="CAST(merchant AS INTEGER) > 1"))


def test_iter_batches_can_stop_early(paths: list[Path]) -> None:
    stream = read.iter_batches(paths, batch_size=10)
    first = next(stream)
    assert first.num_rows == 10
    stream.close()  # type: ignore[attr-defined]


def test_to_duckdb_on_the_users_connection(paths: list[Path]) -> None:
    con = duckdb.connect()
    rel = read.to_duckdb(paths, con)
    count = con.sql("SELECT count(*) FROM rel WHERE ok").fetchall()
    assert count == [(ROWS // 2,)]
    assert rel.aggregate("max(id)").fetchall() == [(ROWS - 1,)]
    alone = read.to_duckdb(paths)
    assert alone.filter("id < 5").aggregate("count(*)").fetchall() == [(5,)]
    scanned = read.scan(paths, columns=["merchant"], filter="id >= 990", con=con)
    assert scanned.columns == ["merchant"]
    assert len(scanned.fetchall()) == 10
    con.close()


def test_single_path_and_strings(paths: list[Path]) -> None:
    assert read.to_arrow(str(paths[0])).num_rows == 400
    assert read.to_arrow([str(p) for p in paths], columns=["id"]).num_rows == ROWS
