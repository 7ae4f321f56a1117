"""Drift of each column between two summaries made on the same binning.

Every method works on the binned counts of the two summaries, never on raw rows:

- ``psi``: population stability index, sum((q - p) * ln(q / p)) over bucket shares, an empty
  bucket's share replaced by ``PSI_EPSILON``. Numeric columns first merge adjacent bins into
  (at most) ``PSI_BUCKETS`` buckets of about equal reference mass (deciles: the usual PSI),
  so that small windows are not flagged by noise in 100 thin bins; categorical columns use
  their categories and ``other``. Drifted when >= 0.2.
- ``js``: Jensen-Shannon distance, base 2, of the bucket shares, computed with numpy; it
  equals ``scipy.spatial.distance.jensenshannon(p, q, base=2)`` of them (the tests check it).
  Drifted when >= 0.1.
- ``chi2``: two-sample test of homogeneity on the 2 x k table of counts, buckets empty in both
  left out (exactly ``scipy.stats.chi2_contingency(table, correction=False)``); the reference
  is a sample too, so large equal samples are not flagged. Drifted when p < 0.05.
- ``ks``: two-sample Kolmogorov-Smirnov: D = max |F_ref - F_cur| over the bin edges, and the
  p-value of ``scipy.stats.kstwo`` at the effective size round(n*m / (n+m)) (what
  ``ks_2samp(..., method="asymp")`` does). D is exact when every value of both samples is a
  bin edge (the reference had no more distinct values than bins and the current window has no
  value the reference lacked); otherwise it is a lower bound of the raw-data D. Numeric only.
  Drifted when p < 0.05.
- ``wasserstein``: Wasserstein-1 distance between the binned distributions divided by the
  reference's standard deviation (population, from sum and sum_sq), as Evidently normalises
  it. Each bucket's count sits at one value (``bucket_values``): the edge itself when the
  edges are the reference's distinct values, else the middle of the bin; the outer buckets
  sit halfway to the sample's own min / max. The distance, computed with numpy, equals
  ``scipy.stats.wasserstein_distance`` of those weighted values (the tests check it); against
  the raw data it is exact in the distinct-values case and within a bin width otherwise. When
  the reference is constant, the divisor is the current standard deviation, else |reference
  mean|, else 1. Numeric only. Drifted when >= 0.1.
- ``auto``: numeric columns use ``wasserstein`` when both samples have more than 1000 values,
  else ``ks``; categorical ones ``js`` above 1000 values, else ``chi2``. At a million rows a
  p-value flags differences too small to matter; a distance with a threshold does not.

A column without values in the current window (all null, invalid or absent), or in the
reference, is reported with ``drifted=False``, ``statistic=0``, ``p_value=None`` and a
``reason``, so the caller can show that it was not compared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from dockyard.monitoring.binning import Binning, ColumnBins, Kind
from dockyard.monitoring.profile import ColumnSummary, Summary

__all__ = ["DEFAULT_THRESHOLDS", "METHODS", "ColumnDrift", "bucket_values", "compare"]

METHODS = ("psi", "ks", "chi2", "js", "wasserstein")
DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.2,
    "ks": 0.05,
    "chi2": 0.05,
    "js": 0.1,
    "wasserstein": 0.1,
}
P_VALUE_METHODS = frozenset({"ks", "chi2"})
NUMERIC_ONLY = frozenset({"ks", "wasserstein"})
AUTO_MIN_ROWS = 1000
PSI_EPSILON = 1e-4
PSI_BUCKETS = 10


class ColumnDrift(BaseModel):
    """The drift of one column: the statistic, its p-value (tests only) and the verdict.

    ``reference_rows`` and ``current_rows`` are the values compared (nulls, NaN and invalid
    values left out). ``reason`` is set when the column could not be compared.
    """

    model_config = ConfigDict(extra="forbid")

    column: str
    kind: Kind
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    reference_rows: int
    current_rows: int
    new_categories: dict[str, int] = Field(default_factory=dict)
    reason: str | None = None


def compare(
    reference: Summary,
    current: Summary,
    binning: Binning,
    *,
    method: str = "auto",
    threshold: float | None = None,
    thresholds: Mapping[str, float] | None = None,
    methods: Mapping[str, str] | None = None,
) -> list[ColumnDrift]:
    """The drift of every column of ``binning`` from ``reference`` to ``current``.

    ``method`` applies to every column unless ``methods`` names one for it (categorical
    columns take auto's choice under a numeric-only ``method``: ks, wasserstein); ``threshold``
    replaces the method's default threshold, ``thresholds`` per column. Raises ValueError for
    an unknown method or column, or a summary made on another binning.
    """
    methods = dict(methods or {})
    thresholds = dict(thresholds or {})
    valid = ("auto", *METHODS)
    for column, name in [("", method), *methods.items()]:
        if name not in valid:
            where = f" for column {column!r}" if column else ""
            raise ValueError(f"unknown drift method {name!r}{where}; use one of {list(valid)}")
    unknown = (set(methods) | set(thresholds)) - set(binning.columns)
    if unknown:
        raise ValueError(f"columns not in the binning: {sorted(unknown)}")
    reference.check(binning)
    current.check(binning)
    results = []
    for name, bins in binning.columns.items():
        chosen = methods.get(name, method)
        if name not in methods and chosen in NUMERIC_ONLY and bins.kind == "categorical":
            chosen = "auto"
        limit = thresholds.get(name, threshold)
        results.append(
            _column(name, bins, reference.columns[name], current.columns[name], chosen, limit)
        )
    return results


def _column(
    name: str,
    bins: ColumnBins,
    ref: ColumnSummary,
    cur: ColumnSummary,
    method: str,
    threshold: float | None,
) -> ColumnDrift:
    if method == "auto":
        large = ref.count > AUTO_MIN_ROWS and cur.count > AUTO_MIN_ROWS
        if bins.kind == "numeric":
            method = "wasserstein" if large else "ks"
        else:
            method = "js" if large else "chi2"
    if method in NUMERIC_ONLY and bins.kind != "numeric":
        raise ValueError(
            f"{method} needs a numeric column, and {name!r} is categorical; "
            "use psi, chi2 or js for it"
        )
    limit = DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    base = {
        "column": name,
        "kind": bins.kind,
        "method": method,
        "threshold": limit,
        "reference_rows": ref.count,
        "current_rows": cur.count,
        "new_categories": cur.new,
    }
    if ref.count == 0 or cur.count == 0:
        which = "reference" if ref.count == 0 else "current window"
        return ColumnDrift(
            **base,
            statistic=0.0,
            p_value=None,
            drifted=False,
            reason=f"no values in the {which}",
        )
    r = np.asarray(ref.counts, dtype=np.float64)
    c = np.asarray(cur.counts, dtype=np.float64)
    p_value: float | None = None
    if method == "psi":
        if bins.kind == "numeric":
            r, c = _deciles(r, c)
        statistic = psi(r, c)
    elif method == "js":
        statistic = jensen_shannon(r, c)
    elif method == "chi2":
        statistic, p_value = chi2_homogeneity(r, c)
    elif method == "ks":
        statistic, p_value = ks_binned(r, c)
    else:
        statistic = wasserstein_binned(bins, ref, cur)
    drifted = p_value < limit if p_value is not None else statistic >= limit
    return ColumnDrift(**base, statistic=statistic, p_value=p_value, drifted=drifted)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """The population stability index of two count vectors over the same buckets."""
    p = np.maximum(reference / reference.sum(), PSI_EPSILON)
    q = np.maximum(current / current.sum(), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2, of two count vectors over the same buckets.

    Each is normalised by its sum, m is their average, and the distance is
    sqrt((KL(p || m) + KL(q || m)) / 2) with 0 * log 0 = 0.
    """
    p = reference / reference.sum()
    q = current / current.sum()
    m = (p + q) / 2
    divergence = (_kl(p, m) + _kl(q, m)) / 2
    return math.sqrt(max(divergence, 0.0) / math.log(2))


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    """Kullback-Leibler divergence KL(p || m) in nats; buckets where p is 0 add nothing."""
    used = p > 0
    return float(np.sum(p[used] * np.log(p[used] / m[used])))


def wasserstein(
    u_values: np.ndarray, v_values: np.ndarray, u_weights: np.ndarray, v_weights: np.ndarray
) -> float:
    """Wasserstein-1 distance of two weighted 1-D samples: the integral of |F_u - F_v|.

    Both CDFs are step functions on the sorted union of the values; between consecutive
    points of it each is the sample's cumulative weight (over its total) of its values at or
    below the left point.
    """
    points = np.sort(np.concatenate([u_values, v_values]))
    widths = np.diff(points)
    left = points[:-1]
    gap = np.abs(_cdf(u_values, u_weights, left) - _cdf(v_values, v_weights, left))
    return float(np.sum(gap * widths))


def _cdf(values: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The weighted sample's CDF (share of the weight at or below) at each point of ``at``."""
    order = np.argsort(values, kind="stable")
    cumulative = np.concatenate(([0.0], np.cumsum(weights[order])))
    below = np.searchsorted(values[order], at, side="right")
    shares: np.ndarray = cumulative[below] / cumulative[-1]
    return shares


def _deciles(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjacent buckets merged into at most PSI_BUCKETS of about equal reference mass."""
    middle = (np.cumsum(reference) - reference / 2) / reference.sum()
    group = np.minimum((middle * PSI_BUCKETS).astype(np.int64), PSI_BUCKETS - 1)
    size = PSI_BUCKETS
    return (
        np.bincount(group, weights=reference, minlength=size),
        np.bincount(group, weights=current, minlength=size),
    )


def chi2_homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-squared statistic and p-value of the 2 x k table of counts (no correction)."""
    keep = (reference + current) > 0
    if keep.sum() < 2:
        return 0.0, 1.0
    table = np.vstack([reference[keep], current[keep]])
    # Imported here: importing scipy.stats costs ~0.6 s; auto on large windows never needs it.
    from scipy.stats import chi2_contingency

    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def ks_binned(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic over the bucket boundaries and its asymptotic p-value."""
    n, m = reference.sum(), current.sum()
    d = float(np.max(np.abs(np.cumsum(reference) / n - np.cumsum(current) / m)))
    effective = np.round(n * m / (n + m))
    # Imported here: importing scipy.stats costs ~0.6 s; auto on large windows never needs it.
    from scipy.stats import kstwo

    return d, float(np.clip(kstwo.sf(d, effective), 0.0, 1.0))


def bucket_values(bins: ColumnBins, low: float | None, high: float | None) -> np.ndarray:
    """The value each bucket's count stands for, for a sample with extremes ``low``/``high``.

    Edges themselves when they are the reference's distinct values, else bin middles; the
    bucket at or below the first edge sits halfway down to ``low``, the bucket above the last
    edge halfway up to ``high``.
    """
    edges = np.asarray(bins.edges, dtype=np.float64)
    values = np.empty(edges.size + 1)
    values[1:-1] = edges[1:] if bins.exact else (edges[:-1] + edges[1:]) / 2
    first, last = edges[0], edges[-1]
    values[0] = (low + first) / 2 if low is not None and low < first else first
    values[-1] = (high + last) / 2 if high is not None and high > last else last
    return values


def wasserstein_binned(bins: ColumnBins, ref: ColumnSummary, cur: ColumnSummary) -> float:
    """Wasserstein-1 distance of the binned distributions over the reference's std."""
    distance = wasserstein(
        bucket_values(bins, ref.min, ref.max),
        bucket_values(bins, cur.min, cur.max),
        np.asarray(ref.bins, dtype=np.float64),
        np.asarray(cur.bins, dtype=np.float64),
    )
    scale = _std(ref) or _std(cur)
    if not scale:
        finite = ref.count - ref.inf
        scale = abs(ref.sum / finite) if finite else 0.0
    return float(distance / (scale or 1.0))


def _std(summary: ColumnSummary) -> float:
    """Population standard deviation of the finite values (0 when they are constant)."""
    finite = summary.count - summary.inf
    if finite == 0:
        return 0.0
    mean = summary.sum / finite
    variance = summary.sum_sq / finite - mean * mean
    if variance <= 1e-12 * mean * mean:
        return 0.0
    return math.sqrt(variance)
