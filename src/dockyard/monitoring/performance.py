"""Model performance from labels, and estimated before the labels arrive.

``classification`` and ``regression`` score predictions against labels; ``estimate_
classification`` estimates a binary classifier's metrics on unlabelled data by
confidence-based performance estimation (CBPE, as NannyML does): the scores are calibrated on
a labelled reference with isotonic regression, and the calibrated probability of each current
row is its expected label, which gives the expected confusion matrix and ROC curve.

Rows whose label or score is NaN are dropped and counted (``dropped``); arrays of different
lengths raise ValueError.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

__all__ = [
    "ClassificationMetrics",
    "EstimatedMetrics",
    "RegressionMetrics",
    "classification",
    "estimate_classification",
    "regression",
]

CALIBRATION_BINS = 10


class ClassificationMetrics(BaseModel):
    """Binary classification metrics at ``threshold``; None where undefined (e.g. no rows).

    ``calibration`` lists (mean score, positive rate, rows) of each non-empty one of 10
    equal-width score bins; ``ece`` is their row-weighted mean |mean score - positive rate|.
    """

    model_config = ConfigDict(extra="forbid")

    n: int
    dropped: int
    positives: int
    threshold: float
    auc: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    accuracy: float | None
    log_loss: float | None
    brier: float | None
    ece: float | None
    calibration: list[tuple[float, float, int]]


class RegressionMetrics(BaseModel):
    """Regression errors; ``mape`` (a fraction) is None when a label is 0, ``r2`` when the
    labels are constant."""

    model_config = ConfigDict(extra="forbid")

    n: int
    dropped: int
    mae: float | None
    rmse: float | None
    mape: float | None
    r2: float | None


class EstimatedMetrics(BaseModel):
    """Metrics of unlabelled current data expected from the calibrated scores (CBPE)."""

    model_config = ConfigDict(extra="forbid")

    n: int
    dropped: int
    threshold: float
    expected_positives: float
    auc: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    accuracy: float | None


def _pair(
    first: np.ndarray, second: np.ndarray, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Both arrays as float64 without the rows where either is NaN, and how many were."""
    a = np.asarray(first, dtype=np.float64).ravel()
    b = np.asarray(second, dtype=np.float64).ravel()
    if a.size != b.size:
        raise ValueError(
            f"{names[0]} has {a.size} values and {names[1]} has {b.size}; they must be equal"
        )
    keep = ~(np.isnan(a) | np.isnan(b))
    dropped = int(a.size - np.count_nonzero(keep))
    return (a[keep], b[keep], dropped) if dropped else (a, b, 0)


