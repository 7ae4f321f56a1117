"""``to_parquet``: a source's plan, read ahead by a thread of its own, written as Parquet
parts by the part writer, with progress."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest.conform import parse_type
from dockyard.data.ingest.plans import _plan
from dockyard.data.ingest.writer import IngestedFile, _PartWriter
from dockyard.data.parquet import columns_of
from dockyard.data.schemas import Column

if TYPE_CHECKING:
    import pyarrow as pa

Progress = Callable[[int, "int | None"], None]
"""``progress(done, total)``: bytes of the source read so far and the total bytes when known
(rows for in-memory tables)."""
PREFETCH = 4
"""Batches read ahead of the Parquet encoder, by a thread of their own."""


@dataclass(frozen=True)
class Ingested:
    """The Parquet files made from a source, their shared schema and where they came from."""

    files: list[IngestedFile]
    columns: list[Column]
    rows: int
    source: str
    bytes: int = 0


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
