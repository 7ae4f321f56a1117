"""Performance metrics against scikit-learn, and CBPE estimates against realised metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn import metrics as sk

from dockyard.monitoring.performance import (
    average_ranks,
    classification,
    estimate_classification,
    regression,
)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.round(rng.beta(2, 3, n), 2)  # rounded: many ties
    labels = (rng.random(n) < scores**1.5).astype(float)
    return labels, scores


def test_classification_matches_scikit_learn() -> None:
    y, p = _data(5000, 1)
    got = classification(y, p, threshold=0.4)
    predicted = (p >= 0.4).astype(int)
    assert got.n == 5000 and got.positives == int(y.sum()) and got.dropped == 0
    assert got.auc == pytest.approx(sk.roc_auc_score(y, p), abs=1e-12)
    assert got.precision == pytest.approx(sk.precision_score(y, predicted), abs=1e-12)
    assert got.recall == pytest.approx(sk.recall_score(y, predicted), abs=1e-12)
    assert got.f1 == pytest.approx(sk.f1_score(y, predicted), abs=1e-12)
    assert got.accuracy == pytest.approx(sk.accuracy_score(y, predicted), abs=1e-12)
    assert got.log_loss == pytest.approx(sk.log_loss(y, p), abs=1e-9)
    assert got.brier == pytest.approx(sk.brier_score_loss(y, p), abs=1e-12)
    assert sum(c for _, _, c in got.calibration) == 5000
    manual = sum(c * abs(s - r) for s, r, c in got.calibration) / 5000
    assert got.ece == pytest.approx(manual)


def _auc_by_rankdata(labels: np.ndarray, scores: np.ndarray) -> float:
    """The AUC as it was computed with SciPy: Mann-Whitney U from rankdata's average ranks."""
    keep = ~(np.isnan(labels) | np.isnan(scores))
    y, ranks = labels[keep], rankdata(scores[keep])
    positives = y.sum()
    negatives = y.size - positives
    u = ranks[y == 1].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def test_numpy_ranks_and_auc_equal_rankdata() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 10, 100, 5000):
        for decimals in (1, 2, 15):  # 1 and 2: many ties
            scores = np.round(rng.random(n), decimals)
            np.testing.assert_allclose(average_ranks(scores), rankdata(scores), rtol=1e-12)
            labels = (rng.random(n) < scores).astype(float)
            labels[: min(n, 2)] = [1.0, 0.0][: min(n, 2)]  # both classes when n >= 2
            if n >= 4:
                labels[2], scores[3] = np.nan, np.nan  # dropped as before
            got = classification(labels, scores).auc
            if n < 2:
                assert got is None
            else:
                assert got == pytest.approx(_auc_by_rankdata(labels, scores), rel=1e-12)
    tied = np.full(7, 0.3)
    np.testing.assert_allclose(average_ranks(tied), rankdata(tied), rtol=1e-12)
    assert classification(np.array([1.0, 0, 1, 0, 0, 1, 1]), tied).auc == 0.5
    assert average_ranks(np.empty(0)).size == 0


