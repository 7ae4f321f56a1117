"""Request bodies of the protocols a model server speaks, read into :class:`Rows`, and
answers written back in each protocol's shape.

- native: ``{"inputs": {...one row...}}``, ``{"inputs": [{...}, ...]}`` (records) or
  ``{"inputs": {"col": [...], ...}}`` (columnar); options ``"proba": true`` and
  ``"return_features": true``;
- the Open Inference Protocol v2 (KServe, Triton, MLServer clients): ``inputs`` is a list
  of named tensors, one per column, or a single 2-D tensor whose columns follow the
  model's signature;
- MLflow's ``/invocations``: ``dataframe_split``, ``dataframe_records``, ``instances``,
  ``inputs``, or CSV.

Everything here is pure parsing of untrusted JSON: errors are :class:`InvalidInput` naming
what to fix (a 422), and sizes are bounded by the server's body limit before parsing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from dockyard.core.errors import InvalidInput

MAX_ROWS = 100_000
"""Rows one request may carry."""
MAX_COLUMNS = 10_000


@dataclass
class Rows:
    """Input rows column by column, as plain Python lists of equal length."""

    columns: dict[str, list[Any]]
    count: int
    options: dict[str, Any] = field(default_factory=dict)

    def row(self, index: int) -> dict[str, Any]:
        return {name: values[index] for name, values in self.columns.items()}


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _columnar(columns: dict[str, Any], what: str) -> Rows:
    if not columns:
        raise InvalidInput(f"{what} holds no column")
    if len(columns) > MAX_COLUMNS:
        raise InvalidInput(f"{what} holds more than {MAX_COLUMNS} columns")
    count = -1
    out: dict[str, list[Any]] = {}
    for name, values in columns.items():
        if not isinstance(values, list):
            raise InvalidInput(f"column {name!r} of {what} must be a list of values")
        if count == -1:
            count = len(values)
        elif len(values) != count:
            raise InvalidInput(
                f"the columns of {what} differ in length: {name!r} has {len(values)} values, "
                f"an earlier column {count}"
            )
        for value in values:
            if not _scalar(value):
                raise InvalidInput(
                    f"column {name!r} holds a {type(value).__name__}: values are numbers, "
                    "strings, booleans or null"
                )
        out[str(name)] = values
    if count == 0:
        raise InvalidInput(f"{what} holds no row")
    if count > MAX_ROWS:
        raise InvalidInput(f"{what} holds {count} rows; at most {MAX_ROWS} per request")
    return Rows(out, count)


def _records(records: list[Any], what: str) -> Rows:
    if not records:
        raise InvalidInput(f"{what} holds no row")
    if len(records) > MAX_ROWS:
        raise InvalidInput(f"{what} holds {len(records)} rows; at most {MAX_ROWS} per request")
    names: dict[str, None] = {}
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInput(f"row {i} of {what} must be an object of column -> value")
        for name in record:
            names.setdefault(name, None)
    columns = {name: [r.get(name) for r in records] for name in names}
    return _columnar(columns, what)


def _one_row(record: dict[str, Any], what: str) -> Rows:
    return _columnar({name: [value] for name, value in record.items()}, what)


def native(payload: Any) -> Rows:
    """The native body: ``{"inputs": row | [rows] | {column: [values]}, "proba": bool,
    "return_features": bool}``."""
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise InvalidInput(
            'the body must be a JSON object with "inputs": one row {"col": value, ...}, '
            'a list of rows, or columns {"col": [values], ...}'
        )
    inputs = payload["inputs"]
    if isinstance(inputs, list):
        rows = _records(inputs, '"inputs"')
    elif isinstance(inputs, dict):
        values = list(inputs.values())
        if values and all(isinstance(v, list) for v in values):
            rows = _columnar(inputs, '"inputs"')
        elif all(_scalar(v) for v in values):
            rows = _one_row(inputs, '"inputs"')
        else:
            raise InvalidInput(
                '"inputs" mixes lists and single values: give one row of values or columns '
                "of equal-length lists"
            )
    else:
        raise InvalidInput('"inputs" must be an object (one row or columns) or a list of rows')
    for option in ("proba", "return_features"):
        value = payload.get(option, False)
        if not isinstance(value, bool):
            raise InvalidInput(f'"{option}" must be true or false')
        rows.options[option] = value
    return rows


_V2_TYPES = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
}


def _flat(data: Any, name: str, depth: int) -> list[Any]:
    """A tensor's data, flattened row-major (the protocol allows nested lists, at most as
    deep as the tensor's shape: ``depth`` is its length)."""
    if not isinstance(data, list):
        raise InvalidInput(f'input {name!r}: "data" must be a list')
    out = data
    for _ in range(depth - 1):
        if not out or not isinstance(out[0], list):
            break
        flat: list[Any] = []
        for item in out:
            if not isinstance(item, list):
                raise InvalidInput(f'input {name!r}: "data" mixes lists and values at one level')
            flat.extend(item)
        out = flat
    if out and isinstance(out[0], list):
        raise InvalidInput(f'input {name!r}: "data" is nested deeper than its {depth}-D shape')
    return out


