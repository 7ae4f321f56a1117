"""Ingestion: every source and format into deterministic Parquet files, with bounded batches,
rolling files, given schemas, progress, and clear errors for bad input."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest import (
    Ingested,
    columns_of,
    csv_source,
    json_source,
    parse_type,
    plans,
    to_parquet,
)
from dockyard.data.ingest import files as source_files
from dockyard.data.ingest import writer as part_writer
from dockyard.data.schemas import Column

ROWS = 300


def sample(rows: int = ROWS) -> pd.DataFrame:
    """Values that survive every format unchanged: ints, floats, strings, bools, seconds."""
    base = dt.datetime(2024, 1, 1)
    return pd.DataFrame(
        {
            "id": list(range(rows)),
            "amount": [round(i * 1.25, 2) for i in range(rows)],
            "merchant": [f"m{i % 7}" if i % 5 else None for i in range(rows)],
            "flag": [i % 3 == 0 for i in range(rows)],
            "ts": [base + dt.timedelta(seconds=17 * i) for i in range(rows)],
        }
    )


def expected_rows(rows: int = ROWS) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = sample(rows).to_dict("records")
    for record in records:
        if record["merchant"] is None or record["merchant"] != record["merchant"]:
            record["merchant"] = None
        record["ts"] = record["ts"].to_pydatetime()
    return records


def read_rows(result: Ingested) -> list[dict[str, Any]]:
    table = pa.concat_tables(pq.read_table(f.path) for f in result.files)
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_csv(path: Path, frame: pd.DataFrame, sep: str = ",") -> Path:
    text = frame.to_csv(index=False, sep=sep, date_format="%Y-%m-%d %H:%M:%S")
    path.write_text(text)
    return path


def write_jsonl(path: Path, frame: pd.DataFrame) -> Path:
    lines = []
    for record in frame.to_dict("records"):
        record["ts"] = record["ts"].strftime("%Y-%m-%d %H:%M:%S")
        if record["merchant"] is not None and record["merchant"] != record["merchant"]:
            record["merchant"] = None
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def arrow_table(frame: pd.DataFrame | None = None) -> pa.Table:
    table = pa.Table.from_pandas(sample() if frame is None else frame, preserve_index=False)
    return table.cast(table.schema.set(4, pa.field("ts", pa.timestamp("s"))))


def make_source(kind: str, tmp: Path) -> Any:
    frame = sample()
    if kind == "pandas":
        return frame
    if kind == "polars":
        return pl.from_pandas(frame)
    if kind == "arrow-table":
        return arrow_table()
    if kind == "arrow-reader":
        table = arrow_table()
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=7))
    if kind == "csv":
        return write_csv(tmp / "data.csv", frame)
    if kind == "csv-str":
        return str(write_csv(tmp / "data.csv", frame))
    if kind == "tsv":
        return write_csv(tmp / "data.tsv", frame, sep="\t")
    if kind == "csv.gz":
        plain = write_csv(tmp / "plain.csv", frame).read_bytes()
        (tmp / "data.csv.gz").write_bytes(gzip.compress(plain))
        return tmp / "data.csv.gz"
    if kind == "csv.bz2":
        plain = write_csv(tmp / "plain.csv", frame).read_bytes()
        (tmp / "data.csv.bz2").write_bytes(bz2.compress(plain))
        return tmp / "data.csv.bz2"
    if kind == "csv.zst":
        write_csv(tmp / "plain.csv", frame)
        with pa.CompressedOutputStream(str(tmp / "data.csv.zst"), "zstd") as out:
            out.write((tmp / "plain.csv").read_bytes())
        return tmp / "data.csv.zst"
    if kind == "jsonl":
        return write_jsonl(tmp / "data.jsonl", frame)
    if kind == "ndjson.gz":
        plain = write_jsonl(tmp / "plain.jsonl", frame).read_bytes()
        (tmp / "data.ndjson.gz").write_bytes(gzip.compress(plain))
        return tmp / "data.ndjson.gz"
    if kind == "json":
        return write_jsonl(tmp / "data.json", frame)
    if kind == "parquet":
        pq.write_table(arrow_table(), tmp / "data.parquet", row_group_size=50)
        return tmp / "data.parquet"
    if kind == "pq":
        pq.write_table(arrow_table(), tmp / "data.pq")
        return tmp / "data.pq"
    if kind == "feather":
        feather.write_feather(arrow_table(), tmp / "data.feather", chunksize=64)
        return tmp / "data.feather"
    if kind == "arrow-stream":
        table = arrow_table()
        with (
            pa.OSFile(str(tmp / "data.arrow"), "wb") as sink,
            pa.ipc.new_stream(sink, table.schema) as writer,
        ):
            for batch in table.to_batches(max_chunksize=40):
                writer.write_batch(batch)
        return tmp / "data.arrow"
    if kind == "file-url":
        return "file://" + str(write_csv(tmp / "data.csv", frame))
    raise AssertionError(kind)


SOURCES = [
    "pandas",
    "polars",
    "arrow-table",
    "arrow-reader",
    "csv",
    "csv-str",
    "tsv",
    "csv.gz",
    "csv.bz2",
    "csv.zst",
    "jsonl",
    "ndjson.gz",
    "json",
    "parquet",
    "pq",
    "feather",
    "arrow-stream",
    "file-url",
]


@pytest.mark.parametrize("kind", SOURCES)
def test_every_source_gives_the_same_rows(kind: str, tmp_path: Path) -> None:
    source = make_source(kind, tmp_path)
    result = to_parquet(source, tmp_path / "out")
    assert result.rows == ROWS
    assert read_rows(result) == expected_rows()
    names = [c.name for c in result.columns]
    assert names == ["id", "amount", "merchant", "flag", "ts"]
    kinds = {c.name: c.type for c in result.columns}
    assert kinds["id"] == "int64" and kinds["amount"] == "double" and kinds["merchant"] == "string"
    assert kinds["flag"] == "bool" and kinds["ts"].startswith("timestamp[")
    assert [f.path.name for f in result.files] == ["part-00000.parquet"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-00000.parquet"]
    only = result.files[0]
    assert only.size == only.path.stat().st_size and only.digest == sha256(only.path)
    assert result.bytes == only.size
    if isinstance(source, (str, Path)):
        assert str(tmp_path) in result.source
    else:
        assert result.source.split(".")[0] in ("pandas", "polars", "pyarrow")


def test_the_same_input_gives_identical_bytes(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.csv", sample(5000))
    first = to_parquet(path, tmp_path / "a", rows_per_file=2000)
    second = to_parquet(path, tmp_path / "b", rows_per_file=2000)
    assert len(first.files) == 3
    assert [f.digest for f in first.files] == [f.digest for f in second.files]
    assert [sha256(f.path) for f in first.files] == [f.digest for f in second.files]


def test_same_rows_and_types_give_the_same_bytes_whatever_the_source(tmp_path: Path) -> None:
    """pandas, a CSV and an Arrow table chunked in odd sizes agree when their types do."""
    frame = sample(3000)[["id", "amount", "merchant", "flag"]]
    from_pandas = to_parquet(frame, tmp_path / "pandas")
    from_csv = to_parquet(write_csv(tmp_path / "data.csv", frame), tmp_path / "csv")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    odd = pa.Table.from_batches(table.to_batches(max_chunksize=37))
    from_arrow = to_parquet(odd, tmp_path / "arrow")
    from_polars = to_parquet(pl.from_pandas(frame), tmp_path / "polars")
    digests = {r.files[0].digest for r in (from_pandas, from_csv, from_arrow, from_polars)}
    assert len(digests) == 1


def test_files_roll_over_every_rows_per_file(tmp_path: Path) -> None:
    table = arrow_table(sample(3500))
    result = to_parquet(table, tmp_path / "out", rows_per_file=1000)
    assert [f.rows for f in result.files] == [1000, 1000, 1000, 500]
    assert [f.path.name for f in result.files] == [f"part-0000{i}.parquet" for i in range(4)]
    assert result.rows == 3500
    assert [pq.ParquetFile(f.path).metadata.num_rows for f in result.files] == [
        f.rows for f in result.files
    ]
    assert read_rows(result) == arrow_table(sample(3500)).to_pylist()


def test_files_roll_over_by_size_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(part_writer, "FILE_BYTES", 1)
    monkeypatch.setattr(part_writer, "ROW_GROUP_BYTES", 1)
    result = to_parquet(arrow_table(sample(5000)), tmp_path / "out")
    group = part_writer.MIN_GROUP_ROWS
    assert [f.rows for f in result.files] == [group] * 4 + [5000 - 4 * group]
    assert read_rows(result) == arrow_table(sample(5000)).to_pylist()


def test_row_groups_have_a_fixed_power_of_two_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(part_writer, "PROBE_ROWS", 100)
    monkeypatch.setattr(part_writer, "ROW_GROUP_BYTES", 40 * 1024)
    chunks = pa.Table.from_batches(arrow_table(sample(5000)).to_batches(max_chunksize=333))
    result = to_parquet(chunks, tmp_path / "out")
    meta = pq.ParquetFile(result.files[0].path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes[0] == part_writer.MIN_GROUP_ROWS and sizes[-1] == 5000 - sum(sizes[:-1])
    assert set(sizes[:-1]) == {sizes[0]}


def test_a_given_schema_types_the_columns(tmp_path: Path) -> None:
    schema = {"id": "string", "amount": "float32", "ts": "timestamp[ms]", "flag": "string"}
    for kind in ("csv", "jsonl", "parquet", "pandas", "polars", "arrow-table"):
        (tmp_path / kind).mkdir()
        result = to_parquet(
            make_source(kind, tmp_path / kind), tmp_path / f"{kind}-out", schema=schema
        )
        kinds = {c.name: c.type for c in result.columns}
        assert kinds == {
            "id": "string",
            "amount": "float",
            "merchant": "string",
            "flag": "string",
            "ts": "timestamp[ms]",
        }, kind
        rows = read_rows(result)
        assert rows[3]["id"] == "3" and rows[3]["ts"] == dt.datetime(2024, 1, 1, 0, 0, 51), kind


def test_a_schema_can_parse_dates_decimals_and_time_zones(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("day,price,at\n2024-02-03,12.50,2024-02-03T10:00:00Z\n")
    schema = {"day": "date32", "price": "decimal128(10, 2)", "at": "timestamp[us, tz=UTC]"}
    result = to_parquet(path, tmp_path / "out", schema=schema)
    assert [c.type for c in result.columns] == [
        "date32[day]",
        "decimal128(10, 2)",
        "timestamp[us, tz=UTC]",
    ]
    row = read_rows(result)[0]
    assert row["day"] == dt.date(2024, 2, 3) and str(row["price"]) == "12.50"


def test_type_names() -> None:
    assert parse_type("float64") == pa.float64()
    assert parse_type("string") == parse_type("large_string") == pa.string()
    assert parse_type("timestamp[us]") == pa.timestamp("us")
    assert parse_type("timestamp[ns, tz=Europe/Paris]") == pa.timestamp("ns", "Europe/Paris")
    assert parse_type("date32") == parse_type("date32[day]") == pa.date32()
    assert parse_type("bool") == pa.bool_()
    assert parse_type("decimal128(12, 2)") == pa.decimal128(12, 2)
    for column in columns_of(pa.schema([("a", pa.timestamp("us", "UTC")), ("b", pa.float64())])):
        assert (
            parse_type(column.type)
            == pa.schema([("x", pa.timestamp("us", "UTC")), ("y", pa.float64())])
            .field(0 if column.name == "a" else 1)
            .type
        )
    with pytest.raises(InvalidInput, match=r"unknown type 'integer' for column 'a'.*int64"):
        to_parquet(sample(), Path("/nonexistent"), schema={"a": "integer"})


def test_columns_of() -> None:
    schema = pa.schema([pa.field("a", pa.int64(), nullable=False), ("b", pa.string())])
    assert columns_of(schema) == [
        Column(name="a", type="int64", nullable=False),
        Column(name="b", type="string", nullable=True),
    ]


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet", "pandas", "arrow-table"])
def test_a_schema_naming_a_missing_column_is_refused(kind: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"schema names column 'nope' that .* lacks"):
        to_parquet(make_source(kind, tmp_path), tmp_path / "out", schema={"nope": "int64"})
    assert not list((tmp_path / "out").glob("part-*"))


def test_a_column_empty_in_the_first_rows_is_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_files, "HEAD_BYTES", 200)
    monkeypatch.setattr(csv_source, "STREAM_BLOCK", 256)
    lines = ["id,later"] + [f"{i}," for i in range(100)] + ["100,7", "101,x"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    result = to_parquet(path, tmp_path / "out")
    assert [c.type for c in result.columns] == ["int64", "string"]
    assert [r["later"] for r in read_rows(result)][-3:] == [None, "7", "x"]
    empty = tmp_path / "header.csv"
    empty.write_text("a,b\n")
    only_header = to_parquet(empty, tmp_path / "out2")
    assert only_header.rows == 0 and [c.type for c in only_header.columns] == ["string", "string"]
    assert pq.read_table(only_header.files[0].path).num_rows == 0
    frame = pd.DataFrame({"a": [1, 2], "none": [None, None]})
    assert [c.type for c in to_parquet(frame, tmp_path / "out3").columns] == ["int64", "string"]


def test_types_are_inferred_from_the_whole_head(tmp_path: Path) -> None:
    """A value far into the first 16 MiB widens the type: no error for a late float."""
    lines = ["n"] + [str(i) for i in range(50_000)] + ["1.5"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    result = to_parquet(path, tmp_path / "out")
    assert [c.type for c in result.columns] == ["double"]


def test_mixed_types_in_a_column_name_the_value_line_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(source_files, "HEAD_BYTES", 300)
    monkeypatch.setattr(csv_source, "STREAM_BLOCK", 512)
    lines = ["id,amount"] + [f"{i},{i * 10}" for i in range(200)] + ["200,abc"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput) as caught:
        to_parquet(path, tmp_path / "out", rows_per_file=1)
    message = caught.value.message
    assert "column 'amount': 'abc' at line 202 of" in message and "is not int64" in message
    assert "pass schema={'amount': 'string'}" in message
    assert list((tmp_path / "out").iterdir()) == []
    fixed = to_parquet(path, tmp_path / "fixed", schema={"amount": "string"})
    assert read_rows(fixed)[-1] == {"id": 200, "amount": "abc"}


def test_a_value_the_schema_type_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,amount\n1,2\n2,x\n")
    with pytest.raises(
        InvalidInput, match=r"'x' at line 3 of .*is not double.*change schema\['amount'\]"
    ):
        to_parquet(path, tmp_path / "out", schema={"amount": "float64"})
    with pytest.raises(
        InvalidInput, match=r"column 'merchant' of pandas.DataFrame cannot be converted"
    ):
        to_parquet(sample(), tmp_path / "out2", schema={"merchant": "int64"})


@pytest.mark.parametrize("late", [False, True])
def test_a_row_with_the_wrong_number_of_fields(
    late: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if late:
        monkeypatch.setattr(source_files, "HEAD_BYTES", 100)
        monkeypatch.setattr(csv_source, "STREAM_BLOCK", 256)
    lines = ["a,b,c"] + [f"{i},{i},{i}" for i in range(50)] + ["1,2,3,4"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        InvalidInput, match=r"line 52 of .*d.csv has 4 fields but the header has 3: '1,2,3,4'"
    ):
        to_parquet(path, tmp_path / "out")


def test_empty_inputs(tmp_path: Path) -> None:
    for name, content in [("e.csv", b""), ("e.jsonl", b""), ("e.parquet", b""), ("e.arrow", b"")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InvalidInput, match=r"e\.\w+ is empty \(0 bytes\)"):
            to_parquet(tmp_path / name, tmp_path / "out")
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(InvalidInput, match=r"blank.csv is empty: it has no header row"):
        to_parquet(tmp_path / "blank.csv", tmp_path / "out")
    (tmp_path / "blank.jsonl").write_text("\n")
    with pytest.raises(InvalidInput, match=r"blank.jsonl is empty: it holds no JSON records"):
        to_parquet(tmp_path / "blank.jsonl", tmp_path / "out")
    (tmp_path / "objects.jsonl").write_text("{}\n{}\n")
    with pytest.raises(InvalidInput, match=r"objects.jsonl has no columns"):
        to_parquet(tmp_path / "objects.jsonl", tmp_path / "out")
    with pytest.raises(InvalidInput, match=r"pandas.DataFrame has no columns"):
        to_parquet(pd.DataFrame(), tmp_path / "out")
    assert not list((tmp_path / "out").glob("*"))


def test_missing_files_globs_folders_formats(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"no such file: .*missing.csv"):
        to_parquet(tmp_path / "missing.csv", tmp_path / "out")
    with pytest.raises(InvalidInput, match=r"no file matches '.*\*.csv'"):
        to_parquet(str(tmp_path / "*.csv"), tmp_path / "out")
    with pytest.raises(InvalidInput, match=r"is a folder: pass a file or a glob"):
        to_parquet(tmp_path, tmp_path / "out")
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(InvalidInput, match=r"cannot tell the format of .*data.xlsx.*format='csv'"):
        to_parquet(tmp_path / "data.xlsx", tmp_path / "out")
    with pytest.raises(InvalidInput, match=r"unknown format 'excel'"):
        to_parquet(tmp_path / "data.xlsx", tmp_path / "out", format="excel")
    (tmp_path / "data.parquet.gz").write_bytes(b"x")
    with pytest.raises(InvalidInput, match=r"compressed parquet file cannot be streamed"):
        to_parquet(tmp_path / "data.parquet.gz", tmp_path / "out")
    (tmp_path / "fake.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput, match=r"fake.parquet is not a Parquet file"):
        to_parquet(tmp_path / "fake.parquet", tmp_path / "out")
    (tmp_path / "fake.arrow").write_bytes(b"not arrow at all")
    with pytest.raises(InvalidInput, match=r"fake.arrow is not an Arrow IPC file or stream"):
        to_parquet(tmp_path / "fake.arrow", tmp_path / "out")
    with pytest.raises(InvalidInput, match=r"cannot ingest a builtins.dict"):
        to_parquet({"a": [1]}, tmp_path / "out")


def test_format_overrides_the_extension(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.txt", sample())
    assert to_parquet(path, tmp_path / "out", format="csv").rows == ROWS
    tabs = write_csv(tmp_path / "export.dat", sample(), sep="\t")
    assert read_rows(to_parquet(tabs, tmp_path / "out2", format="tsv")) == expected_rows()


def test_urls_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInput, match=r"cannot read nosuch://bucket/x.csv: no filesystem for 'nosuch'"
    ):
        to_parquet("nosuch://bucket/x.csv", tmp_path / "out")
    with pytest.raises(InvalidInput, match=r"cannot (reach|read) http://127\.0\.0\.1:9/x\.csv"):
        to_parquet("http://127.0.0.1:9/x.csv", tmp_path / "out")
    with pytest.raises(InvalidInput, match=r"no such file: .*missing.csv"):
        to_parquet("file://" + str(tmp_path / "missing.csv"), tmp_path / "out")


def test_credentials_in_a_url_are_not_recorded(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_parquet("http://user:secret@127.0.0.1:9/x.csv", tmp_path / "out")
    assert "secret" not in caught.value.message


def test_globs_read_sorted_files_with_one_schema(tmp_path: Path) -> None:
    frame = sample(90)
    for index, part in enumerate([frame.iloc[60:], frame.iloc[:30], frame.iloc[30:60]]):
        write_csv(tmp_path / f"{['c', 'a', 'b'][index]}.csv", part)
    result = to_parquet(str(tmp_path / "*.csv"), tmp_path / "out")
    assert read_rows(result) == expected_rows(90)
    assert result.source == str(tmp_path / "*.csv")
    nested = tmp_path / "deep" / "x"
    nested.mkdir(parents=True)
    write_csv(nested / "d.csv", frame)
    assert to_parquet(str(tmp_path / "**" / "d.csv"), tmp_path / "out2").rows == 90


def test_glob_files_must_share_a_schema(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", sample(10))
    write_csv(tmp_path / "b.csv", sample(10).rename(columns={"flag": "flagged"}))
    with pytest.raises(
        InvalidInput,
        match=r"b.csv does not have the columns of .*a.csv: it lacks 'flag' and has extra 'flag",
    ):
        to_parquet(str(tmp_path / "*.csv"), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []

    floats = sample(10)
    floats["id"] = floats["id"] + 0.5
    write_csv(tmp_path / "b.csv", floats)
    with pytest.raises(
        InvalidInput,
        match=r"column 'id': '0.5' at line 2 of .*b.csv is not int64 \(the type of the first file",
    ):
        to_parquet(str(tmp_path / "*.csv"), tmp_path / "out")
    assert to_parquet(str(tmp_path / "*.csv"), tmp_path / "ok", schema={"id": "float64"}).rows == 20

    pq.write_table(arrow_table(sample(10)), tmp_path / "a.parquet")
    pq.write_table(arrow_table(floats), tmp_path / "b.parquet")
    with pytest.raises(
        InvalidInput,
        match=r"column 'id' is double in .*b.parquet but int64 in .*a.parquet; pass schema=\{'id'",
    ):
        to_parquet(str(tmp_path / "*.parquet"), tmp_path / "out")

    (tmp_path / "c.jsonl").write_text('{"id": 1}\n')
    with pytest.raises(InvalidInput, match=r"the files mix formats"):
        to_parquet(str(tmp_path / "*.*"), tmp_path / "out")


def test_json_lines_errors_and_fields_that_start_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    array = tmp_path / "array.json"
    array.write_text(json.dumps([{"a": 1}, {"a": 2}]))
    with pytest.raises(InvalidInput, match=r"holds a JSON array.*jq -c"):
        to_parquet(array, tmp_path / "out")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"a": 1}\n{"a": "x"}\n')
    with pytest.raises(
        InvalidInput,
        match=r"field 'a' of .*mixed.jsonl holds a string where earlier records hold a number",
    ):
        to_parquet(mixed, tmp_path / "out")

    monkeypatch.setattr(source_files, "HEAD_BYTES", 64)
    monkeypatch.setattr(json_source, "STREAM_BLOCK", 128)
    late = tmp_path / "late.jsonl"
    late.write_text("".join(f'{{"a": {i}}}\n' for i in range(40)) + '{"a": 40, "b": "new"}\n')
    with pytest.raises(InvalidInput, match=r"a field appears that the first records lack"):
        to_parquet(late, tmp_path / "out")
    result = to_parquet(late, tmp_path / "ok", schema={"b": "string"})
    assert [c.name for c in result.columns] == ["a", "b"]
    assert read_rows(result)[-1] == {"a": 40, "b": "new"}
    nulls = tmp_path / "nulls.jsonl"
    nulls.write_text(
        "".join(f'{{"a": {i}, "b": null}}\n' for i in range(40)) + '{"a": 40, "b": 2.5}\n'
    )
    with pytest.raises(InvalidInput, match=r"field 'b' .* pass schema="):
        to_parquet(nulls, tmp_path / "out")
    fixed = to_parquet(nulls, tmp_path / "ok2", schema={"b": "float64"})
    assert read_rows(fixed)[-1] == {"a": 40, "b": 2.5}


def test_pandas_index_named_levels_kept_positions_dropped(tmp_path: Path) -> None:
    frame = sample(20)
    filtered = frame[frame["id"] % 2 == 0]
    assert [c.name for c in to_parquet(filtered, tmp_path / "a").columns] == list(frame.columns)
    indexed = frame.set_index("id")
    assert [c.name for c in to_parquet(indexed, tmp_path / "b").columns] == list(frame.columns)
    assert read_rows(to_parquet(indexed, tmp_path / "c"))[:2] == expected_rows(2)
    table = pq.read_table(to_parquet(frame, tmp_path / "d").files[0].path)
    assert b"pandas" not in (table.schema.metadata or {})


def test_polars_categoricals_and_string_layouts_are_plain_strings(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"c": pl.Series(["x", "y", None], dtype=pl.Categorical), "s": ["a", "b", "c"]}
    )
    result = to_parquet(frame, tmp_path / "out")
    assert [c.type for c in result.columns] == ["string", "string"]
    assert read_rows(result) == [{"c": "x", "s": "a"}, {"c": "y", "s": "b"}, {"c": None, "s": "c"}]
    lazy = to_parquet(frame.lazy(), tmp_path / "lazy")
    assert lazy.files[0].digest == result.files[0].digest and lazy.source == "polars.LazyFrame"
    nested = pa.table({"l": pa.array([["a"], None], pa.large_list(pa.large_string()))})
    assert [c.type for c in to_parquet(nested, tmp_path / "nested").columns] == [
        "list<item: string>"
    ]


def test_progress_reports_bytes_up_to_the_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_source, "STREAM_BLOCK", 16 << 10)
    path = write_csv(tmp_path / "d.csv", sample(20_000))
    calls: list[tuple[int, int | None]] = []
    to_parquet(path, tmp_path / "out", progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert len(calls) >= size // (16 << 10)
    assert {total for _, total in calls} == {size}
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and dones[-1] == size and dones[0] < size // 4


@pytest.mark.parametrize(
    "kind", ["csv.gz", "parquet", "feather", "arrow-stream", "jsonl", "pandas", "arrow-reader"]
)
def test_progress_of_other_sources(kind: str, tmp_path: Path) -> None:
    source = make_source(kind, tmp_path)
    calls: list[tuple[int, int | None]] = []
    to_parquet(source, tmp_path / "out", progress=lambda done, total: calls.append((done, total)))
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and len(calls) >= 2
    totals = {total for _, total in calls}
    if isinstance(source, Path):
        assert totals == {source.stat().st_size} and dones[-1] == source.stat().st_size
    elif kind == "pandas":
        assert totals == {ROWS} and dones[-1] == ROWS
    else:
        assert totals == {None} and dones[-1] == ROWS


def test_glob_progress_adds_up_the_files(tmp_path: Path) -> None:
    for name in "ab":
        write_csv(tmp_path / f"{name}.csv", sample(100))
    calls: list[tuple[int, int | None]] = []
    to_parquet(
        str(tmp_path / "*.csv"), tmp_path / "out", progress=lambda d, t: calls.append((d, t))
    )
    size = sum((tmp_path / f"{n}.csv").stat().st_size for n in "ab")
    assert calls[-1] == (size, size) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_on_batch_sees_every_row_once(tmp_path: Path) -> None:
    seen: list[pa.RecordBatch] = []
    result = to_parquet(
        arrow_table(sample(3000)), tmp_path / "out", rows_per_file=1000, on_batch=seen.append
    )
    assert sum(b.num_rows for b in seen) == 3000 == result.rows
    assert pa.Table.from_batches(seen).to_pylist() == read_rows(result)


def test_an_error_midway_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_files, "HEAD_BYTES", 200)
    monkeypatch.setattr(csv_source, "STREAM_BLOCK", 4096)
    monkeypatch.setattr(part_writer, "PROBE_ROWS", 100)
    lines = ["id,v"] + [f"{i},{i}" for i in range(5000)] + ["5000,oops"]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines) + "\n")
    written: list[int] = []
    with pytest.raises(InvalidInput, match=r"'oops' at line 5002"):
        to_parquet(
            path,
            tmp_path / "out",
            rows_per_file=1024,
            on_batch=lambda b: written.append(b.num_rows),
        )
    assert sum(written) >= 2048  # whole files were finished before the bad row
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failing_writer_stops_the_reader(tmp_path: Path) -> None:
    def boom(batch: pa.RecordBatch) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match=r"disk full"):
        to_parquet(write_csv(tmp_path / "d.csv", sample(3000)), tmp_path / "out", on_batch=boom)
    assert list((tmp_path / "out").iterdir()) == []


def test_workdir_must_hold_no_parts(tmp_path: Path) -> None:
    to_parquet(sample(), tmp_path)
    with pytest.raises(InvalidInput, match=r"already holds part-00000.parquet"):
        to_parquet(sample(), tmp_path)
    with pytest.raises(InvalidInput, match=r"rows_per_file must be at least 1"):
        to_parquet(sample(), tmp_path / "x", rows_per_file=0)


@pytest.mark.s3
def test_s3_urls_and_globs(tmp_path: Path, s3_server: dict[str, Any]) -> None:
    import fsspec

    prefix = f"s3://{s3_server['bucket']}/{uuid.uuid4().hex}"
    fs = fsspec.filesystem("s3", **s3_server["options"])
    local = write_csv(tmp_path / "d.csv", sample())
    fs.put(str(local), f"{prefix}/a.csv")
    fs.put(str(local), f"{prefix}/b.csv")
    calls: list[tuple[int, int | None]] = []
    one = to_parquet(
        f"{prefix}/a.csv",
        tmp_path / "one",
        storage_options=s3_server["options"],
        progress=lambda d, t: calls.append((d, t)),
    )
    assert read_rows(one) == expected_rows() and one.source == f"{prefix}/a.csv"
    assert calls[-1] == (local.stat().st_size, local.stat().st_size)
    local_result = to_parquet(local, tmp_path / "local")
    assert one.files[0].digest == local_result.files[0].digest
    both = to_parquet(f"{prefix}/*.csv", tmp_path / "both", storage_options=s3_server["options"])
    assert both.rows == 2 * ROWS
    with pytest.raises(InvalidInput, match=r"no such file: s3://"):
        to_parquet(f"{prefix}/missing.csv", tmp_path / "x", storage_options=s3_server["options"])
    with pytest.raises(InvalidInput, match=r"no object matches s3://"):
        to_parquet(f"{prefix}/*.parquet", tmp_path / "x", storage_options=s3_server["options"])


def test_in_memory_tables_are_converted_in_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plans, "SLICE_ROWS", 64)
    seen: list[int] = []
    original = plans._conform

    def spy(batch: pa.RecordBatch, *args: Any) -> pa.RecordBatch:
        seen.append(batch.num_rows)
        return original(batch, *args)

    monkeypatch.setattr(plans, "_conform", spy)
    to_parquet(sample(), tmp_path / "out")
    assert max(seen) == 64 and sum(seen) == ROWS


def test_pandas_column_names_and_mixed_values(tmp_path: Path) -> None:
    numbered = pd.DataFrame({0: [1, 2], 1: ["a", "b"]})
    result = to_parquet(numbered, tmp_path / "a", schema={"0": pa.float64()})
    assert [(c.name, c.type) for c in result.columns] == [("0", "double"), ("1", "string")]
    with pytest.raises(InvalidInput, match=r"column 'a' appears twice in the pandas.DataFrame"):
        to_parquet(pd.DataFrame([[1, 2]], columns=["a", "a"]), tmp_path / "b")
    mixed = pd.DataFrame({"ok": [1, 2, 3], "m": [1, "x", 2.5]})
    with pytest.raises(
        InvalidInput, match=r"column 'm' of the pandas.DataFrame holds values.*astype"
    ):
        to_parquet(mixed, tmp_path / "c")
