"""The fraud pipeline: features, a gradient-boosted model, its evaluation on a time-based
holdout, registration, promotion behind a gate, and batch scoring.

Each step runs in its own tracked run (a child of the pipeline's run), so the metrics,
the model, the dataset versions read and written and the alias move all land where
``dockyard runs``, ``dockyard models`` and ``dockyard data`` show them.

    load transactions -> featurize -> train -> register -> evaluate -> promote -> score
                       featurize -> evaluate_champion (the current champion, same holdout)
                                                                    -> promote
"""

from __future__ import annotations

from typing import Any

import pandas as pd

import dockyard as dy
from dockyard.demo.features import FEATURES, REFS, SOURCE, VIEWS, feature_table
from dockyard.demo.modeling import (
    fit,
    holdout_cutoff,
    holdout_metrics,
    holdout_set,
    recall_by_pattern,
    training_set,
)

PROJECT = "fraud"
DATASET = "transactions"
MODEL = "fraud-detector"
ALIAS = "champion"
SCORES = "fraud_scores"


FEATURE_TABLE = "transaction_features"


@dy.step
def featurize(raw: dy.DatasetVersion) -> pd.DataFrame:
    """Point-in-time features of every transaction from the feature store: the feature views
    of demo/features.py are applied (a new version only if they changed), then the training
    set over the transactions themselves (each a label at its own time) is built and stored
    as a version of ``transaction_features`` that records the definitions and data it used."""
    run = dy.active_run()
    dy.features.apply(VIEWS, project=run.project, client=run.client)
    built = dy.features.training_set(
        f"{raw.info.dataset}@{raw.number}",
        REFS,
        project=run.project,
        output=FEATURE_TABLE,
        event_time="ts",
        source_versions={SOURCE: raw.number},
        message=f"features of {raw.ref}",
        client=run.client,
    )
    return feature_table(built.to_arrow())


@dy.step
def train(
    features: pd.DataFrame,
    holdout_days: int = 14,
    n_estimators: int = 200,
    learning_rate: float = 0.05,
    seed: int = 0,
) -> dy.Model:
    """A LightGBM booster on the purchases before the holdout, with the labels known then,
    logged in this step's run with its signature (the registered version names this run)."""
    cutoff = holdout_cutoff(features["ts"], holdout_days)
    x, y = training_set(features, cutoff)
    dy.log_params({"cutoff": str(cutoff), "features": ",".join(FEATURES)})
    dy.log_metrics(
        {
            "train_rows": float(len(x)),
            "train_known_fraud": float(y.sum()),
            # Frauds before the cutoff whose chargeback had not arrived yet: trained as good.
            "train_unknown_fraud": float(
                features.loc[x.index, "is_fraud"].astype(bool).sum() - y.sum()
            ),
        }
    )
    model = fit(
        x,
        y,
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        seed=seed,
        on_round=lambda i, scores: dy.log_metrics(scores, step=i),
    )
    dy.log_model(model, "model", input_example=x.head(20))
    return model


@dy.step
def register(model: dy.Model) -> int:
    """Register the model the train step logged as the next version: the version's run is
    the train step's run, with its parameters, metrics, data and code."""
    version = dy.register_model(
        model,
        "model",
        name=MODEL,
        description="LightGBM on point-in-time features; predict() gives P(fraud)",
    )
    return version.version


@dy.step
def evaluate(
    version: int,
    features: pd.DataFrame,
    raw: dy.DatasetVersion,
    holdout_days: int = 14,
    alert_share: float = 0.01,
) -> dict[str, Any]:
    """Score the holdout with the registered version (loading it records this run as its
    evaluation) and log AUC, average precision and precision/recall at the top scores."""
    model = dy.load_model(f"models:/{MODEL}/{version}")
    cutoff = holdout_cutoff(features["ts"], holdout_days)
    holdout = holdout_set(features, cutoff)
    scores = model.predict(holdout[FEATURES])
    metrics = holdout_metrics(holdout["is_fraud"], scores, alert_share)
    dy.log_metrics(metrics)
    # Reading the raw version makes this run an evaluation over it, which the gate asks for;
    # the fraud patterns (ground truth of the synthetic data) say what the model catches.
    truth = raw.to_pandas(columns=["transaction_id", "fraud_pattern"])
    patterns = holdout[["transaction_id"]].merge(truth, on="transaction_id", how="left")
    by_pattern = recall_by_pattern(patterns["fraud_pattern"], scores, alert_share)
    dy.log_metrics({f"recall_at_k.{name}": value for name, value in by_pattern.items()})
    return {
        "version": version,
        "dataset": raw.ref,
        "cutoff": str(cutoff),
        "metrics": metrics,
        "recall_at_k_by_pattern": by_pattern,
    }


