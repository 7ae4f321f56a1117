"""The Arrow types a version stores: type names parsed, types normalized, the schema written
for a source, and batches cast to it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dockyard.core.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

SLICE_ROWS = 1 << 16
"""In-memory tables are converted and cast in slices of this many rows."""


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
