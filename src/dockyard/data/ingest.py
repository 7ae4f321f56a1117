"""Turn what a user gives (a DataFrame, an Arrow table, local files, a glob, a URL) into the
Parquet files of a dataset version, streaming with bounded memory.

A version is content-addressed, so the output is deterministic: the same rows with the same
types give byte-identical files, whatever the source and however it was chunked. Rows are
written in row groups of a fixed number of rows (chosen from the width of the first rows),
each group copied into contiguous arrays first, and files roll over at row-group boundaries.
Nothing here touches a database or a service.

Formats: CSV (``.csv``, ``.tsv``), JSON lines (``.jsonl``, ``.ndjson``, ``.json``), Parquet
(``.parquet``, ``.pq``) and Arrow IPC (``.arrow``, ``.feather``, ``.ipc``); CSV and JSON may
be compressed (``.gz``, ``.bz2``, ``.zst``, ``.lz4``, ``.br``).
"""

from __future__ import annotations

import contextlib
import glob as globbing
import hashlib
import io
import math
import os
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from dockyard.core.errors import InvalidInput
from dockyard.data.schemas import Column

if TYPE_CHECKING:
    import pyarrow as pa

Progress = Callable[[int, "int | None"], None]
"""``progress(done, total)``: bytes of the source read so far and the total bytes when known
(rows for in-memory tables)."""

PART_NAME = "part-{:05d}.parquet"
FILE_BYTES = 256 << 20
"""Without ``rows_per_file``, a file is closed at the first row-group boundary at or past
this size, so files hold about 256-320 MB."""
ROW_GROUP_BYTES = 64 << 20
"""Uncompressed Arrow bytes a row group aims at; its row count is a power of two."""
MIN_GROUP_ROWS = 1 << 10
MAX_GROUP_ROWS = 1 << 20
PROBE_ROWS = 1 << 16
"""The row width that sizes row groups is measured on this many first rows."""
HEAD_BYTES = 16 << 20
"""CSV and JSON types are inferred from this many first bytes, parsed at once."""
STREAM_BLOCK = 1 << 20
"""CSV and JSON are then streamed in blocks of this many bytes. Arrow's reader keeps a few
dozen blocks in flight, so this bounds memory: 16 MiB blocks cost ~600 MiB of buffers."""
REMOTE_BLOCK = 8 << 20
"""Remote files (fsspec) are fetched in requests of this many bytes."""
SLICE_ROWS = 1 << 16
"""In-memory tables are converted and cast in slices of this many rows."""
ZSTD_LEVEL = 1
PREFETCH = 4
"""Batches read ahead of the Parquet encoder, by a thread of their own."""

_COMPRESSIONS = {
    ".gz": "gzip",
    ".bz2": "bz2",
    ".zst": "zstd",
    ".zstd": "zstd",
    ".lz4": "lz4",
    ".br": "brotli",
}
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "json",
    ".ndjson": "json",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
_FORMAT_NAMES = {
    "csv": "csv",
    "tsv": "tsv",
    "json": "json",
    "jsonl": "json",
    "ndjson": "json",
    "parquet": "parquet",
    "pq": "parquet",
    "arrow": "arrow",
    "ipc": "arrow",
    "feather": "arrow",
}
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class IngestedFile:
    """A finished Parquet file: its path, rows, bytes and sha256 (hex)."""

    path: Path
    rows: int
    size: int
    digest: str


@dataclass(frozen=True)
class Ingested:
    """The Parquet files made from a source, their shared schema and where they came from."""

    files: list[IngestedFile]
    columns: list[Column]
    rows: int
    source: str
    bytes: int = 0


