"""Table previews of Parquet, CSV and TSV artifacts through both transports on both databases:
types, JSON-safe values, limits, and clear errors for what is not a table."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput, NotFound, UnreadableContent
from dockyard.tracking.preview import json_scalar


@pytest.fixture
def run_id(client: Client) -> str:
    client.projects.create("p")
    return client.runs.create("p").id


def upload(client: Client, run_id: str, path: str, data: bytes) -> None:
    client.runs.upload_artifact(run_id, path, io.BytesIO(data))


def parquet_bytes(table: pa.Table, **kwargs: object) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kwargs)  # type: ignore[arg-type]
    return sink.getvalue()


def awkward_table(rows: int) -> pa.Table:
    """Every kind of value a preview must make JSON-safe."""
    start = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "score": pa.array(
                [[math.nan, math.inf, -math.inf, 0.5][i % 4] for i in range(rows)], pa.float64()
            ),
            "name": pa.array([None if i % 3 == 0 else f"n{i}" for i in range(rows)]),
            "at": pa.array(
                [start + dt.timedelta(hours=i) for i in range(rows)], pa.timestamp("us", "UTC")
            ),
            "day": pa.array([dt.date(2026, 1, 1 + i % 28) for i in range(rows)], pa.date32()),
            "flag": pa.array([i % 2 == 0 for i in range(rows)]),
            "raw": pa.array([bytes([i % 256, 0, 255]) for i in range(rows)], pa.binary()),
            "price": pa.array(
                [decimal.Decimal("1.25") * i for i in range(rows)], pa.decimal128(10, 2)
            ),
            "tags": pa.array([["a", "b"][: i % 3] for i in range(rows)], pa.list_(pa.string())),
            "point": pa.array(
                [{"x": i, "y": math.nan} for i in range(rows)],
                pa.struct([("x", pa.int64()), ("y", pa.float64())]),
            ),
        }
    )


def test_parquet_preview_is_json_safe_and_typed(client: Client, run_id: str) -> None:
    upload(client, run_id, "data/awkward.parquet", parquet_bytes(awkward_table(250)))
    preview = client.runs.preview_table(run_id, "data/awkward.parquet", limit=10)
    assert preview.path == "data/awkward.parquet"
    assert preview.total_rows == 250 and preview.truncated
    types = {c.name: c.type for c in preview.columns}
    assert types["id"] == "int64" and types["score"] == "double" and types["flag"] == "bool"
    assert types["at"].startswith("timestamp[us")
    assert len(preview.rows) == 10 and all(len(row) == len(preview.columns) for row in preview.rows)
    json.dumps(preview.model_dump(), allow_nan=False)  # no NaN or infinity anywhere
    first, second = (dict(zip(types, row, strict=True)) for row in preview.rows[:2])
    assert first["score"] is None and second["score"] is None  # NaN, inf -> null
    assert preview.rows[3][1] == 0.5
    assert first["name"] is None and second["name"] == "n1"
    assert first["at"] == "2026-01-31T12:00:00+00:00"
    assert first["day"] == "2026-01-01"
    assert first["flag"] is True and isinstance(first["id"], int)
    assert isinstance(first["raw"], str) and "\\x00" in first["raw"]
    assert second["price"] == "1.25"
    assert json.loads(str(second["tags"])) == ["a"]
    assert json.loads(str(first["point"])) == {"x": 0, "y": None}


def test_parquet_preview_reads_the_first_row_groups(client: Client, run_id: str) -> None:
    table = pa.table({"i": pa.array(range(5000), pa.int32())})
    upload(client, run_id, "many.parquet", parquet_bytes(table, row_group_size=300))
    preview = client.runs.preview_table(run_id, "many.parquet", limit=1000)
    assert [row[0] for row in preview.rows] == list(range(1000))
    assert preview.total_rows == 5000 and preview.truncated
    assert client.runs.preview_table(run_id, "many.parquet", limit=1).rows == [[0]]
    small = pa.table({"i": [1, 2]})
    upload(client, run_id, "small.parquet", parquet_bytes(small))
    preview = client.runs.preview_table(run_id, "small.parquet")
    assert preview.rows == [[1], [2]] and preview.total_rows == 2 and not preview.truncated


CSV = (
    "id,amount,merchant,when\n"
    "1,12.5,acme,2026-01-01T00:00:00\n"
    "2,nan,,2026-01-02T00:00:00\n"
    "3,7,globex,2026-01-03T00:00:00\n"
)


def test_csv_and_tsv_previews(client: Client, run_id: str) -> None:
    upload(client, run_id, "t.csv", CSV.encode())
    preview = client.runs.preview_table(run_id, "t.csv")
    assert [c.name for c in preview.columns] == ["id", "amount", "merchant", "when"]
    assert [c.type for c in preview.columns][:2] == ["int64", "double"]
    assert preview.rows[0] == [1, 12.5, "acme", "2026-01-01T00:00:00"]
    assert preview.rows[1][1] is None  # nan
    assert preview.total_rows == 3 and not preview.truncated
    cut = client.runs.preview_table(run_id, "t.csv", limit=2)
    assert len(cut.rows) == 2 and cut.truncated
    upload(client, run_id, "t.tsv", CSV.replace(",", "\t").encode())
    assert client.runs.preview_table(run_id, "t.tsv").rows == preview.rows
    upload(client, run_id, "t.csv.gz", gzip.compress(CSV.encode()))
    assert client.runs.preview_table(run_id, "t.csv.gz").rows == preview.rows


def test_a_long_csv_is_read_only_as_far_as_shown(client: Client, run_id: str) -> None:
    lines = "".join(f"{i},{'x' * 50}\n" for i in range(200_000))  # ~11 MB, many blocks
    upload(client, run_id, "long.csv", ("i,text\n" + lines).encode())
    preview = client.runs.preview_table(run_id, "long.csv", limit=5)
    assert [row[0] for row in preview.rows] == [0, 1, 2, 3, 4]
    assert preview.truncated and preview.total_rows is None  # not counted: not read


def test_what_is_not_a_table_is_a_clear_error(client: Client, run_id: str) -> None:
    upload(client, run_id, "notes.txt", b"hello")
    upload(client, run_id, "broken.parquet", b"PAR1 this is not parquet at all")
    upload(client, run_id, "half.parquet", parquet_bytes(pa.table({"i": [1, 2, 3]}))[:-20])
    upload(client, run_id, "binary.csv", bytes(range(256)) * 10)
    upload(client, run_id, "empty.csv", b"")
    with pytest.raises(UnreadableContent, match=r"'notes.txt' is not a table.*\.parquet"):
        client.runs.preview_table(run_id, "notes.txt")
    for path in ("broken.parquet", "half.parquet"):
        with pytest.raises(UnreadableContent, match=f"{path}' cannot be read as Parquet"):
            client.runs.preview_table(run_id, path)
    with pytest.raises(UnreadableContent, match="cannot be read as CSV"):
        client.runs.preview_table(run_id, "binary.csv")
    with pytest.raises(UnreadableContent, match=r"cannot be read as CSV.*[Ee]mpty"):
        client.runs.preview_table(run_id, "empty.csv")
    with pytest.raises(NotFound, match=r"no artifact 'missing\.csv'"):
        client.runs.preview_table(run_id, "missing.csv")
    with pytest.raises(NotFound):
        client.runs.preview_table("0" * 32, "t.csv")
    for limit in (0, 1001):
        with pytest.raises(InvalidInput, match="limit"):
            client.runs.preview_table(run_id, "notes.txt", limit=limit)


def test_json_scalars() -> None:
    assert json_scalar(float("nan")) is None and json_scalar(-math.inf) is None
    assert json_scalar(dt.time(12, 30)) == "12:30:00"
    assert json_scalar(dt.timedelta(minutes=1, seconds=30)) == 90.0
    assert json_scalar(decimal.Decimal("NaN")) is None
    assert json_scalar("x" * 5000).endswith("…") and len(str(json_scalar("x" * 5000))) == 1000
    assert json_scalar(b"\x00" * 100).endswith("(100 bytes)")  # type: ignore[union-attr]
    assert json_scalar({"a": [1, math.nan]}) == '{"a": [1, null]}'