def _check_binary(labels: np.ndarray, scores: np.ndarray) -> None:
    if labels.size and not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 or 1 (or NaN for unknown)")
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        raise ValueError("scores must be probabilities between 0 and 1")


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve from ranks, ties averaged (Mann-Whitney U / (P * N))."""
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(scores)
    u = ranks[labels == 1].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """The 1-based rank of each value in ascending order, tied values given their mean rank.

    ``values`` hold no NaN: the callers drop those rows first (``_pair``).
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.ones(values.size, dtype=bool)  # where a new value begins in ``ordered``
    starts[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(starts) - 1
    counts = np.bincount(group)
    last = np.cumsum(counts)  # the rank of the last value of each group of ties
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = (last - (counts - 1) / 2)[group]
    return ranks


def classification(
    labels: np.ndarray, scores: np.ndarray, *, threshold: float = 0.5
) -> ClassificationMetrics:
    """Metrics of scores (probabilities of class 1) against 0/1 labels."""
    y, p, dropped = _pair(labels, scores, ("labels", "scores"))
    _check_binary(y, p)
    n = y.size
    predicted = p >= threshold
    tp = float(np.sum(predicted & (y == 1)))
    fp = float(np.sum(predicted & (y == 0)))
    fn = float(np.sum(~predicted & (y == 1)))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    eps = np.finfo(np.float64).eps
    clipped = np.clip(p, eps, 1 - eps)
    log_loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)) if n else None
    bins = np.minimum((p * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    counts = np.bincount(bins, minlength=CALIBRATION_BINS)
    score_sums = np.bincount(bins, weights=p, minlength=CALIBRATION_BINS)
    label_sums = np.bincount(bins, weights=y, minlength=CALIBRATION_BINS)
    filled = counts > 0
    mean_score = score_sums[filled] / counts[filled]
    positive_rate = label_sums[filled] / counts[filled]
    ece = float(np.sum(counts[filled] * np.abs(mean_score - positive_rate)) / n) if n else None
    return ClassificationMetrics(
        n=n,
        dropped=dropped,
        positives=int(y.sum()),
        threshold=threshold,
        auc=roc_auc(y, p),
        precision=precision,
        recall=recall,
        f1=f1,
        accuracy=_ratio(float(np.sum(predicted == (y == 1))), n),
        log_loss=None if log_loss is None else float(log_loss),
        brier=float(np.mean((p - y) ** 2)) if n else None,
        ece=ece,
        calibration=[
            (float(s), float(r), int(c))
            for s, r, c in zip(mean_score, positive_rate, counts[filled], strict=True)
        ],
    )


def regression(labels: np.ndarray, predictions: np.ndarray) -> RegressionMetrics:
    """Errors of predictions against numeric labels."""
    y, p, dropped = _pair(labels, predictions, ("labels", "predictions"))
    n = y.size
    if n == 0:
        return RegressionMetrics(n=0, dropped=dropped, mae=None, rmse=None, mape=None, r2=None)
    error = p - y
    spread = float(np.sum((y - y.mean()) ** 2))
    return RegressionMetrics(
        n=n,
        dropped=dropped,
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(np.mean(error**2))),
        mape=None if np.any(y == 0) else float(np.mean(np.abs(error) / np.abs(y))),
        r2=1.0 - float(np.sum(error**2)) / spread if spread > 0 else None,
    )


def calibrate(
    reference_scores: np.ndarray, reference_labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic calibration on the reference: distinct scores and their calibrated values."""
    order = np.argsort(reference_scores, kind="stable")
    scores, labels = reference_scores[order], reference_labels[order]
    distinct, start, counts = np.unique(scores, return_index=True, return_counts=True)
    means = np.add.reduceat(labels, start) / counts
    # Imported here: importing scipy.optimize costs ~0.4 s; only estimated performance needs it.
    from scipy.optimize import isotonic_regression

    fitted = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    return distinct, np.asarray(fitted, dtype=np.float64)


def estimate_classification(
    reference_scores: np.ndarray,
    reference_labels: np.ndarray,
    current_scores: np.ndarray,
    *,
    threshold: float = 0.5,
) -> EstimatedMetrics:
    """Estimate metrics of ``current_scores`` before their labels exist (CBPE).

    The reference's isotonic calibration maps each current score to a probability q (linear
    between reference scores, clipped beyond them). Expected counts at ``threshold``:
    TP = sum of q over predicted positives, FP = sum of 1 - q there, FN and TN likewise over
    predicted negatives. AUC: the expected TPR and FPR at every distinct current score (rows
    in descending raw-score order, ties together), integrated by the trapezoid rule, which is
    NannyML's estimator with the model's own ranking kept where the calibration ties scores.
    """
    ref_labels, ref_scores, _ = _pair(
        reference_labels, reference_scores, ("reference_labels", "reference_scores")
    )
    _check_binary(ref_labels, ref_scores)
    if ref_scores.size == 0:
        raise ValueError("the reference has no rows with both a label and a score")
    scores = np.asarray(current_scores, dtype=np.float64).ravel()
    keep = ~np.isnan(scores)
    dropped = int(scores.size - np.count_nonzero(keep))
    scores = scores[keep]
    _check_binary(np.empty(0), scores)
    distinct, fitted = calibrate(ref_scores, ref_labels)
    q = np.interp(scores, distinct, fitted)
    predicted = scores >= threshold
    tp, fp = float(q[predicted].sum()), float((1 - q[predicted]).sum())
    fn, tn = float(q[~predicted].sum()), float((1 - q[~predicted]).sum())
    return EstimatedMetrics(
        n=scores.size,
        dropped=dropped,
        threshold=threshold,
        expected_positives=tp + fn,
        auc=_expected_auc(scores, q),
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        accuracy=_ratio(tp + tn, scores.size),
    )


def _expected_auc(scores: np.ndarray, q: np.ndarray) -> float | None:
    positives, negatives = q.sum(), (1 - q).sum()
    if positives <= 0 or negatives <= 0:
        return None
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    last_of_tie = np.append(ranked[1:] != ranked[:-1], True)
    tpr = np.concatenate(([0.0], np.cumsum(q[order])[last_of_tie] / positives))
    fpr = np.concatenate(([0.0], np.cumsum(1 - q[order])[last_of_tie] / negatives))
    return float(np.trapezoid(tpr, fpr))


CLASSIFICATION_METRICS = (
    "auc",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "log_loss",
    "brier",
    "ece",
)
REGRESSION_METRICS = ("mae", "rmse", "mape", "r2")
_LABELS_BINARY = "labels must be 0 or 1 (or NaN for unknown)"
_SCORES_PROBABILITIES = "scores must be probabilities between 0 and 1"


def classification_groups(
    groups: np.ndarray, count: int, labels: np.ndarray, scores: np.ndarray, threshold: float
) -> list[dict[str, float | None] | str]:
    """``classification`` of each of ``count`` groups of rows at once (``groups``: each row's
    group, 0 .. count-1): per group its metrics (the names of ``CLASSIFICATION_METRICS``, as
    ``classification`` gives them) or the error ``classification`` would raise. A few array
    operations over all rows instead of some forty per group: a 30-day view of 1-hour windows
    computes 720 windows' metrics in milliseconds."""
    g, y, p = _grouped_rows(groups, labels, scores)
    bad_label = np.bincount(g, weights=~((y == 0) | (y == 1)), minlength=count) > 0
    bad_score = np.bincount(g, weights=(p < 0) | (p > 1), minlength=count) > 0
    n = np.bincount(g, minlength=count).astype(np.float64)
    predicted = p >= threshold
    positive = y == 1
    tp = np.bincount(g, weights=predicted & positive, minlength=count)
    fp = np.bincount(g, weights=predicted & ~positive, minlength=count)
    fn = np.bincount(g, weights=~predicted & positive, minlength=count)
    right = np.bincount(g, weights=predicted == positive, minlength=count)
    eps = np.finfo(np.float64).eps
    clipped = np.clip(p, eps, 1 - eps)
    losses = np.bincount(
        g, weights=y * np.log(clipped) + (1 - y) * np.log(1 - clipped), minlength=count
    )
    squares = np.bincount(g, weights=(p - y) ** 2, minlength=count)
    cells = g * CALIBRATION_BINS + np.minimum(
        (p * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1
    )
    shape = (count, CALIBRATION_BINS)
    size = count * CALIBRATION_BINS
    in_bin = np.bincount(cells, minlength=size).reshape(shape).astype(np.float64)
    score_sums = np.bincount(cells, weights=p, minlength=size).reshape(shape)
    label_sums = np.bincount(cells, weights=y, minlength=size).reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = np.where(in_bin > 0, np.abs(score_sums - label_sums), 0.0)
    auc = _grouped_auc(g, count, y, p)
    found: list[dict[str, float | None] | str] = []
    for i in range(count):
        if bad_label[i]:
            found.append(_LABELS_BINARY)
            continue
        if bad_score[i]:
            found.append(_SCORES_PROBABILITIES)
            continue
        rows = n[i]
        found.append(
            {
                "auc": auc[i],
                "precision": _ratio(tp[i], tp[i] + fp[i]),
                "recall": _ratio(tp[i], tp[i] + fn[i]),
                "f1": _ratio(2 * tp[i], 2 * tp[i] + fp[i] + fn[i]),
                "accuracy": _ratio(right[i], rows),
                "log_loss": float(-losses[i] / rows) if rows else None,
                "brier": float(squares[i] / rows) if rows else None,
                "ece": float(gaps[i].sum() / rows) if rows else None,
            }
        )
    return found


def regression_groups(
    groups: np.ndarray, count: int, labels: np.ndarray, predictions: np.ndarray
) -> list[dict[str, float | None]]:
    """``regression`` of each of ``count`` groups of rows at once (see
    ``classification_groups``): per group the names of ``REGRESSION_METRICS``."""
    g, y, p = _grouped_rows(groups, labels, predictions)
    n = np.bincount(g, minlength=count).astype(np.float64)
    error = p - y
    absolute = np.bincount(g, weights=np.abs(error), minlength=count)
    squared = np.bincount(g, weights=error**2, minlength=count)
    zero_label = np.bincount(g, weights=y == 0, minlength=count) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.bincount(g, weights=np.abs(error) / np.abs(y), minlength=count)
    sums = np.bincount(g, weights=y, minlength=count)
    means = np.divide(sums, n, out=np.zeros(count), where=n > 0)
    spread = np.bincount(g, weights=(y - means[g]) ** 2, minlength=count)
    found: list[dict[str, float | None]] = []
    for i in range(count):
        if not n[i]:
            found.append(dict.fromkeys(REGRESSION_METRICS))
            continue
        found.append(
            {
                "mae": float(absolute[i] / n[i]),
                "rmse": float(np.sqrt(squared[i] / n[i])),
                "mape": None if zero_label[i] else float(relative[i] / n[i]),
                "r2": 1.0 - float(squared[i]) / float(spread[i]) if spread[i] > 0 else None,
            }
        )
    return found


def _grouped_rows(
    groups: np.ndarray, first: np.ndarray, second: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows' groups and both values as float64, without the rows where either is NaN."""
    g = np.asarray(groups, dtype=np.int64).ravel()
    a = np.asarray(first, dtype=np.float64).ravel()
    b = np.asarray(second, dtype=np.float64).ravel()
    if not g.size == a.size == b.size:
        raise ValueError("groups, labels and scores must have one value per row")
    keep = ~(np.isnan(a) | np.isnan(b))
    return g[keep], a[keep], b[keep]


def _grouped_auc(g: np.ndarray, count: int, y: np.ndarray, p: np.ndarray) -> list[float | None]:
    """Each group's AUC (Mann-Whitney U / (P * N), ties averaged within the group), None
    where a group has no positive or no negative."""
    if not g.size:
        return [None] * count
    order = np.lexsort((p, g))
    gs, ps, ys = g[order], p[order], y[order]
    position = np.arange(gs.size) - np.searchsorted(gs, np.arange(count))[gs] + 1
    # runs of equal (group, score): each row's rank is the mean of its run's first and last
    begins = np.ones(gs.size, dtype=bool)
    begins[1:] = (gs[1:] != gs[:-1]) | (ps[1:] != ps[:-1])
    first_rows = np.flatnonzero(begins)
    last_rows = np.append(first_rows[1:] - 1, gs.size - 1)
    run = np.cumsum(begins) - 1
    ranks = (position[first_rows][run] + position[last_rows][run]) / 2
    positives = np.bincount(gs, weights=ys == 1, minlength=count)
    negatives = np.bincount(gs, minlength=count) - positives
    rank_sums = np.bincount(gs, weights=ranks * (ys == 1), minlength=count)
    u = rank_sums - positives * (positives + 1) / 2
    return [
        float(u[i] / (positives[i] * negatives[i])) if positives[i] and negatives[i] else None
        for i in range(count)
    ]
