"""The prediction log's file format: one Parquet row per predicted row, the same columns in
every segment (inputs, features and output as JSON text, so one model's versions with
different signatures share a file and DuckDB reads them with its JSON functions)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from dockyard.serving.schemas import Prediction

COLUMNS = pa.schema(
    [
        ("prediction_id", pa.string()),
        ("at", pa.timestamp("us", "UTC")),
        ("model", pa.string()),
        ("version", pa.int32()),
        ("alias", pa.string()),
        ("shadow", pa.bool_()),
        ("latency_ms", pa.float64()),
        ("inputs", pa.string()),
        ("features", pa.string()),
        ("output", pa.string()),
    ]
)


def id_time(prediction_id: str) -> dt.datetime:
    """When an id made by :func:`dockyard.core.ids.new_id` was made (its first 48 bits are
    milliseconds since the epoch)."""
    millis = int(prediction_id[:12], 16)
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def segment_table(columns: Mapping[str, Sequence[Any]]) -> pa.Table:
    """A segment's table from its columns (JSON columns as text)."""
    return pa.table(
        [pa.array(columns[field.name], type=field.type) for field in COLUMNS], schema=COLUMNS
    )


def to_prediction(record: dict[str, Any]) -> Prediction | None:
    """A row read back from a segment, or None when it is not a well-formed log row."""
    try:
        inputs = json.loads(record["inputs"])
        features = json.loads(record["features"]) if record["features"] else None
        output = json.loads(record["output"])
        if not isinstance(inputs, dict) or not (features is None or isinstance(features, dict)):
            return None
        return Prediction(
            prediction_id=record["prediction_id"],
            at=record["at"],
            model=record["model"],
            version=record["version"],
            alias=record["alias"],
            shadow=record["shadow"],
            latency_ms=record["latency_ms"],
            inputs=inputs,
            features=features,
            output=output,
        )
    except (TypeError, ValueError, KeyError):
        return None
