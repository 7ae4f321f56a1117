"""JSON lines: fields and types from the first bytes, then streamed in small blocks."""

from __future__ import annotations

import io
import re
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest.conform import _conform, _names, _target_schema
from dockyard.data.ingest.files import STREAM_BLOCK, _check_empty, _File, _head, _oneline, _Raw

if TYPE_CHECKING:
    import pyarrow as pa


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
