"""The data and models of benchmarks/models.py, built the same way on both sides (dockyard's
venv and MLflow's), so each side trains and saves its own copy of identical models.

numpy and pandas only at import; each builder imports its framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ROWS = 2_000
FEATURES = 8
SEED = 11


def training_data() -> tuple[pd.DataFrame, np.ndarray]:
    """A 2,000 x 8 float frame and a 0/1 label that depends on it."""
    rng = np.random.default_rng(SEED)
    x = pd.DataFrame(rng.normal(size=(ROWS, FEATURES)), columns=[f"f{i}" for i in range(FEATURES)])
    logit = x["f0"] * 1.5 - x["f1"] + 0.5 * x["f2"] * x["f3"] + rng.normal(0, 0.5, ROWS)
    return x, (logit > 0).astype("int64").to_numpy()


def sklearn_model(x: pd.DataFrame, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)


def xgboost_model(x: pd.DataFrame, y: np.ndarray) -> Any:
    import xgboost as xgb

    return xgb.XGBClassifier(n_estimators=100, max_depth=6, n_jobs=1).fit(x, y)


def lightgbm_model(x: pd.DataFrame, y: np.ndarray) -> Any:
    import lightgbm as lgb

    return lgb.LGBMClassifier(n_estimators=100, n_jobs=1, verbose=-1).fit(x, y)


BUILDERS = {"sklearn": sklearn_model, "xgboost": xgboost_model, "lightgbm": lightgbm_model}
