"""Signatures: inference from an example and enforcement before predict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dockyard.core.errors import InvalidInput
from dockyard.registry.manifest import ColumnSpec, Signature
from dockyard.registry.signature import enforce, infer_signature

SIG = Signature(
    inputs=[
        ColumnSpec(name="x", type="float64"),
        ColumnSpec(name="n", type="int64", nullable=False),
        ColumnSpec(name="city", type="string", nullable=False),
    ]
)


def frame(**columns: Any) -> pd.DataFrame:
    base: dict[str, Any] = {"x": [1.5, 2.5], "n": [1, 2], "city": ["a", "b"]}
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def test_infer_signature_types_and_nullability() -> None:
    example = pd.DataFrame(
        {
            "f": np.array([1.0, 2.0], dtype="float32"),
            "i": np.array([1, 2], dtype="int16"),
            "b": [True, False],
            "s": ["a", None],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "c": pd.Categorical(["u", "v"]),
        }
    )
    sig = infer_signature(example, np.array([0, 1]))
    assert [(c.name, c.type, c.nullable) for c in sig.inputs] == [
        ("f", "float32", True),
        ("i", "int16", False),
        ("b", "bool", False),
        ("s", "string", True),
        ("t", "datetime", False),
        ("c", "category", False),
    ]
    assert [(c.name, c.type) for c in sig.outputs] == [("prediction", "int64")]
    two = infer_signature(example, np.zeros((2, 3)))
    assert [c.name for c in two.outputs] == ["prediction_0", "prediction_1", "prediction_2"]


def test_infer_signature_refuses_mixed_object_column() -> None:
    with pytest.raises(InvalidInput, match=r"'m' .* mixes"):
        infer_signature(pd.DataFrame({"m": [1, "a"]}))


ERRORS = [
    ("missing column", frame(n=None), r"missing input column n \(int64\)"),
    ("extra column", frame(extra=[0, 0]), "unexpected input column extra"),
    ("string for float", frame(x=["1.5", "2"]), r"'x' should be float64, given string"),
    ("number for string", frame(city=[1, 2]), r"'city' should be string, given int64"),
    ("fractions for int", frame(n=[1.5, 2.0]), r"'n' should be int64, given float64 with fr"),
    ("null in non-nullable", frame(city=["a", None]), r"'city' has 1 missing value"),
    ("NaN in non-nullable int", frame(n=[1.0, np.nan]), r"'n' has 1 missing value"),
    ("float64 for float32", None, r"'w' should be float32, given float64"),
    ("uint64 out of int8 range", None, r"'small' should be int8, given uint64"),
]


@pytest.mark.parametrize(("case", "data", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_enforce_refuses(case: str, data: pd.DataFrame | None, message: str) -> None:
    signature = SIG
    if case == "float64 for float32":
        signature = Signature(inputs=[ColumnSpec(name="w", type="float32")])
        data = pd.DataFrame({"w": [0.1, 0.2]})
    if case == "uint64 out of int8 range":
        signature = Signature(inputs=[ColumnSpec(name="small", type="int8")])
        data = pd.DataFrame({"small": np.array([1, 300], dtype="uint64")})
    with pytest.raises(InvalidInput, match=message):
        enforce(signature, data)


CASTS = [
    ("int to float", {"x": [1, 2]}, "x", "float64", [1.0, 2.0]),
    ("float32 to float64", {"x": np.array([1.5, 2.5], "float32")}, "x", "float64", [1.5, 2.5]),
    ("int32 to int64", {"n": np.array([3, 4], "int32")}, "n", "int64", [3, 4]),
    ("whole floats to int", {"n": [3.0, 4.0]}, "n", "int64", [3, 4]),
    ("uint8 to int64", {"n": np.array([3, 4], "uint8")}, "n", "int64", [3, 4]),
    ("category to string", {"city": pd.Categorical(["a", "b"])}, "city", "string", ["a", "b"]),
]


@pytest.mark.parametrize(
    ("case", "columns", "name", "dtype", "values"), CASTS, ids=[c[0] for c in CASTS]
)
def test_enforce_applies_safe_casts(
    case: str, columns: dict[str, Any], name: str, dtype: str, values: list[Any]
) -> None:
    out = enforce(SIG, frame(**columns))
    if dtype != "string":
        assert out[name].dtype == np.dtype(dtype)
    assert out[name].tolist() == values


def test_enforce_reorders_columns_and_keeps_input_untouched() -> None:
    given = pd.DataFrame({"city": ["a"], "n": np.array([1], "int32"), "x": [0.5]})
    out = enforce(SIG, given)
    assert list(out.columns) == ["x", "n", "city"]
    assert given["n"].dtype == np.dtype("int32")


def test_enforce_accepts_other_table_forms() -> None:
    rows = [{"x": 0.5, "n": 1, "city": "a"}]
    expected = enforce(SIG, pd.DataFrame(rows))
    for data in (
        rows,
        {"x": [0.5], "n": [1], "city": ["a"]},
        pa.Table.from_pylist(rows),
    ):
        pd.testing.assert_frame_equal(enforce(SIG, data), expected, check_dtype=False)


def test_enforce_takes_array_columns_in_signature_order() -> None:
    sig = Signature(
        inputs=[ColumnSpec(name="a", type="float64"), ColumnSpec(name="b", type="float64")]
    )
    out = enforce(sig, np.array([[1.0, 2.0]]))
    assert out.to_dict("records") == [{"a": 1.0, "b": 2.0}]
    with pytest.raises(InvalidInput, match="3 columns but the model takes 2"):
        enforce(sig, np.zeros((1, 3)))


def test_unusable_input_type_is_named() -> None:
    with pytest.raises(InvalidInput, match=r"builtins\.str"):
        enforce(SIG, "x=1")
