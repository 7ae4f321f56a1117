"""Checks and conversions of the tables given to the feature store (pyarrow or pandas)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dockyard.features.errors import InvalidTable


def as_arrow(table: Any, what: str) -> pa.Table:
    """``table`` as a pyarrow Table (a pandas DataFrame is converted, its index dropped)."""
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, pa.RecordBatch):
        return pa.Table.from_batches([table])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(table, pd.DataFrame):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise InvalidTable(
        f"the {what} must be a pyarrow Table or a pandas DataFrame, not {type(table).__name__}"
    )


def require_columns(table: pa.Table, columns: Sequence[str], what: str) -> None:
    """Fail with the list of missing columns and the ones present."""
    missing = [c for c in dict.fromkeys(columns) if c not in table.column_names]
    if missing:
        raise InvalidTable(f"the {what} lacks the column(s) {missing}; it has {table.column_names}")


def time_micros(column: pa.ChunkedArray, name: str, what: str) -> pa.ChunkedArray:
    """A timestamp column as int64 microseconds since the epoch (UTC; naive times are read
    as UTC)."""
    if not pa.types.is_timestamp(column.type):
        raise InvalidTable(
            f"the column {name!r} of the {what} must hold timestamps, not {column.type}; "
            "convert it (e.g. pandas.to_datetime) before passing the table"
        )
    return pc.cast(pc.cast(column, pa.timestamp("us", tz=column.type.tz)), pa.int64())


def check_value_column(table: pa.Table, name: str, what: str) -> None:
    """Feature values must be booleans, numbers or strings (what every store encodes)."""
    kind = table.schema.field(name).type
    if not (
        pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_null(kind)
    ):
        raise InvalidTable(
            f"the column {name!r} of the {what} holds {kind}: feature values must be "
            "booleans, numbers or strings (convert times to numbers first)"
        )


def check_key_types(labels: pa.Table, source: pa.Table, keys: Sequence[str], view: str) -> None:
    """Key columns must have comparable types in the labels and the source."""
    for key in keys:
        left, right = labels.schema.field(key).type, source.schema.field(key).type
        if _family(left) != _family(right):
            raise InvalidTable(
                f"the key column {key!r} is {left} in the labels but {right} in the source "
                f"of {view!r}; give both the same type"
            )


def _family(kind: pa.DataType) -> str:
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_floating(kind):
        return "float"
    return str(kind)