@dy.step
def evaluate_champion(
    features: pd.DataFrame,
    raw: dy.DatasetVersion,
    holdout_days: int = 14,
    alert_share: float = 0.01,
) -> dict[str, Any]:
    """Score the same holdout with the current champion, if there is one, in a run of its
    own: the gate then compares the new version with the champion on the same purchases,
    not with what the champion scored on older data (after a shift, older data is easier)."""
    champion = _champion()
    if champion is None:
        return {"version": None}
    model = dy.load_model(f"models:/{MODEL}/{champion}")
    holdout = holdout_set(features, holdout_cutoff(features["ts"], holdout_days))
    metrics = holdout_metrics(holdout["is_fraud"], model.predict(holdout[FEATURES]), alert_share)
    dy.log_metrics(metrics)
    raw.to_pandas(columns=["transaction_id"])  # an evaluation over this version of the data
    return {"version": champion, "dataset": raw.ref, "metrics": metrics}


@dy.step
def promote(
    evaluation: dict[str, Any], compared: dict[str, Any], auc_threshold: float = 0.8
) -> dict[str, Any]:
    """Move the champion alias to the new version if it passes the gate: AUC above the
    threshold on the transactions data, and not worse than the current champion on the same
    version of it (``compared``: the current champion's evaluation on it)."""
    version = int(evaluation["version"])
    number = int(str(evaluation["dataset"]).rpartition("@")[2])
    gate = {
        "metric": "auc",
        "threshold": auc_threshold,
        "dataset": DATASET,
        "min_dataset_version": number,
        "not_worse_than_current": True,
    }
    dy.set_alias_policy(MODEL, ALIAS, {"gates": [gate]})
    auc = evaluation["metrics"]["auc"]
    try:
        dy.set_alias(MODEL, ALIAS, version, reason=f"holdout auc {auc:.4f} passed the gate")
    except dy.GateFailed as exc:
        champion = _champion()
        return {
            "promoted": False,
            "version": version,
            "champion": champion,
            "report": exc.message,
        }
    return {
        "promoted": True,
        "version": version,
        "champion": version,
        "report": f"auc {auc:.4f} >= {auc_threshold} and not worse than the last champion"
        + (
            f" (v{compared['version']}: {compared['metrics']['auc']:.4f} on the same holdout)"
            if compared.get("version") is not None
            else ""
        ),
    }


def _champion() -> int | None:
    try:
        return dy.active_run().client.models.resolve(f"models:/{MODEL}@{ALIAS}").version
    except dy.NotFound:
        return None


@dy.step
def score(
    promotion: dict[str, Any],
    features: pd.DataFrame,
    holdout_days: int = 14,
    alert_share: float = 0.01,
) -> dict[str, Any]:
    """Batch-score the holdout with the champion and store the scores as a dataset version."""
    if promotion["champion"] is None:
        return {"scored": False, "reason": f"{MODEL} has no {ALIAS} yet"}
    model = dy.load_model(f"models:/{MODEL}@{ALIAS}")
    holdout = holdout_set(features, holdout_cutoff(features["ts"], holdout_days))
    scores = pd.DataFrame(
        {
            "transaction_id": holdout["transaction_id"].to_numpy(),
            "ts": holdout["ts"].to_numpy(),
            "score": model.predict(holdout[FEATURES]),
        }
    )
    threshold = scores["score"].quantile(1 - alert_share)
    scores["flagged"] = scores["score"] >= threshold
    scores["model_version"] = int(promotion["champion"])
    written = dy.dataset(SCORES, project=dy.active_run().project).add_version(
        scores, message=f"holdout scored by {MODEL}@{ALIAS} (v{promotion['champion']})"
    )
    return {
        "scored": True,
        "dataset": written.ref,
        "rows": written.rows,
        "flagged": int(scores["flagged"].sum()),
        "model_version": int(promotion["champion"]),
    }


@dy.pipeline
def fraud_training(
    data: str = f"{DATASET}@latest",
    holdout_days: int = 14,
    n_estimators: int = 200,
    learning_rate: float = 0.05,
    auc_threshold: float = 0.8,
    alert_share: float = 0.01,
) -> None:
    """Train, evaluate, register, promote and batch-score the fraud model on ``data``."""
    raw = dy.load(data)
    features = featurize(raw)
    model = train(
        features, holdout_days=holdout_days, n_estimators=n_estimators, learning_rate=learning_rate
    )
    version = register(model)
    evaluation = evaluate(
        version, features, raw, holdout_days=holdout_days, alert_share=alert_share
    )
    champion = evaluate_champion(features, raw, holdout_days=holdout_days, alert_share=alert_share)
    promotion = promote(evaluation, champion, auc_threshold=auc_threshold)
    score(promotion, features, holdout_days=holdout_days, alert_share=alert_share)
