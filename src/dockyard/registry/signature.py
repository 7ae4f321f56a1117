"""What a model takes and returns: infer a :class:`Signature` from an input example, and
check (and safely cast) the data given to ``predict`` against it.

Column types are the logical names of :class:`~dockyard.registry.manifest.ColumnSpec`.
:func:`enforce` accepts a column as it is when its type is the declared one, casts it when
the cast cannot change a value (a narrower int to a wider int, int to float, float32 to
float64, whole floats with no missing value to int, strings to category) and refuses
everything else with the column, the expected type and the given type in the message.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from dockyard.core.errors import InvalidInput
from dockyard.registry.manifest import ColumnSpec, Signature

__all__ = [
    "LOGICAL_TYPES",
    "column_type",
    "enforce",
    "infer_signature",
    "numeric_matrix",
    "to_frame",
]

INT_TYPES = ("int8", "int16", "int32", "int64")
UINT_TYPES = ("uint8", "uint16", "uint32", "uint64")
FLOAT_TYPES = ("float32", "float64")
_NUMPY_LOGICAL = {np.dtype(name): name for name in ("bool", *INT_TYPES, *UINT_TYPES, *FLOAT_TYPES)}
LOGICAL_TYPES = (
    "bool",
    *INT_TYPES,
    *UINT_TYPES,
    *FLOAT_TYPES,
    "string",
    "binary",
    "datetime",
    "category",
)


def to_frame(data: Any, signature: Signature | None = None) -> pd.DataFrame:
    """``data`` as a DataFrame: a DataFrame, a dict of lists, a list of dicts, a pyarrow
    Table or a polars DataFrame; a 2-D numpy array only with a signature, its columns taken
    in the signature's input order."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict):
        return pd.DataFrame(data)
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return pd.DataFrame(data)
    module = type(data).__module__.split(".", 1)[0]
    if module in ("pyarrow", "polars") and hasattr(data, "to_pandas"):
        frame = data.to_pandas()
        if isinstance(frame, pd.DataFrame):
            return frame
    if isinstance(data, np.ndarray):
        array = data.reshape(1, -1) if data.ndim == 1 else data
        if array.ndim == 2 and signature is not None:
            names = [column.name for column in signature.inputs]
            if array.shape[1] != len(names):
                raise InvalidInput(
                    f"the array has {array.shape[1]} columns but the model takes "
                    f"{len(names)}: {', '.join(names)}"
                )
            return pd.DataFrame(array, columns=names)
        if array.ndim == 2:
            return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
    raise InvalidInput(
        f"cannot use a {type(data).__module__}.{type(data).__qualname__} as model input: "
        "pass a pandas DataFrame, a dict of lists, a list of dicts, a pyarrow Table, a polars "
        "DataFrame or a 2-D numpy array"
    )


def column_type(series: pd.Series) -> str:
    """The logical type of a column, or ``object`` when its values are of mixed kinds."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if ptypes.is_bool_dtype(dtype):
        return "bool"
    if ptypes.is_integer_dtype(dtype):
        return str(np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype))
    if ptypes.is_float_dtype(dtype):
        width = np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype).itemsize
        return "float64" if width >= 8 else "float32"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if ptypes.is_string_dtype(dtype) and not ptypes.is_object_dtype(dtype):
        return "string"
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        return "string"
    if kind == "bytes":
        return "binary"
    if kind == "boolean":
        return "bool"
    return "object"


def infer_signature(example: Any, output: Any = None) -> Signature:
    """The signature of a model from an input example and, when given, its output on it.

    Float columns are nullable (NaN is a float value models take); other columns are
    nullable only when the example has a missing value in them. A 1-D output is one column
    ``prediction``; a 2-D one gives ``prediction_0``, ``prediction_1``, ...
    """
    frame = to_frame(example)
    inputs = [_spec(str(name), frame[name]) for name in frame.columns]
    return Signature(inputs=inputs, outputs=_output_specs(output) if output is not None else [])


def _spec(name: str, series: pd.Series) -> ColumnSpec:
    logical = column_type(series)
    if logical == "object":
        raise InvalidInput(
            f"column {name!r} of the input example mixes values of different kinds "
            f"({pd.api.types.infer_dtype(series, skipna=True)}); give it one type"
        )
    nullable = logical in FLOAT_TYPES or bool(series.isna().any())
    return ColumnSpec(name=name, type=logical, nullable=nullable)


def _output_specs(output: Any) -> list[ColumnSpec]:
    if isinstance(output, pd.DataFrame):
        return [_spec(str(name), output[name]) for name in output.columns]
    if isinstance(output, pd.Series):
        return [_spec("prediction", output)]
    array = np.asarray(output)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array.ravel()
    if array.ndim <= 1:
        return [_spec("prediction", pd.Series(array.reshape(-1)))]
    if array.ndim == 2:
        return [_spec(f"prediction_{i}", pd.Series(array[:, i])) for i in range(array.shape[1])]
    return []


def enforce(signature: Signature, data: Any) -> pd.DataFrame:
    """``data`` as a DataFrame with exactly the signature's input columns, in its order,
    each of its declared type (after the safe casts); :class:`InvalidInput` otherwise."""
    frame = to_frame(data, signature)
    expected = [column.name for column in signature.inputs]
    given = [str(name) for name in frame.columns]
    missing = [name for name in expected if name not in given]
    extra = [name for name in given if name not in expected]
    if missing:
        wanted = ", ".join(f"{c.name} ({c.type})" for c in signature.inputs if c.name in missing)
        raise InvalidInput(
            f"missing input column{'s' if len(missing) > 1 else ''} {wanted}; "
            f"the model takes {', '.join(expected)}, given {', '.join(given) or 'none'}"
        )
    if extra:
        raise InvalidInput(
            f"unexpected input column{'s' if len(extra) > 1 else ''} {', '.join(extra)}; "
            f"the model takes {', '.join(expected)}"
        )
    if len(set(given)) != len(given):
        raise InvalidInput(f"input columns repeat a name: {', '.join(given)}")
    if any(not isinstance(name, str) for name in frame.columns):
        frame = frame.set_axis(given, axis=1)
    dtypes = dict(zip(given, frame.dtypes, strict=True))
    cast: dict[str, pd.Series] = {}
    for spec in signature.inputs:
        dtype = dtypes[spec.name]
        if _NUMPY_LOGICAL.get(dtype) == spec.type and (spec.nullable or dtype.kind in "iub"):
            continue  # a numpy column of the declared type (ints and bools hold no nulls)
        series = frame[spec.name]
        conformed = _conform(spec, series)
        if conformed is not series:
            cast[spec.name] = conformed
    if given == expected and not cast:
        return frame  # nothing to cast or reorder: the caller's frame, not a copy
    return pd.DataFrame(
        {name: cast[name] if name in cast else frame[name] for name in expected},
        index=frame.index,
    )


_NUMERIC = frozenset(("bool", *INT_TYPES, *UINT_TYPES, *FLOAT_TYPES))


def numeric_matrix(signature: Signature, columns: dict[str, list[Any]]) -> np.ndarray | None:
    """The rows of ``columns`` (plain Python values, as JSON gives them) as one float64
    matrix in the signature's input order, checked by :func:`enforce`'s rules: ints for an
    int column (whole floats too), numbers for a float column (JSON numbers have no width,
    so float32 columns take them), booleans for a bool column, nulls only where the
    signature allows them (as NaN). None when an input is not numeric: use :func:`enforce`.

    A model server's fast path: no DataFrame for a request of a few rows."""
    specs = signature.inputs
    if not specs or any(spec.type not in _NUMERIC for spec in specs):
        return None
    count = len(columns[specs[0].name])
    out = np.empty((count, len(specs)), dtype=np.float64)
    for j, spec in enumerate(specs):
        out[:, j] = _numeric_column(spec, columns[spec.name])
    return out


