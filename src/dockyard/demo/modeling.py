"""Training and evaluating the fraud model, without any dockyard: a time-based split, a
LightGBM booster, and the metrics a fraud team looks at.

The split is what production would have seen: the model trains on every purchase before
the cutoff, labelled with what was known at the cutoff (a fraud whose chargeback had not
arrived yet counts as good), and is judged on the purchases after it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dockyard.demo.features import FEATURES


def holdout_cutoff(ts: pd.Series, holdout_days: int) -> pd.Timestamp:
    """The start of the holdout: ``holdout_days`` before the last purchase."""
    if holdout_days <= 0:
        raise ValueError("holdout_days must be positive")
    return pd.Timestamp(ts.max()) - pd.Timedelta(days=holdout_days)


def training_set(features: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, pd.Series]:
    """The features and labels known at ``cutoff`` of the purchases before it."""
    before = features[features["ts"] < cutoff]
    known = before["is_fraud"].astype(bool) & (before["label_available_at"] <= cutoff)
    return before[FEATURES], known.astype(int).rename("label")


def holdout_set(features: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The purchases from ``cutoff`` on."""
    return features[features["ts"] >= cutoff]


def fit(
    x: pd.DataFrame,
    y: pd.Series,
    *,
    n_estimators: int = 200,
    learning_rate: float = 0.05,
    num_leaves: int = 31,
    seed: int = 0,
    threads: int = 1,
    on_round: Callable[[int, dict[str, float]], object] | None = None,
) -> Any:
    """A LightGBM booster whose ``predict`` gives the probability of fraud.

    One thread by default: on a busy machine OpenMP threads that spin waiting for each other
    are many times slower than one thread, and the demo's data trains in seconds anyway.
    ``on_round(iteration, {"train/binary_logloss": ...})`` is called after each boosting
    round with the training loss (a training curve; the model is the same either way)."""
    import lightgbm as lgb

    params = {
        "objective": "binary",
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": seed,
        "deterministic": True,
        "num_threads": threads,
        "verbose": -1,
    }
    data = lgb.Dataset(x, label=y, feature_name=list(x.columns), free_raw_data=True)
    if on_round is None:
        return lgb.train(params, data, num_boost_round=n_estimators)

    def report(env: Any) -> None:
        results = env.evaluation_result_list
        on_round(env.iteration, {f"{name}/{metric}": value for name, metric, value, _ in results})

    params["metric"] = "binary_logloss"
    return lgb.train(
        params,
        data,
        num_boost_round=n_estimators,
        valid_sets=[data],
        valid_names=["train"],
        callbacks=[report],
    )


def holdout_metrics(truth: pd.Series, scores: np.ndarray, alert_share: float) -> dict[str, float]:
    """AUC, average precision, and precision and recall among the ``alert_share`` highest
    scores (the purchases a review team would look at)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = truth.to_numpy(dtype=bool)
    if y.all() or not y.any():
        raise ValueError("the holdout needs both fraud and good purchases to be evaluated")
    k = max(1, math.ceil(alert_share * len(y)))
    top = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return {
        "auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        "precision_at_k": float(y[top].mean()),
        "recall_at_k": float(y[top].sum() / y.sum()),
        "k": float(k),
        "holdout_rows": float(len(y)),
        "holdout_fraud_rate": float(y.mean()),
    }


def recall_by_pattern(
    patterns: pd.Series, scores: np.ndarray, alert_share: float
) -> dict[str, float]:
    """Of each fraud pattern's purchases, the share among the ``alert_share`` highest scores."""
    k = max(1, math.ceil(alert_share * len(patterns)))
    flagged = np.zeros(len(patterns), dtype=bool)
    flagged[np.argsort(-np.asarray(scores), kind="stable")[:k]] = True
    frame = pd.DataFrame({"pattern": patterns.to_numpy(), "flagged": flagged})
    frauds = frame[frame["pattern"] != "none"]
    return {str(k): float(v) for k, v in frauds.groupby("pattern")["flagged"].mean().items()}
