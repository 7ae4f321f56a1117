"""The reader of each file format, and every file's batches in turn under one schema."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest.columnar import _read_arrow, _read_parquet
from dockyard.data.ingest.conform import _names
from dockyard.data.ingest.csv_source import _read_csv
from dockyard.data.ingest.files import _File
from dockyard.data.ingest.json_source import _read_json

if TYPE_CHECKING:
    import pyarrow as pa

Reader = Callable[
    [_File, dict[str, "pa.DataType"], "pa.Schema | None"],
    "tuple[pa.Schema, Generator[tuple[pa.RecordBatch, int], None, None]]",
]


_READERS: dict[str, Reader] = {
    "csv": _read_csv,
    "tsv": _read_csv,
    "json": _read_json,
    "parquet": _read_parquet,
    "arrow": _read_arrow,
}


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
