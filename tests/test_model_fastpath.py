"""The numeric fast path of ``LoadedModel.predict_columns``: rows as a float matrix
without a DataFrame give exactly the answers of ``predict`` on a DataFrame, and refuse
exactly what the signature refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from dockyard.core.errors import InvalidInput
from dockyard.registry.manifest import ColumnSpec, Signature
from dockyard.registry.packaging import LoadedModel, load_folder, save_model
from dockyard.registry.signature import numeric_matrix


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
