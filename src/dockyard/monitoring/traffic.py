"""A window of the prediction log as one Arrow table: the logged inputs and features as
columns, the output as ``prediction`` (a score: the last class probability when the server
logged probabilities), with the prediction id, time and model version of each row.

The log stores inputs, features and outputs as JSON text; they are parsed here by Arrow's
JSON reader (no code runs from them), and a row that is not a JSON object is dropped and
counted.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

OUTPUT = "prediction"
"""The column of a window's table that holds the model's output (its score)."""
META = ("prediction_id", "at", "version", "shadow")


@dataclass(frozen=True)
class Traffic:
    """One window's predictions: ``table`` (meta columns, inputs, features, ``prediction``)
    and the rows dropped because their logged text was not well formed."""

    table: pa.Table
    dropped: int


def _objects(texts: pa.ChunkedArray | pa.Array) -> pa.Table | None:
    """The JSON objects of ``texts`` (one per row) as a table, or None when they do not parse
    as one object per row."""
    values = texts.to_pylist()
    if not values:
        return pa.table({})
    lines = "\n".join(v if isinstance(v, str) and v.startswith("{") else "{}" for v in values)
    try:
        parsed = pajson.read_json(io.BytesIO(lines.encode()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return parsed if parsed.num_rows == len(values) else None


def _slow_objects(texts: list[str | None]) -> tuple[pa.Table, np.ndarray]:
    """Row by row, for a window whose rows do not share one shape: each column keeps the
    values of the rows that have a scalar there (others become null)."""
    records: list[dict[str, object]] = []
    good = np.ones(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            value = None
        if not isinstance(value, dict):
            good[i] = False
            value = {}
        records.append({k: v for k, v in value.items() if isinstance(v, str | int | float | bool)})
    names = sorted({k for r in records for k in r})
    columns = {}
    for name in names:
        values = [r.get(name) for r in records]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(columns) if columns else pa.table({}), good


def _scores(outputs: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The score of each logged output: a number as it is, a list of class probabilities
    as its last element, anything else null."""
    found: list[float | None] = []
    for text in outputs.to_pylist():
        try:
            value = json.loads(text) if text else None
        except ValueError:
            value = None
        if isinstance(value, list) and value:
            value = value[-1]
        if isinstance(value, bool):
            value = float(value)
        found.append(float(value) if isinstance(value, int | float) else None)
    return pa.array(found, pa.float64())


def window_traffic(log: pa.Table, start: dt.datetime, end: dt.datetime) -> Traffic:
    """The rows of ``log`` (segments of the prediction log, concatenated) made in
    ``[start, end)``, inputs and features as columns."""
    at = log["at"]
    mask = pc.and_(
        pc.greater_equal(at, pa.scalar(start, pa.timestamp("us", "UTC"))),
        pc.less(at, pa.scalar(end, pa.timestamp("us", "UTC"))),
    )
    rows = log.filter(mask)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {name: rows[name] for name in META}
    good = np.ones(rows.num_rows, dtype=bool)
    for source in ("inputs", "features"):
        parsed = _objects(rows[source])
        if parsed is None:
            parsed, ok = _slow_objects(rows[source].to_pylist())
            good &= ok
        for name in parsed.column_names:
            if name in columns or name == OUTPUT:
                continue
            column = parsed[name]
            if pa.types.is_struct(column.type) or pa.types.is_list(column.type):
                continue
            columns[name] = column
    columns[OUTPUT] = _scores(rows["output"])
    table = pa.table(columns)
    dropped = int((~good).sum())
    if dropped:
        table = table.filter(pa.array(good))
    return Traffic(table=table, dropped=dropped)
