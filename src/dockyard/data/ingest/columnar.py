"""Parquet and Arrow IPC (Feather v2) files, read batch by batch."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest.conform import SLICE_ROWS, _conform, _target_schema
from dockyard.data.ingest.files import _check_empty, _File, _oneline, _Raw

if TYPE_CHECKING:
    import pyarrow as pa


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
