"""The first rows of a table artifact (Parquet, CSV, TSV) as JSON-safe values.

Only what the preview shows is read: a Parquet file's footer and its first row groups (the
stream is seekable, so a large file is not read through), a CSV file's first blocks.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import posixpath
import uuid
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from dockyard.core.errors import UnreadableContent
from dockyard.tracking.schemas import Scalar, TableColumn, TablePreview

TABLE_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".csv.gz": "csv",
    ".tsv.gz": "tsv",
}
MAX_TEXT = 1000  # characters of a string (or of a nested value's JSON) a cell shows
_CSV_BLOCK = 1 << 20


def table_format(path: str) -> str:
    """``parquet``, ``csv`` or ``tsv`` by the path's suffix; UnreadableContent otherwise."""
    name = posixpath.basename(path).lower()
    for suffix, kind in sorted(TABLE_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return kind
    known = ", ".join(TABLE_SUFFIXES)
    raise UnreadableContent(f"artifact {path!r} is not a table: previews read {known} files")


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def _plain(value: Any) -> Any:
    """A nested value's parts as JSON values (for its JSON text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return json_scalar(value)


def json_scalar(value: Any) -> Scalar:
    """A cell as a JSON scalar: non-finite numbers become None, times ISO text, bytes a
    short repr, decimals and other odd values their text, nested values their JSON text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return _text(repr(raw[:64]) + (f" … ({len(raw)} bytes)" if len(raw) > 64 else ""))
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dict, list, tuple)):
        return _text(json.dumps(_plain(value), ensure_ascii=False))
    return _text(str(value))


def _rows(batches: list[pa.RecordBatch], limit: int) -> list[list[Scalar]]:
    rows: list[list[Scalar]] = []
    for batch in batches:
        columns = [_column_values(batch.column(i)) for i in range(batch.num_columns)]
        rows.extend([json_scalar(col[r]) for col in columns] for r in range(batch.num_rows))
        if len(rows) >= limit:
            break
    return rows[:limit]


def _column_values(column: pa.Array) -> list[Any]:
    try:
        return column.to_pylist()  # type: ignore[no-any-return]
    except (pa.ArrowException, ValueError, OverflowError):
        # e.g. timestamps beyond Python's datetime range: show Arrow's own text
        return [None if v is None else str(v) for v in column.cast(pa.string()).to_pylist()]


def _columns(schema: pa.Schema) -> list[TableColumn]:
    return [TableColumn(name=field.name, type=str(field.type)) for field in schema]


def _problem(path: str, kind: str, exc: Exception) -> UnreadableContent:
    detail = " ".join(str(exc).split())[:300] or type(exc).__name__
    return UnreadableContent(f"artifact {path!r} cannot be read as {kind}: {detail}")


def _parquet(path: str, stream: BinaryIO, limit: int) -> TablePreview:
    try:
        file = pq.ParquetFile(stream)
        total = file.metadata.num_rows
        batches: list[pa.RecordBatch] = []
        taken = 0
        for batch in file.iter_batches(batch_size=min(limit, 1000)):
            batches.append(batch)
            taken += batch.num_rows
            if taken >= limit:
                break
        rows = _rows(batches, limit)
        columns = _columns(file.schema_arrow)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _problem(path, "Parquet", exc) from None
    return TablePreview(
        path=path, columns=columns, rows=rows, total_rows=total, truncated=total > len(rows)
    )


def _delimited(path: str, stream: BinaryIO, limit: int, kind: str) -> TablePreview:
    source: Any = stream
    if path.lower().endswith(".gz"):
        source = pa.CompressedInputStream(pa.PythonFile(stream, mode="r"), "gzip")
    try:
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK),
            parse_options=pa_csv.ParseOptions(delimiter="\t" if kind == "tsv" else ","),
        )
        batches: list[pa.RecordBatch] = []
        taken, ended = 0, False
        while taken <= limit:  # one row more than shown says whether there are more
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                ended = True
                break
            batches.append(batch)
            taken += batch.num_rows
        rows = _rows(batches, limit)
        columns = _columns(reader.schema)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _problem(path, kind.upper(), exc) from None
    return TablePreview(
        path=path,
        columns=columns,
        rows=rows,
        total_rows=taken if ended else None,
        truncated=taken > len(rows),
    )


def preview_table(path: str, stream: BinaryIO, limit: int) -> TablePreview:
    """The first ``limit`` rows of the table in ``stream`` (a seekable file of the artifact
    ``path``, whose suffix says its format). Raises UnreadableContent for a file that is not
    a table or is corrupt, saying what is wrong."""
    kind = table_format(path)
    if kind == "parquet":
        return _parquet(path, stream, limit)
    return _delimited(path, stream, limit, kind)