def open_inference(payload: Any, signature_names: list[str] | None) -> Rows:
    """An Open Inference Protocol v2 request: named 1-D tensors (``shape [n]`` or
    ``[n, 1]``) are columns; a single ``[n, k]`` tensor is k columns in signature order."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise InvalidInput('an inference request is an object with a list of "inputs" tensors')
    tensors = payload["inputs"]
    if not tensors:
        raise InvalidInput('"inputs" holds no tensor')
    columns: dict[str, list[Any]] = {}
    for tensor in tensors:
        if not isinstance(tensor, dict):
            raise InvalidInput("each input tensor is an object with name, shape, datatype, data")
        name = tensor.get("name")
        shape = tensor.get("shape")
        datatype = tensor.get("datatype")
        if not isinstance(name, str) or not name:
            raise InvalidInput("an input tensor has no name")
        if (
            not isinstance(shape, list)
            or not shape
            or not all(isinstance(d, int) and d >= 0 for d in shape)
        ):
            raise InvalidInput(f"input {name!r}: shape must be a list of sizes")
        if datatype not in _V2_TYPES:
            raise InvalidInput(
                f"input {name!r}: datatype {datatype!r} is not one of "
                + ", ".join(sorted(_V2_TYPES))
            )
        data = _flat(tensor.get("data"), name, len(shape))
        size = 1
        for d in shape:
            size *= d
        if size != len(data):
            raise InvalidInput(
                f"input {name!r}: shape {shape} needs {size} values, given {len(data)}"
            )
        if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1):
            columns[name] = data
        elif len(shape) == 2 and len(tensors) == 1:
            if signature_names is None or len(signature_names) != shape[1]:
                raise InvalidInput(
                    f"input {name!r} is a [{shape[0]}, {shape[1]}] tensor; its columns are "
                    "taken in the model's signature order, which "
                    + (
                        "the model has none of"
                        if signature_names is None
                        else f"has {len(signature_names)} columns"
                    )
                )
            width = shape[1]
            for j, column in enumerate(signature_names):
                columns[column] = data[j::width]
        else:
            raise InvalidInput(
                f"input {name!r} has shape {shape}: give one tensor per column ([n] or [n, 1]) "
                "or a single [n, k] tensor"
            )
    rows = _columnar(columns, '"inputs"')
    parameters = payload.get("parameters") or {}
    if isinstance(parameters, dict) and parameters.get("proba") is True:
        rows.options["proba"] = True
    return rows


def mlflow_json(payload: Any) -> Rows:
    """MLflow's scoring formats: ``dataframe_split``, ``dataframe_records``,
    ``instances`` or ``inputs``."""
    if not isinstance(payload, dict):
        raise InvalidInput(
            "the body must be an object with one of dataframe_split, dataframe_records, "
            "instances or inputs"
        )
    keys = [
        k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in payload
    ]
    if len(keys) != 1:
        raise InvalidInput(
            "give exactly one of dataframe_split, dataframe_records, instances or inputs"
        )
    key = keys[0]
    value = payload[key]
    if key == "dataframe_split":
        if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
            raise InvalidInput('dataframe_split needs "columns" and "data"')
        names = value["columns"]
        data = value.get("data")
        if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
            raise InvalidInput('dataframe_split "data" must be a list of rows (lists)')
        if any(len(r) != len(names) for r in data):
            raise InvalidInput('each row of dataframe_split "data" needs one value per column')
        return _columnar({str(n): [r[i] for r in data] for i, n in enumerate(names)}, key)
    if key == "dataframe_records" or (
        isinstance(value, list) and value and isinstance(value[0], dict)
    ):
        if not isinstance(value, list):
            raise InvalidInput(f"{key} must be a list of rows")
        return _records(value, key)
    if isinstance(value, dict):
        return _columnar(value, key)
    raise InvalidInput(f"{key} must be a list of rows or an object of columns")


def mlflow_csv(text: bytes) -> Rows:
    """A CSV body with a header row (numbers are read as numbers)."""
    try:
        reader = csv.reader(io.StringIO(text.decode("utf-8")))
        header = next(reader)
        records = list(reader)
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise InvalidInput(f"the CSV body cannot be read: {exc}") from None
    columns: dict[str, list[Any]] = {name: [] for name in header}
    for i, record in enumerate(records):
        if len(record) != len(header):
            raise InvalidInput(
                f"CSV row {i + 1} has {len(record)} fields, the header {len(header)}"
            )
        for name, cell in zip(header, record, strict=True):
            columns[name].append(_number(cell))
    return _columnar(columns, "the CSV body")


def _number(cell: str) -> Any:
    if cell == "":
        return None
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        return float(cell)
    except ValueError:
        return cell