def columns_of(schema: pa.Schema) -> list[Column]:
    """The columns of an Arrow schema as a version records them."""
    return [Column(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]


def parse_type(name: str | pa.DataType, column: str = "") -> pa.DataType:
    """The Arrow type named ``name``: ``int64``, ``float64``, ``string``, ``bool``, ``date32``,
    ``timestamp[us]``, ``timestamp[us, tz=UTC]``, ``decimal128(12, 2)``..."""
    import pyarrow as pa

    if isinstance(name, pa.DataType):
        return _normal_type(name)
    text = name.strip()
    with contextlib.suppress(ValueError, KeyError):
        return _normal_type(pa.type_for_alias(text))
    match = re.fullmatch(r"timestamp\[(s|ms|us|ns)(?:,\s*tz=([^\]]+))?\]", text)
    if match:
        return pa.timestamp(match.group(1), tz=match.group(2))
    match = re.fullmatch(r"(decimal|decimal128|decimal256)\(\s*(\d+)\s*,\s*(-?\d+)\s*\)", text)
    if match:
        maker = pa.decimal256 if match.group(1) == "decimal256" else pa.decimal128
        with contextlib.suppress(ValueError):
            return maker(int(match.group(2)), int(match.group(3)))
    where = f" for column {column!r}" if column else ""
    raise InvalidInput(
        f"schema: unknown type {name!r}{where}: use an Arrow type such as int64, float64, "
        "string, bool, date32, timestamp[us], timestamp[us, tz=UTC] or decimal128(12, 2)"
    )


def to_parquet(
    source: Any,
    workdir: Path,
    *,
    format: str | None = None,
    schema: Mapping[str, str | pa.DataType] | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    rows_per_file: int | None = None,
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
) -> Ingested:
    """Write ``source`` as ``part-00000.parquet``, ``part-00001.parquet``... in ``workdir``.

    ``source`` is a pandas or Polars DataFrame, a pyarrow Table, RecordBatch or
    RecordBatchReader (or anything exporting an Arrow stream), or a str/Path: a local file,
    a glob (files taken in sorted order, all with one schema) or a URL (``s3://``,
    ``file://``... read with fsspec and ``storage_options``). ``format`` overrides the
    format told by the extension. ``schema`` maps column names to Arrow types to use instead
    of the inferred ones. Files roll over every ``rows_per_file`` rows, or by default at
    about 256 MB. ``on_batch`` sees every written row group, in order (for statistics).

    Bad input raises :class:`InvalidInput` saying what to fix; the files written so far are
    removed first. A file is only named ``part-*.parquet`` once it is complete.
    """
    if rows_per_file is not None and rows_per_file < 1:
        raise InvalidInput(f"rows_per_file must be at least 1, not {rows_per_file}")
    types = {name: parse_type(type_name, name) for name, type_name in (schema or {}).items()}
    plan = _plan(source, format, types, storage_options or {})
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    stale = sorted(workdir.glob("part-*.parquet*"))
    if stale:
        raise InvalidInput(f"{workdir} already holds {stale[0].name}: ingest into an empty folder")
    tracker = _Tracker(progress, plan.total)
    writer: _PartWriter | None = None
    try:
        with contextlib.closing(_prefetched(plan.stream, PREFETCH)) as stream:
            target, first = next(stream)
            writer = _PartWriter(workdir, target, rows_per_file, on_batch)
            tracker.report(first)
            for batch, done in stream:
                writer.write(batch)
                tracker.report(done)
        files = writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    tracker.finish()
    return Ingested(
        files=files,
        columns=columns_of(writer.schema),
        rows=sum(f.rows for f in files),
        source=plan.description,
        bytes=sum(f.size for f in files),
    )


# -- reading ahead ----------------------------------------------------------------------


@dataclass
class _Failed:
    error: BaseException


_END = object()


def _prefetched(stream: Generator[Any, None, None], depth: int) -> Generator[Any, None, None]:
    """``stream``'s items, produced by a thread of their own up to ``depth`` ahead, so that
    reading and converting (in one thread) overlap with encoding Parquet (in the caller's).
    Arrow releases the GIL for both. Errors of the stream are raised here, in order."""
    import queue
    import threading

    items: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in stream:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:
            put(_Failed(exc))
        finally:
            stream.close()

    thread = threading.Thread(target=produce, name="dockyard-ingest-read", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                items.get_nowait()
        thread.join()


# -- progress ---------------------------------------------------------------------------


class _Tracker:
    def __init__(self, callback: Progress | None, total: int | None) -> None:
        self.callback = callback
        self.total = total
        self.done = 0

    def report(self, done: int) -> None:
        done = max(self.done, done if self.total is None else min(done, self.total))
        self.done = done
        if self.callback is not None:
            self.callback(done, self.total)

    def finish(self) -> None:
        self.report(self.total if self.total is not None else self.done)


# -- writing ----------------------------------------------------------------------------


class _HashingFile(io.RawIOBase):
    """A write-only file that hashes and counts what it is given."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self._file.write(view)
        self.size += len(view)
        return len(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        super().close()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class _OpenPart:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.sink = _HashingFile(self.partial)
        self.rows = 0
        self.writer = pq.ParquetWriter(
            self.sink,
            schema,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            version="2.6",
            use_dictionary=True,
            write_statistics=True,
            data_page_size=1 << 20,
        )

    def finish(self) -> IngestedFile:
        self.writer.close()
        self.sink.close()
        self.partial.replace(self.path)
        return IngestedFile(self.path, self.rows, self.sink.size, self.sink.hexdigest())

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(Exception):
            self.sink.close()
        self.partial.unlink(missing_ok=True)


class _PartWriter:
    """Buffers batches into row groups of ``group_rows`` rows and rolls files over."""

    def __init__(
        self,
        workdir: Path,
        schema: pa.Schema,
        rows_per_file: int | None,
        on_batch: Callable[[pa.RecordBatch], None] | None,
    ) -> None:
        self.workdir = workdir
        self.schema = schema
        self.rows_per_file = rows_per_file
        self.on_batch = on_batch
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.group_rows: int | None = None
        self.files: list[IngestedFile] = []
        self.part: _OpenPart | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        if self.group_rows is None:
            if self.pending_rows < PROBE_ROWS:
                return
            self.group_rows = _group_rows(self._table().slice(0, PROBE_ROWS))
        self._drain(final=False)

    def close(self) -> list[IngestedFile]:
        if self.group_rows is None and self.pending_rows:
            self.group_rows = _group_rows(self._table())
        self._drain(final=True)
        if self.part is None and not self.files:
            self.part = self._open()  # no rows: one empty file keeps the schema
        if self.part is not None:
            self.files.append(self.part.finish())
            self.part = None
        return self.files

    def abort(self) -> None:
        if self.part is not None:
            self.part.discard()
            self.part = None
        for done in self.files:
            done.path.unlink(missing_ok=True)
        self.files = []

    def _table(self) -> pa.Table:
        import pyarrow as pa

        return pa.Table.from_batches(self.pending, schema=self.schema)

    def _open(self) -> _OpenPart:
        return _OpenPart(self.workdir / PART_NAME.format(len(self.files)), self.schema)

    def _drain(self, *, final: bool) -> None:
        assert self.group_rows is not None or not self.pending_rows
        while self.pending_rows:
            assert self.group_rows is not None
            part = self.part or self._open()
            self.part = part
            want = self.group_rows
            if self.rows_per_file is not None:
                want = min(want, self.rows_per_file - part.rows)
            if self.pending_rows < want and not final:
                return
            take = min(want, self.pending_rows)
            table = self._table()
            group = table.slice(0, take).combine_chunks()
            rest = table.slice(take)
            self.pending = rest.to_batches()
            self.pending_rows = rest.num_rows
            part.writer.write_table(group, row_group_size=take)
            part.rows += take
            if self.on_batch is not None:
                for batch in group.to_batches():
                    self.on_batch(batch)
            full = (
                part.rows >= self.rows_per_file
                if self.rows_per_file is not None
                else part.sink.size >= FILE_BYTES
            )
            if full:
                self.files.append(part.finish())
                self.part = None


def _group_rows(probe: pa.Table) -> int:
    """Rows per row group: a power of two near ROW_GROUP_BYTES / the mean row width, from
    the content of the first rows only (not from how they happen to be chunked)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = max(1, probe.num_rows)
    width = 0.0
    for column in probe.columns:
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_binary(kind):
            lengths = pc.sum(pc.binary_length(column)).as_py() or 0
            width += 4 + lengths / rows
        else:
            try:
                width += max(kind.bit_width, 1) / 8
            except ValueError:
                width += column.nbytes / rows
    target = ROW_GROUP_BYTES / max(width, 1.0)
    return int(min(MAX_GROUP_ROWS, max(MIN_GROUP_ROWS, 2 ** math.floor(math.log2(target)))))


# -- types ------------------------------------------------------------------------------


def _normal_type(kind: pa.DataType) -> pa.DataType:
    """The type a version stores for ``kind``: one string and binary layout, dictionaries
    decoded, all-null columns as string, no field metadata in nested types."""
    import pyarrow as pa

    t = pa.types
    if t.is_null(kind) or t.is_large_string(kind) or t.is_string_view(kind):
        return pa.string()
    if t.is_large_binary(kind) or t.is_binary_view(kind):
        return pa.binary()
    if t.is_dictionary(kind):
        return _normal_type(kind.value_type)
    if t.is_list(kind) or t.is_large_list(kind) or t.is_list_view(kind):
        return pa.list_(_normal_type(kind.value_type))
    if t.is_large_list_view(kind):
        return pa.list_(_normal_type(kind.value_type))
    if t.is_fixed_size_list(kind):
        return pa.list_(_normal_type(kind.value_type), kind.list_size)
    if t.is_struct(kind):
        return pa.struct([pa.field(f.name, _normal_type(f.type), f.nullable) for f in kind.fields])
    if t.is_map(kind):
        return pa.map_(_normal_type(kind.key_type), _normal_type(kind.item_type))
    return kind


def _target_schema(raw: pa.Schema, types: Mapping[str, pa.DataType], where: str) -> pa.Schema:
    """The schema written for data read as ``raw``: normalized types, the user's overrides."""
    import pyarrow as pa

    if not raw.names:
        raise InvalidInput(f"{where} has no columns")
    seen: set[str] = set()
    for name in raw.names:
        if name in seen:
            raise InvalidInput(f"column {name!r} appears twice in {where}: rename one")
        seen.add(name)
    missing = [name for name in types if name not in seen]
    if missing:
        raise InvalidInput(
            f"schema names column {missing[0]!r} that {where} lacks; its columns are "
            f"{_names(raw.names)}"
        )
    return pa.schema(
        [pa.field(f.name, types.get(f.name) or _normal_type(f.type), f.nullable) for f in raw]
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "")


def _conform(
    batch: pa.RecordBatch, target: pa.Schema, types: Mapping[str, pa.DataType], where: str
) -> pa.RecordBatch:
    """``batch`` with ``target``'s types (a safe cast; columns already in target's order)."""
    import pyarrow as pa

    if batch.schema.equals(target, check_metadata=False):
        return batch
    arrays = []
    for field_, column in zip(target, batch.columns, strict=True):
        if column.type != field_.type:
            try:
                column = column.cast(field_.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise _cast_error(
                    field_.name, column.type, field_.type, types, where, exc
                ) from None
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _cast_error(
    name: str,
    have: pa.DataType,
    want: pa.DataType,
    types: Mapping[str, pa.DataType],
    where: str,
    exc: Exception,
) -> InvalidInput:
    detail = str(exc).strip().splitlines()[0]
    if name in types:
        fix = f"change schema[{name!r}] or fix the data"
    else:
        fix = f"pass schema={{{name!r}: ...}} with a type that fits, or fix the data"
    return InvalidInput(
        f"column {name!r} of {where} cannot be converted from {have} to {want} ({detail}); {fix}"
    )


# -- planning: what the source is -------------------------------------------------------


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


# -- files ------------------------------------------------------------------------------


@dataclass
class _File:
    name: str
    """How messages name it: the path or URL."""
    path: str
    fs: Any
    """An fsspec filesystem, or None for a local file."""
    size: int | None
    format: str
    compression: str | None


def _find_files(
    spec: str | os.PathLike[str], format: str | None, options: dict[str, Any]
) -> tuple[list[_File], str]:
    text = os.fspath(spec)
    if isinstance(spec, str) and "://" in text:
        if text.startswith("file://"):
            text = unquote(urlsplit(text).path)
        else:
            return _find_remote(text, format, options)
    pattern = str(Path(text).expanduser())
    if _GLOB_CHARS.search(pattern) and not Path(pattern).exists():
        matches = sorted(p for p in globbing.glob(pattern, recursive=True) if Path(p).is_file())  # noqa: PTH207
        if not matches:
            raise InvalidInput(f"no file matches {text!r}")
        absolute = str(Path(pattern).absolute())
        files = [_local_file(p, format) for p in matches]
        return files, absolute
    path = Path(pattern)
    if not path.exists():
        raise InvalidInput(f"no such file: {text}")
    if path.is_dir():
        raise InvalidInput(f"{text} is a folder: pass a file or a glob such as '{text}/*.parquet'")
    return [_local_file(str(path), format)], str(path.absolute())


def _local_file(path: str, format: str | None) -> _File:
    fmt, compression = _format_of(path, format)
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return _File(path, path, None, size, fmt, compression)


def _find_remote(url: str, format: str | None, options: dict[str, Any]) -> tuple[list[_File], str]:
    from fsspec.core import url_to_fs

    parts = urlsplit(url)
    shown = url
    if parts.password or parts.username:  # never record credentials in the version
        shown = urlunsplit(parts._replace(netloc=parts.hostname or ""))
    protocol = parts.scheme
    try:
        fs, path = url_to_fs(url, **options)
    except (ImportError, ValueError) as exc:
        hint = " (pip install 'dockyard[s3]')" if protocol in ("s3", "s3a") else ""
        raise InvalidInput(
            f"cannot read {shown}: no filesystem for {protocol!r}{hint}: {exc}"
        ) from None
    except Exception as exc:
        raise InvalidInput(f"cannot read {shown}: {_oneline(exc)}") from None
    protocol_prefix = url.split("://", 1)[0] + "://"
    try:
        if _GLOB_CHARS.search(path):
            found = fs.glob(path, detail=True)
            infos = sorted((p, i) for p, i in found.items() if i.get("type") != "directory")
            if not infos:
                raise InvalidInput(f"no object matches {shown}")
        else:
            info = fs.info(path)
            if info.get("type") == "directory":
                raise InvalidInput(
                    f"{shown} is a folder: pass a file or a glob such as '{shown}/*.parquet'"
                )
            infos = [(path, info)]
    except InvalidInput:
        raise
    except FileNotFoundError as exc:
        cause = exc.__cause__ or exc.__context__
        if cause is not None:  # e.g. HTTP: a connection failure surfaces as "not found"
            raise InvalidInput(f"cannot reach {shown}: {_oneline(cause)}") from None
        raise InvalidInput(f"no such file: {shown}") from None
    except Exception as exc:
        raise InvalidInput(f"cannot reach {shown}: {_oneline(exc)}") from None
    files = []
    for path_, info in infos:
        name = protocol_prefix + path_.split("://", 1)[-1] if len(infos) > 1 else shown
        fmt, compression = _format_of(path_, format)
        size = info.get("size")
        files.append(
            _File(name, path_, fs, int(size) if size is not None else None, fmt, compression)
        )
    return files, shown


def _oneline(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


def _format_of(path: str, format: str | None) -> tuple[str, str | None]:
    name = path.rsplit("/", 1)[-1].lower()
    compression = None
    for ext, codec in _COMPRESSIONS.items():
        if name.endswith(ext):
            compression = codec
            name = name[: -len(ext)]
            break
    if format is not None:
        fmt = _FORMAT_NAMES.get(format.lower().lstrip("."))
        if fmt is None:
            raise InvalidInput(
                f"unknown format {format!r}: use csv, tsv, json (JSON lines), parquet or arrow"
            )
    else:
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        found = _EXTENSIONS.get(suffix)
        if found is None:
            raise InvalidInput(
                f"cannot tell the format of {path} from its extension: pass "
                "format='csv', 'tsv', 'json' (JSON lines), 'parquet' or 'arrow'"
            )
        fmt = found
    if compression and fmt in ("parquet", "arrow"):
        raise InvalidInput(
            f"{path}: a compressed {fmt} file cannot be streamed; decompress it first "
            f"({fmt} compresses its own columns)"
        )
    return fmt, compression


def _files_stream(files: list[_File], types: dict[str, pa.DataType]) -> Generator[Any, None, None]:
    """Every file's batches in turn, all conformed to the first file's schema."""
    formats = {f.format.replace("tsv", "csv") for f in files}
    if len(formats) > 1:
        raise InvalidInput(
            f"the files mix formats ({', '.join(sorted(formats))}): ingest one format at a time"
        )
    before = 0
    target: pa.Schema | None = None
    first = files[0].name
    for file in files:
        reader = _READERS[file.format]
        schema, batches = reader(file, types, target)
        with contextlib.closing(batches):
            if target is None:
                target = schema
                yield target, 0
            elif not schema.equals(target, check_metadata=False):
                raise InvalidInput(_schema_difference(file.name, schema, first, target))
            for batch, done in batches:
                yield batch, before + done
        before += file.size or 0


def _schema_difference(name: str, schema: pa.Schema, first: str, target: pa.Schema) -> str:
    have, want = schema.names, target.names
    if have != want:
        missing = [n for n in want if n not in have]
        extra = [n for n in have if n not in want]
        parts = []
        if missing:
            parts.append(f"lacks {_names(missing)}")
        if extra:
            parts.append(f"has extra {_names(extra)}")
        if not parts:
            parts.append(f"has the columns in another order ({_names(have)})")
        how = " and ".join(parts)
        return f"{name} does not have the columns of {first}: it {how}; all files need one schema"
    for mine, theirs in zip(schema, target, strict=True):
        if mine.type != theirs.type:
            return (
                f"column {mine.name!r} is {mine.type} in {name} but {theirs.type} in {first}; "
                f"pass schema={{{mine.name!r}: '{theirs.type}'}} (or another type both fit) "
                "or make the files agree"
            )
    return f"{name} does not have the schema of {first}"


# -- opening bytes ----------------------------------------------------------------------


class _Raw:
    """The bytes of a file as Arrow reads them, and how many it has read so far."""

    def __init__(self, file: _File) -> None:
        import pyarrow as pa

        self.file = file
        self.handle: Any = None
        try:
            if file.fs is None:
                self.raw = pa.OSFile(file.path, "r")
            else:
                self.handle = file.fs.open(file.path, "rb", block_size=REMOTE_BLOCK)
                self.raw = pa.PythonFile(self.handle, mode="r")
        except FileNotFoundError:
            raise InvalidInput(f"no such file: {file.name}") from None
        except Exception as exc:
            raise InvalidInput(f"cannot read {file.name}: {_oneline(exc)}") from None
        self.stream = (
            pa.CompressedInputStream(self.raw, file.compression) if file.compression else self.raw
        )

    def position(self) -> int:
        try:
            return int(self.raw.tell())
        except Exception:
            return 0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stream.close()
        with contextlib.suppress(Exception):
            self.raw.close()
        if self.handle is not None:
            with contextlib.suppress(Exception):
                self.handle.close()


Reader = Callable[
    [_File, dict[str, "pa.DataType"], "pa.Schema | None"],
    "tuple[pa.Schema, Generator[tuple[pa.RecordBatch, int], None, None]]",
]


def _check_empty(file: _File) -> None:
    if file.size == 0:
        raise InvalidInput(f"{file.name} is empty (0 bytes)")


# -- CSV --------------------------------------------------------------------------------


def _head(file: _File, limit: int | None = None) -> tuple[bytes, bool]:
    """The first ``limit`` (HEAD_BYTES) bytes of the (decompressed) content, cut after a
    line break, and whether there is more."""
    limit = HEAD_BYTES if limit is None else limit
    raw = _Raw(file)
    try:
        data = bytes(raw.stream.read(limit + 1))
    finally:
        raw.close()
    if len(data) <= limit:
        return data, False
    cut = data.rfind(b"\n", 0, limit)
    return (data[: cut + 1] if cut >= 0 else b""), True


def _csv_parse_options(file: _File) -> Any:
    import pyarrow.csv as pcsv

    return pcsv.ParseOptions(delimiter="\t" if file.format == "tsv" else ",")


def _csv_convert_options(column_types: Mapping[str, pa.DataType]) -> Any:
    import pyarrow.csv as pcsv

    return pcsv.ConvertOptions(column_types=dict(column_types), strings_can_be_null=True)


def _infer_csv(file: _File, types: Mapping[str, pa.DataType]) -> pa.Schema | None:
    """Column types inferred from the first HEAD_BYTES (all of it at once, so a column is
    typed by every value there), or None if the head cannot be cut cleanly (a quoted line
    break at the cut): then the stream infers from its first block."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    head, truncated = _head(file)
    if not head.strip():
        if truncated:
            return None
        raise InvalidInput(f"{file.name} is empty: it has no header row")
    try:
        table = pcsv.read_csv(
            io.BytesIO(head),
            read_options=pcsv.ReadOptions(block_size=len(head) + 1, use_threads=False),
            parse_options=_csv_parse_options(file),
            convert_options=_csv_convert_options(types),
        )
    except pa.ArrowInvalid as exc:
        if truncated and not _CSV_CONVERSION.search(str(exc)):
            return None
        raise _csv_error(exc, file, _csv_names(file, head), types) from None
    return table.schema


def _open_csv(
    file: _File,
    column_types: Mapping[str, pa.DataType],
    types: Mapping[str, pa.DataType],
    later_file: bool,
) -> tuple[_Raw, Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    raw = _Raw(file)
    try:
        reader = pcsv.open_csv(
            raw.stream,
            read_options=pcsv.ReadOptions(block_size=STREAM_BLOCK, use_threads=False),
            parse_options=_csv_parse_options(file),
            convert_options=_csv_convert_options(column_types),
        )
    except pa.ArrowInvalid as exc:
        raw.close()
        raise _csv_error(exc, file, _csv_names(file), types, later_file) from None
    except BaseException:
        raw.close()
        raise
    return raw, reader


def _csv_names(file: _File, head: bytes | None = None) -> list[str] | None:
    """The column names of a CSV's header, for messages."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if head is None:
        head = _head(file, 1 << 20)[0]
    try:
        reader = pcsv.open_csv(io.BytesIO(head), parse_options=_csv_parse_options(file))
    except pa.ArrowInvalid:
        return None
    names: list[str] = reader.schema.names
    return names


def _read_csv(
    file: _File, types: dict[str, pa.DataType], first: pa.Schema | None
) -> tuple[pa.Schema, Generator[tuple[pa.RecordBatch, int], None, None]]:
    """CSV streamed in small blocks (see STREAM_BLOCK). Types are those
    of the first file's first HEAD_BYTES (a column empty there is string), or the schema's,
    imposed on every block and file after."""
    import pyarrow as pa

    _check_empty(file)
    column_types: dict[str, pa.DataType] = dict(types)
    if first is not None:
        column_types = {f.name: f.type for f in first}
    else:
        inferred = _infer_csv(file, types)
        if inferred is not None:
            column_types = {
                f.name: t
                for f, t in zip(
                    inferred, _target_schema(inferred, types, file.name).types, strict=True
                )
            }
    raw, reader = _open_csv(file, column_types, types, first is not None)
    target = _target_schema(reader.schema, types, file.name)
    retype = {
        f.name: target.field(f.name).type
        for f in reader.schema
        if f.type != target.field(f.name).type and f.name not in column_types
    }
    if retype:  # a column empty in the first block: read it as string
        raw.close()
        column_types.update(retype)
        raw, reader = _open_csv(file, column_types, types, first is not None)
    names = reader.schema.names

    def batches() -> Generator[tuple[pa.RecordBatch, int], None, None]:
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as exc:
                    raise _csv_error(exc, file, names, types, first is not None) from None
                yield _conform(batch, target, types, file.name), raw.position()
        finally:
            raw.close()

    return target, batches()


_CSV_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to ([^:]+): invalid value '(.*)'",
    re.S,
)
_CSV_FIELDS = re.compile(
    r"CSV parse error: (?:Row #(\d+): )?Expected (\d+) columns, got (\d+): (.*)", re.S
)


def _csv_error(
    exc: Exception,
    file: _File,
    names: list[str] | None,
    types: Mapping[str, pa.DataType],
    later_file: bool = False,
) -> InvalidInput:
    text = str(exc).strip()
    if "Empty CSV file" in text:
        return InvalidInput(f"{file.name} is empty: it has no header row")
    match = _CSV_CONVERSION.search(text)
    if match:
        index, row, kind, value = match.groups()
        name = names[int(index)] if names is not None else f"#{int(index) + 1}"
        at = f"line {row} of {file.name}" if row else file.name
        if name in types:
            fix = f"change schema[{name!r}] or fix the file"
            origin = "the type the schema gives"
        else:
            fix = f"pass schema={{{name!r}: 'string'}} (or another type that fits) or fix the file"
            origin = (
                "the type of the first file"
                if later_file
                else "the type inferred from the first rows"
            )
        return InvalidInput(
            f"column {name!r}: {value[:100]!r} at {at} is not {kind} ({origin}); {fix}"
        )
    match = _CSV_FIELDS.search(text)
    if match:
        row, expected, got, line = match.groups()
        at = f"line {row} of {file.name}" if row else file.name
        return InvalidInput(
            f"{at} has {got} fields but the header has {expected}: {line.strip()[:120]!r}; "
            "fix the row (quote values that hold the delimiter)"
        )
    return InvalidInput(f"{file.name} is not valid CSV: {_oneline(exc)}")


# -- JSON lines -------------------------------------------------------------------------


def _infer_json(file: _File) -> pa.Schema:
    """Fields and types of the first HEAD_BYTES of JSON lines, parsed at once."""
    import pyarrow as pa
    import pyarrow.json as pjson

    head, _ = _head(file)
    if not head.strip():
        raise InvalidInput(f"{file.name} is empty: it holds no JSON records")
    try:
        table = pjson.read_json(
            io.BytesIO(head),
            read_options=pjson.ReadOptions(block_size=len(head) + 1, use_threads=False),
            parse_options=pjson.ParseOptions(unexpected_field_behavior="infer"),
        )
    except pa.ArrowInvalid as exc:
        raise _json_error(exc, file, 0, head[:256]) from None
    return table.schema


def _open_json(file: _File, explicit: pa.Schema) -> tuple[_Raw, Any]:
    import pyarrow as pa
    import pyarrow.json as pjson

    raw = _Raw(file)
    try:
        reader = pjson.open_json(
            raw.stream,
            read_options=pjson.ReadOptions(block_size=STREAM_BLOCK, use_threads=True),
            parse_options=pjson.ParseOptions(
                explicit_schema=explicit, unexpected_field_behavior="error"
            ),
        )
    except pa.ArrowInvalid as exc:
        raw.close()
        raise _json_error(exc, file, 0, b"") from None
    except BaseException:
        raw.close()
        raise
    return raw, reader


_JSON_NATIVE = ("int", "uint", "float", "double", "bool", "string", "timestamp")


def _read_json(
    file: _File, types: dict[str, pa.DataType], first: pa.Schema | None
) -> tuple[pa.Schema, Generator[tuple[pa.RecordBatch, int], None, None]]:
    """JSON lines streamed in small blocks. Fields and types come from the first
    HEAD_BYTES (a field null there is read as the schema's type or string), or from the
    first file; a field that first appears later is an error unless the schema names it."""
    import pyarrow as pa

    _check_empty(file)
    inferred = _infer_json(file)
    declared: dict[str, pa.DataType] = {}
    late: list[str] = []
    if first is not None:
        declared = {f.name: f.type for f in first}
        order = list(first.names) + [n for n in inferred.names if n not in declared]
    else:
        late = [n for n in types if n not in inferred.names]
        order = list(inferred.names) + late
    fields = []
    for name in order:
        kind: pa.DataType | None = declared.get(name)
        if kind is None and name in inferred.names:
            kind = inferred.field(name).type
            if pa.types.is_null(kind):
                kind = types.get(name)
        if kind is None or pa.types.is_null(kind) or not _json_native(kind):
            kind = pa.string()  # cast to the schema's type after reading
        fields.append(pa.field(name, kind))
    explicit = pa.schema(fields)
    raw, reader = _open_json(file, explicit)
    target = _target_schema(explicit, types, file.name)
    nonnull = dict.fromkeys(late, 0)

    def batches() -> Generator[tuple[pa.RecordBatch, int], None, None]:
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid as exc:
                    raise _json_error(exc, file, raw.position(), b"") from None
                if batch.schema.names != order:
                    batch = batch.select(order)
                for name in nonnull:
                    nonnull[name] += len(batch) - batch.column(name).null_count
                yield _conform(batch, target, types, file.name), raw.position()
            absent = [name for name, count in nonnull.items() if count == 0]
            if absent:
                raise InvalidInput(
                    f"schema names column {absent[0]!r} that {file.name} lacks; its fields are "
                    f"{_names([n for n in order if n not in absent])}"
                )
        finally:
            raw.close()

    return target, batches()


def _json_native(kind: pa.DataType) -> bool:
    return str(kind).startswith(_JSON_NATIVE)


def _json_error(exc: Exception, file: _File, offset: int, head: bytes) -> InvalidInput:
    text = _oneline(exc)
    if "Empty JSON stream" in text:
        return InvalidInput(f"{file.name} is empty: it holds no JSON records")
    if head.lstrip().startswith(b"["):
        return InvalidInput(
            f"{file.name} holds a JSON array; dockyard reads JSON lines (one object per line): "
            f"convert it, e.g. jq -c '.[]' {file.name} > data.jsonl"
        )
    near = f" (near byte {offset:,})" if offset else ""
    text = re.sub(r" in row \d+$", "", text)
    if "unexpected field" in text:
        return InvalidInput(
            f"{file.name}{near}: a field appears that the first records lack; JSON lines take "
            "their columns from the first 16 MiB: name the field in schema= or put it (null is "
            "fine) in the first records"
        )
    match = re.search(r"Column\(/([^)]*)\) changed from (\w+) to (\w+)", text)
    if match:
        name, before, after = match.groups()
        return InvalidInput(
            f"field {name!r} of {file.name}{near} holds a {after} where earlier records hold a "
            f"{before}; give it one JSON type in every record (or pass schema={{{name!r}: ...}} "
            "if it starts out null)"
        )
    return InvalidInput(f"{file.name}{near} is not valid JSON lines: {text}")


# -- Parquet and Arrow IPC --------------------------------------------------------------


def _read_parquet(
    file: _File, types: dict[str, pa.DataType], first: pa.Schema | None
) -> tuple[pa.Schema, Generator[tuple[pa.RecordBatch, int], None, None]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_empty(file)
    raw = _Raw(file)
    try:
        parquet = pq.ParquetFile(raw.raw)
    except (pa.ArrowInvalid, OSError) as exc:
        raw.close()
        raise InvalidInput(f"{file.name} is not a Parquet file: {_oneline(exc)}") from None
    target = _target_schema(parquet.schema_arrow.remove_metadata(), types, file.name)
    total_rows = parquet.metadata.num_rows
    size = file.size or 0

    def batches() -> Generator[tuple[pa.RecordBatch, int], None, None]:
        done = 0
        try:
            for batch in parquet.iter_batches(batch_size=SLICE_ROWS, use_threads=True):
                done += batch.num_rows
                yield _conform(batch, target, types, file.name), size * done // max(total_rows, 1)
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"{file.name} is a damaged Parquet file: {_oneline(exc)}") from None
        finally:
            raw.close()

    return target, batches()


def _read_arrow(
    file: _File, types: dict[str, pa.DataType], first: pa.Schema | None
) -> tuple[pa.Schema, Generator[tuple[pa.RecordBatch, int], None, None]]:
    import pyarrow as pa

    _check_empty(file)
    raw = _Raw(file)
    size = file.size or 0
    random_access: Any = None
    stream: Any = None
    try:
        random_access = pa.ipc.open_file(raw.raw)
    except pa.ArrowInvalid:
        raw.close()
        raw = _Raw(file)
        try:
            stream = pa.ipc.open_stream(raw.raw)
        except pa.ArrowInvalid as exc:
            raw.close()
            raise InvalidInput(
                f"{file.name} is not an Arrow IPC file or stream (Feather v2): {_oneline(exc)}"
            ) from None
    source_schema = (random_access or stream).schema.remove_metadata()
    target = _target_schema(source_schema, types, file.name)

    def batches() -> Generator[tuple[pa.RecordBatch, int], None, None]:
        try:
            if random_access is not None:
                count = random_access.num_record_batches
                for index in range(count):
                    batch = random_access.get_batch(index)
                    for piece in pa.Table.from_batches([batch]).to_batches(SLICE_ROWS):
                        yield _conform(piece, target, types, file.name), size * index // count
            else:
                for batch in stream:
                    for piece in pa.Table.from_batches([batch]).to_batches(SLICE_ROWS):
                        yield _conform(piece, target, types, file.name), raw.position()
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"{file.name} is a damaged Arrow file: {_oneline(exc)}") from None
        finally:
            raw.close()

    return target, batches()


_READERS: dict[str, Reader] = {
    "csv": _read_csv,
    "tsv": _read_csv,
    "json": _read_json,
    "parquet": _read_parquet,
    "arrow": _read_arrow,
}
