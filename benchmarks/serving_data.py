"""The fraud-like data and LightGBM model of benchmarks/serving.py, built the same way in
dockyard's venv and in MLflow's (``serving_mlflow.py``), so each side trains its own copy of
one model (the two copies' probabilities are compared before any load).

numpy and pandas only at import; ``train`` imports lightgbm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ROWS = 20_000
TREES = 200
SEED = 7
COLUMNS = [
    "amount",
    "hour",
    "merchant_risk",
    "card_age_days",
    "txn_count_1h",
    "txn_count_24h",
    "amount_mean_7d",
    "distance_km",
    "foreign",
    "device_age_days",
    "amount_ratio_7d",
    "account_age_days",
]


def training_data(seed: int = SEED) -> tuple[pd.DataFrame, np.ndarray]:
    """``ROWS`` transactions x 12 float features and a rare (~3%) fraud label."""
    rng = np.random.default_rng(seed)
    n = ROWS
    amount = rng.lognormal(3.5, 1.1, n)
    mean_7d = amount * rng.lognormal(0, 0.4, n)
    x = pd.DataFrame(
        {
            "amount": amount.round(2),
            "hour": rng.integers(0, 24, n).astype(float),
            "merchant_risk": rng.beta(2, 8, n),
            "card_age_days": rng.exponential(700, n).round(),
            "txn_count_1h": rng.poisson(0.6, n).astype(float),
            "txn_count_24h": rng.poisson(4, n).astype(float),
            "amount_mean_7d": mean_7d.round(2),
            "distance_km": rng.exponential(30, n).round(1),
            "foreign": (rng.random(n) < 0.08).astype(float),
            "device_age_days": rng.exponential(300, n).round(),
            "amount_ratio_7d": (amount / mean_7d).round(3),
            "account_age_days": rng.exponential(1500, n).round(),
        },
        columns=COLUMNS,
    )
    logit = (
        -4.2
        + 1.4 * np.log1p(x["amount_ratio_7d"])
        + 4.0 * x["merchant_risk"]
        + 0.5 * x["txn_count_1h"]
        + 1.2 * x["foreign"]
        + 0.01 * x["distance_km"]
        - 0.0008 * x["card_age_days"]
        + 0.6 * ((x["hour"] < 6) | (x["hour"] > 22))
        + rng.normal(0, 0.8, n)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return x, y


def train(x: pd.DataFrame, y: np.ndarray, trees: int = TREES) -> Any:
    """A ``trees``-tree LGBMClassifier predicting with one thread (``n_jobs=1``)."""
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=trees,
        num_leaves=31,
        learning_rate=0.05,
        n_jobs=1,
        random_state=SEED,
        verbose=-1,
    ).fit(x, y)


def request_rows(count: int = 64) -> list[dict[str, float]]:
    """Rows sent in requests (from a different seed than the training rows)."""
    x, _ = training_data(seed=SEED + 1)
    return [{k: float(v) for k, v in row.items()} for row in x.head(count).to_dict("records")]