def _numeric_column(spec: ColumnSpec, values: list[Any]) -> np.ndarray:
    kind = spec.type
    nulls = sum(v is None for v in values)
    if nulls and not spec.nullable:
        raise InvalidInput(
            f"column {spec.name!r} has {nulls} missing value{'s' if nulls > 1 else ''} "
            f"but the model declares it non-nullable ({kind})"
        )
    for value in values:
        if value is None:
            continue
        if kind == "bool":
            ok = isinstance(value, bool | np.bool_)
        elif isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating
        ):
            ok = False
        elif kind in FLOAT_TYPES:
            ok = True
        else:
            ok = isinstance(value, int | np.integer) or (
                np.isfinite(value) and float(value).is_integer()
            )
            if ok:
                info = np.iinfo(kind)
                ok = bool(info.min <= value <= info.max)
        if not ok:
            given = type(value).__name__
            raise InvalidInput(
                f"column {spec.name!r} should be {kind}, given {given} {str(value)[:40]!r}; "
                + (
                    "convert the strings to numbers before predict (no automatic parsing)"
                    if isinstance(value, str)
                    else "give values of that type"
                )
            )
    if nulls:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


def _conform(spec: ColumnSpec, series: pd.Series) -> pd.Series:
    given = column_type(series)
    nulls = 0 if spec.nullable else int(series.isna().sum())
    if nulls:
        raise InvalidInput(
            f"column {spec.name!r} has {nulls} missing value{'s' if nulls > 1 else ''} "
            f"but the model declares it non-nullable ({spec.type})"
        )
    if given == spec.type:
        return series
    cast = _cast(spec.type, given, series)
    if cast is None:
        detail = given
        if given == "float64" or given == "float32":
            detail = f"{given} with fractional or missing values"
        raise InvalidInput(
            f"column {spec.name!r} should be {spec.type}, given {detail}; "
            f"{_advice(spec.type, given)}"
        )
    return cast


def _cast(expected: str, given: str, series: pd.Series) -> pd.Series | None:
    """The column cast to ``expected`` when no value can change, else None."""
    if expected in FLOAT_TYPES:
        if (
            given in INT_TYPES
            or given in UINT_TYPES
            or (given, expected)
            == (
                "float32",
                "float64",
            )
        ):
            return series.astype(expected)
        return None
    if expected in INT_TYPES or expected in UINT_TYPES:
        if given in INT_TYPES or given in UINT_TYPES or given in FLOAT_TYPES:
            if series.isna().any():
                return None
            values = series.to_numpy()
            if given in FLOAT_TYPES and not (
                np.isfinite(values).all() and (np.mod(values, 1) == 0).all()
            ):
                return None
            info = np.iinfo(expected)
            if len(values) and (values.min() < info.min or values.max() > info.max):
                return None
            return series.astype(expected)
        return None
    if expected == "category" and given == "string":
        return series.astype("category")
    if expected == "string" and given == "category":
        categories = series.cat.categories
        if pd.api.types.infer_dtype(categories, skipna=True) == "string":
            return series.astype(object)
        return None
    return None


def _advice(expected: str, given: str) -> str:
    if given == "string" and expected not in ("string", "category"):
        return "convert the strings to numbers before predict (no automatic parsing)"
    if given in FLOAT_TYPES and expected in INT_TYPES + UINT_TYPES:
        return "round or fill the values first: a cast would change them"
    if (given, expected) == ("float64", "float32"):
        return "cast it to float32 yourself if the lost precision is fine"
    return "convert it before predict"
