"""The deterministic Parquet part writer: rows go into row groups of a fixed number of rows
(a power of two chosen from the width of the first rows), each group copied into contiguous
arrays first; files roll over at row-group boundaries and are hashed as they are written."""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

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
ZSTD_LEVEL = 1


@dataclass(frozen=True)
class IngestedFile:
    """A finished Parquet file: its path, rows, bytes and sha256 (hex)."""

    path: Path
    rows: int
    size: int
    digest: str


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
