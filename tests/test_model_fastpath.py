"""The numeric fast path of ``LoadedModel.predict_columns``: rows as a float matrix
without a DataFrame give exactly the answers of ``predict`` on a DataFrame, and refuse
exactly what the signature refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import xgboost as xgb

from dockyard.core.errors import InvalidInput
from dockyard.registry.manifest import ColumnSpec, Signature
from dockyard.registry.packaging import LoadedModel, load_folder, save_model
from dockyard.registry.signature import arrow_matrix, numeric_matrix


def _data() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {
            "amount": rng.uniform(0, 500, 300),
            "count": rng.integers(0, 20, 300),
            "share": rng.uniform(0, 1, 300).astype("float32"),
        }
    )
    return x, ((x.amount > 250) ^ (x["count"] > 15)).astype(int)


def _saved(model: Any, tmp_path: Path, x: pd.DataFrame) -> LoadedModel:
    folder = tmp_path / "model"
    save_model(model, folder, input_example=x.head(20))
    return load_folder(folder)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lgb.LGBMClassifier(n_estimators=20, verbose=-1),
        lambda: lgb.LGBMRegressor(n_estimators=20, verbose=-1),
        lambda: xgb.XGBClassifier(n_estimators=20),
        lambda: xgb.XGBRegressor(n_estimators=20),
    ],
)
def test_the_matrix_path_answers_exactly_as_the_frame_path(make: Any, tmp_path: Path) -> None:
    x, y = _data()
    loaded = _saved(make().fit(x, y), tmp_path, x)
    rows = x.head(50)
    columns = {
        "amount": rows.amount.tolist(),
        "count": rows["count"].tolist(),
        "share": [float(v) for v in rows.share],
    }
    assert numeric_matrix(loaded.signature, columns) is not None  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded.predict_columns(columns), loaded.predict(rows))
    if loaded.manifest.predict_proba:
        np.testing.assert_array_equal(
            loaded.predict_columns(columns, proba=True), loaded.predict_proba(rows)
        )


def test_xgboost_boosters_take_the_matrix_too(tmp_path: Path) -> None:
    x, y = _data()
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(x, y), 10)
    loaded = _saved(booster, tmp_path, x)
    columns = {name: x[name].head(30).tolist() for name in x.columns}
    np.testing.assert_allclose(loaded.predict_columns(columns), loaded.predict(x.head(30)))


SIGNATURE = Signature(
    inputs=[
        ColumnSpec(name="amount", type="float64", nullable=True),
        ColumnSpec(name="count", type="int64", nullable=False),
        ColumnSpec(name="small", type="int8", nullable=False),
        ColumnSpec(name="flag", type="bool", nullable=False),
    ]
)


def test_numbers_are_checked_as_the_signature_says() -> None:
    good = {"amount": [1.5, None], "count": [3, 4.0], "small": [-128, 127], "flag": [True, False]}
    matrix = numeric_matrix(SIGNATURE, good)
    assert matrix is not None and matrix.shape == (2, 4)
    assert np.isnan(matrix[1, 0]) and matrix[1, 1] == 4.0 and matrix[0, 3] == 1.0
    for column, values, message in [
        ("amount", ["12", 1.0], "convert the strings"),
        ("amount", [True, 1.0], "float64"),
        ("count", [None, 1], "non-nullable"),
        ("count", [2.5, 1], "int64"),
        ("small", [128, 1], "int8"),
        ("flag", [1, 0], "bool"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            numeric_matrix(SIGNATURE, {**good, column: values})
    text = Signature(inputs=[ColumnSpec(name="city", type="string", nullable=True)])
    assert numeric_matrix(text, {"city": ["Oslo"]}) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: lgb.LGBMClassifier(n_estimators=20, verbose=-1),
        lambda: lgb.LGBMRegressor(n_estimators=20, verbose=-1),
        lambda: xgb.XGBClassifier(n_estimators=20),
    ],
)
def test_an_arrow_batch_of_the_declared_types_answers_exactly_as_a_frame(
    make: Any, tmp_path: Path
) -> None:
    x, y = _data()
    loaded = _saved(make().fit(x, y), tmp_path, x)
    rows = x.head(60)
    batch = pa.RecordBatch.from_pandas(rows[["share", "count", "amount"]], preserve_index=False)
    assert arrow_matrix(loaded.signature, batch) is not None  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded.predict_arrow(batch), loaded.predict(rows))
    if loaded.manifest.predict_proba:
        np.testing.assert_array_equal(
            loaded.predict_arrow(batch, proba=True), loaded.predict_proba(rows)
        )
    # another width of int: not the fast path, but cast by the signature's rules, same answers
    narrow = batch.set_column(1, "count", batch.column(1).cast(pa.int32()))
    assert arrow_matrix(loaded.signature, narrow) is None  # type: ignore[arg-type]
    np.testing.assert_array_equal(loaded.predict_arrow(narrow), loaded.predict(rows))


def test_an_arrow_batch_takes_the_fast_path_only_where_the_signature_would_pass_it() -> None:
    good = pa.RecordBatch.from_pydict(
        {
            "amount": pa.array([1.5, None, float("nan")], pa.float64()),
            "count": pa.array([3, 4, 5], pa.int64()),
            "small": pa.array([-128, 0, 127], pa.int8()),
            "flag": pa.array([True, False, True]),
        }
    )
    matrix = arrow_matrix(SIGNATURE, good)
    assert matrix is not None and matrix.shape == (3, 4)
    assert np.isnan(matrix[1, 0]) and np.isnan(matrix[2, 0]) and matrix[2, 1] == 5.0
    assert matrix[0, 3] == 1.0 and matrix[1, 3] == 0.0
    for column, values in [
        ("count", pa.array([3, None, 5], pa.int64())),  # a null in a non-nullable int
        ("count", pa.array([3.0, 4.0, 5.0])),  # another type: cast (or refused) by enforce
        ("flag", pa.array([True, None, False])),
        ("small", pa.array(["a", "b", "c"])),
    ]:
        changed = good.set_column(good.schema.get_field_index(column), column, values)
        assert arrow_matrix(SIGNATURE, changed) is None, column
    strict = Signature(inputs=[ColumnSpec(name="amount", type="float64", nullable=False)])
    nan = pa.RecordBatch.from_pydict({"amount": pa.array([1.0, float("nan")])})
    assert arrow_matrix(strict, nan) is None  # NaN in a non-nullable float: enforce refuses it
    extra = good.append_column("other", pa.array([1.0, 2.0, 3.0]))
    assert arrow_matrix(SIGNATURE, extra) is None  # enforce names the unexpected column