def test_classification_edge_cases() -> None:
    one_class = classification(np.zeros(10), np.linspace(0, 1, 10))
    assert one_class.auc is None and one_class.recall is None
    with_nan = classification(np.array([1, 0, np.nan, 1]), np.array([0.9, np.nan, 0.3, 0.8]))
    assert (with_nan.n, with_nan.dropped) == (2, 2)
    empty = classification(np.array([np.nan]), np.array([0.5]))
    assert empty.n == 0 and empty.accuracy is None and empty.calibration == []
    with pytest.raises(ValueError, match="labels has 3 values and scores has 2"):
        classification(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="0 or 1"):
        classification(np.array([2.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        classification(np.array([1.0]), np.array([1.5]))


def test_regression_matches_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(10, 3, 1000)
    p = y + rng.normal(0, 1, 1000)
    got = regression(y, p)
    assert got.mae == pytest.approx(sk.mean_absolute_error(y, p))
    assert got.rmse == pytest.approx(np.sqrt(sk.mean_squared_error(y, p)))
    assert got.mape == pytest.approx(sk.mean_absolute_percentage_error(y, p))
    assert got.r2 == pytest.approx(sk.r2_score(y, p))
    zero = regression(np.array([0.0, 1.0, np.nan]), np.array([0.5, 1.0, 2.0]))
    assert zero.mape is None and zero.dropped == 1 and zero.n == 2
    with pytest.raises(ValueError, match="predictions has 1"):
        regression(np.zeros(2), np.zeros(1))


def test_cbpe_estimate_is_close_to_realised_metrics() -> None:
    rng = np.random.default_rng(3)
    truth = lambda s: s**2  # noqa: E731 - the miscalibration the reference must learn
    ref_scores = rng.beta(2, 2, 50_000)
    ref_labels = (rng.random(50_000) < truth(ref_scores)).astype(float)
    cur_scores = rng.beta(3, 2, 50_000)  # the inputs shifted: fewer negatives
    cur_labels = (rng.random(50_000) < truth(cur_scores)).astype(float)
    estimated = estimate_classification(ref_scores, ref_labels, cur_scores, threshold=0.5)
    realised = classification(cur_labels, cur_scores, threshold=0.5)
    for name in ("auc", "precision", "recall", "f1", "accuracy"):
        assert getattr(estimated, name) == pytest.approx(getattr(realised, name), abs=0.02), name
    assert estimated.expected_positives == pytest.approx(cur_labels.sum(), rel=0.03)
    again = estimate_classification(ref_scores, ref_labels, cur_scores, threshold=0.5)
    assert again == estimated


def test_cbpe_drops_nan_and_checks_lengths() -> None:
    y, p = _data(2000, 4)
    current = np.array([0.1, np.nan, 0.9, 0.6])
    got = estimate_classification(p, y, current)
    assert (got.n, got.dropped) == (3, 1)
    with pytest.raises(ValueError, match="reference_labels has 3 values"):
        estimate_classification(np.zeros(2), np.zeros(3), current)


def test_metrics_of_many_groups_at_once_equal_each_group_alone() -> None:
    """classification_groups / regression_groups give, per group, what classification /
    regression of that group alone give: ties, NaN rows, one-class and empty groups, and the
    errors of bad labels and scores."""
    from dockyard.monitoring.evaluate import _metrics
    from dockyard.monitoring.performance import (
        CLASSIFICATION_METRICS,
        classification_groups,
        regression_groups,
    )

    rng = np.random.default_rng(21)
    count = 40
    sizes = rng.integers(0, 60, count)
    sizes[3] = 0  # an empty group
    groups = np.repeat(np.arange(count), sizes)
    rng.shuffle(groups)
    n = groups.size
    labels = (rng.uniform(size=n) < 0.4).astype(float)
    scores = np.round(rng.uniform(size=n), 2)  # many ties
    labels[rng.uniform(size=n) < 0.05] = np.nan
    scores[rng.uniform(size=n) < 0.05] = np.nan
    labels[groups == 5] = 1.0  # one class only: no AUC
    labels[np.flatnonzero(groups == 7)[:1]] = 2.0  # not binary
    scores[np.flatnonzero(groups == 9)[:1]] = 1.5  # not a probability

    found = classification_groups(groups, count, labels, scores, 0.5)
    for i in range(count):
        mine = groups == i
        try:
            expected: object = _metrics(classification(labels[mine], scores[mine], threshold=0.5))
        except ValueError as exc:
            assert found[i] == str(exc)
            continue
        assert isinstance(found[i], dict) and set(found[i]) == set(expected)  # type: ignore[arg-type]
        for key, value in expected.items():  # type: ignore[attr-defined]
            got = found[i][key]  # type: ignore[index]
            assert (got is None) == (value is None), (i, key)
            if value is not None:
                assert got == pytest.approx(value, rel=1e-12, abs=1e-12), (i, key)

    targets = rng.normal(10, 3, n)
    targets[groups == 11] = 0.0  # a zero label: no MAPE
    outputs = targets + rng.normal(0, 1, n)
    outputs[rng.uniform(size=n) < 0.05] = np.nan
    found_r = regression_groups(groups, count, targets, outputs)
    for i in range(count):
        mine = groups == i
        expected_r = regression(targets[mine], outputs[mine]).model_dump(exclude={"n", "dropped"})
        for key, value in expected_r.items():
            got = found_r[i][key]
            assert (got is None) == (value is None), (i, key)
            if value is not None:
                assert got == pytest.approx(value, rel=1e-12, abs=1e-12), (i, key)
    empty = classification_groups(np.zeros(0, int), 2, np.zeros(0), np.zeros(0), 0.5)
    assert empty == [dict.fromkeys(CLASSIFICATION_METRICS)] * 2
