"""What the source is, as a plan that streams conformed batches: files (a path, glob or URL,
read by ``readers``) or a table in memory (pandas, Polars, Arrow tables, batches, readers and
anything exporting an Arrow stream)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest.conform import SLICE_ROWS, _conform, _target_schema
from dockyard.data.ingest.files import _find_files
from dockyard.data.ingest.readers import _files_stream

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class _Plan:
    description: str
    total: int | None
    stream: Generator[Any, None, None]
    """Yields ``(schema, done)`` first, then ``(batch, done)`` per batch."""


def _plan(
    source: Any, format: str | None, types: dict[str, pa.DataType], options: dict[str, Any]
) -> _Plan:
    if isinstance(source, (str, os.PathLike)):
        files, description = _find_files(source, format, options)
        sizes = [f.size for f in files]
        total = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)
        return _Plan(description, total, _files_stream(files, types))
    return _memory_plan(source, types)


def _memory_plan(source: Any, types: dict[str, pa.DataType]) -> _Plan:
    import pyarrow as pa

    module = type(source).__module__.split(".")[0]
    kind = type(source).__name__
    if module == "pandas" and kind == "DataFrame":
        return _pandas_plan(source, types)
    if module == "polars" and kind in ("DataFrame", "LazyFrame"):
        frame = source.collect() if kind == "LazyFrame" else source
        table = frame.to_arrow()
        return _table_plan(table, types, f"polars.{kind}")
    if isinstance(source, pa.Table):
        return _table_plan(source, types, "pyarrow.Table")
    if isinstance(source, pa.RecordBatch):
        return _table_plan(pa.Table.from_batches([source]), types, "pyarrow.RecordBatch")
    if isinstance(source, pa.RecordBatchReader):
        return _reader_plan(source, types, "pyarrow.RecordBatchReader")
    if hasattr(source, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(source)
        return _reader_plan(reader, types, f"{module}.{kind}")
    raise InvalidInput(
        f"cannot ingest a {module}.{kind}: pass a pandas or Polars DataFrame, a pyarrow Table "
        "or RecordBatchReader, or a path, glob or URL of CSV, JSON lines, Parquet or Arrow files"
    )


def _table_plan(table: pa.Table, types: dict[str, pa.DataType], description: str) -> _Plan:
    target = _target_schema(table.schema, types, description)

    def stream() -> Generator[Any, None, None]:
        yield target, 0
        done = 0
        for batch in table.to_batches(max_chunksize=SLICE_ROWS):
            done += batch.num_rows
            yield _conform(batch, target, types, description), done

    return _Plan(description, table.num_rows, stream())


def _reader_plan(
    reader: pa.RecordBatchReader, types: dict[str, pa.DataType], description: str
) -> _Plan:
    import pyarrow as pa

    target = _target_schema(reader.schema, types, description)

    def stream() -> Generator[Any, None, None]:
        with contextlib.closing(reader):
            yield target, 0
            done = 0
            for batch in reader:
                done += batch.num_rows
                for piece in pa.Table.from_batches([batch]).to_batches(SLICE_ROWS):
                    yield _conform(piece, target, types, description), done

    return _Plan(description, None, stream())


def _pandas_plan(frame: Any, types: dict[str, pa.DataType]) -> _Plan:
    """Convert a DataFrame slice by slice. Named index levels become the first columns;
    unnamed ones (a RangeIndex, the row positions left by a filter) are dropped."""
    import pyarrow as pa

    description = "pandas.DataFrame"
    named = [name for name in frame.index.names if name is not None]
    if named:
        frame = frame.reset_index(level=named)
    if len(frame.columns) == 0:
        raise InvalidInput("the pandas.DataFrame has no columns")
    names = [str(name) for name in frame.columns]
    if len(set(names)) < len(names):
        twice = next(name for name in names if names.count(name) > 1)
        raise InvalidInput(f"column {twice!r} appears twice in the pandas.DataFrame: rename one")
    if names != list(frame.columns):
        frame = frame.set_axis(names, axis=1)
    try:
        raw = pa.Schema.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _pandas_error(exc, description, _failing_column(frame)) from None
    raw = raw.remove_metadata()
    target = _target_schema(raw, types, description)

    def stream() -> Generator[Any, None, None]:
        yield target, 0
        for start in range(0, len(frame), SLICE_ROWS):
            piece = frame.iloc[start : start + SLICE_ROWS]
            try:
                # A Table, not a RecordBatch: pandas 3's Arrow-backed columns can arrive in
                # several chunks (after a concat, say), which a RecordBatch cannot hold.
                table = pa.Table.from_pandas(piece, schema=raw, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise _pandas_error(exc, description, _failing_column(piece)) from None
            for batch in table.combine_chunks().to_batches():
                yield _conform(batch, target, types, description), start + len(piece)

    return _Plan(description, len(frame), stream())


def _failing_column(frame: Any) -> str | None:
    """The first column of ``frame`` Arrow cannot convert on its own."""
    import pyarrow as pa

    for name in frame.columns:
        try:
            pa.Schema.from_pandas(frame[[name]], preserve_index=False)
            pa.Table.from_pandas(frame[[name]].iloc[:SLICE_ROWS], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return str(name)
    return None


def _pandas_error(exc: Exception, where: str, column: str | None) -> InvalidInput:
    text = str(exc).strip().splitlines()[0]
    named = f"column {column!r}" if column is not None else "a column"
    example = f"df[{column!r}]" if column is not None else "df[col]"
    return InvalidInput(
        f"{named} of the {where} holds values Arrow cannot store together ({text}); "
        f"give it one type, e.g. {example} = {example}.astype(str), or fix the values"
    )
