"""Many sequential folds at once, with array operations, bit for bit like one at a time.

The online partials (:mod:`dockyard.features.partials`) fold events into a partial one
after the other, and a float sum depends on that order. To fold the events of many groups
(entity x bucket) with the very same floats, the events are taken in *rounds*: round ``k``
holds the ``k``-th event of every group that has one, so each round updates each group at
most once, with the same arithmetic as :func:`dockyard.features.partials._merge`. The
number of rounds is the size of the largest group; each is a handful of numpy operations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


def rounds(group: np.ndarray) -> Iterator[np.ndarray]:
    """For items sorted by group (then in folding order), the item positions of each
    round: first the first item of every group, then the second ones, and so on (each
    round in group order; no sort: the groups still going shrink round by round)."""
    n = len(group)
    if n == 0:
        return
    starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
    sizes = np.diff(np.append(starts, n))
    k = 0
    while len(starts):
        yield starts + k if k else starts
        k += 1
        going = sizes > k
        if not going.all():
            starts, sizes = starts[going], sizes[going]


@dataclass
class Partials:
    """One partial per group, as columns: ``has`` says which groups hold one yet; the
    columns are the fields of the partial (``[n, sum]``, ``[n, mean, m2]`` or ``[value]``)."""

    has: np.ndarray
    columns: list[np.ndarray]


def empty(fn: str, groups: int, dtype: np.dtype) -> Partials:
    """No partial yet for any of ``groups`` groups of aggregate ``fn``."""
    has = np.zeros(groups, dtype=bool)
    if fn in ("count", "sum", "mean"):
        return Partials(has, [np.zeros(groups, np.int64), np.zeros(groups, np.float64)])
    if fn == "std":
        return Partials(
            has,
            [np.zeros(groups, np.int64), np.zeros(groups, np.float64), np.zeros(groups)],
        )
    if fn in ("min", "max"):
        return Partials(has, [np.empty(groups, dtype=dtype)])
    raise ValueError(f"no array fold for {fn!r}")


def fold(fn: str, acc: Partials, group: np.ndarray, x: np.ndarray) -> None:
    """Fold the items (group of each, sorted by group then order; value ``x``: floats for
    count / sum / mean / std, the column's own values for min / max) into ``acc``."""
    with np.errstate(all="ignore"):  # inf and NaN as Python floats give them, silently
        _fold(fn, acc, group, x)


def _fold(fn: str, acc: Partials, group: np.ndarray, x: np.ndarray) -> None:
    for at in rounds(group):
        g = group[at]
        v = x[at]
        h = acc.has[g]
        if fn in ("count", "sum", "mean"):
            n, s = acc.columns
            n[g] = np.where(h, n[g] + 1, 1)
            s[g] = np.where(h, s[g] + (0.0 if fn == "count" else v), 0.0 if fn == "count" else v)
        elif fn == "std":  # merge_moments(a, [1, v, 0.0])
            n, mean, m2 = acc.columns
            a0, a1, a2 = n[g], mean[g], m2[g]
            total = a0 + 1
            delta = v - a1
            mean[g] = np.where(h, a1 + delta * 1 / total, v)
            m2[g] = np.where(h, a2 + 0.0 + delta * delta * a0 * 1 / total, 0.0)
            n[g] = np.where(h, total, 1)
        else:  # min / max: b if b < a else a (NaN and -0.0 behave as in Python)
            (values,) = acc.columns
            old = g[h]
            if len(old):
                a, b = values[old], v[h]
                better = b < a if fn == "min" else b > a
                values[old] = np.where(better, b, a)
            values[g[~h]] = v[~h]
        acc.has[g] = True


def from_python(fn: str, partials: list[object], dtype: np.dtype) -> Partials:
    """Columns of stored partials (as :mod:`dockyard.features.partials` keeps them)."""
    count = len(partials)
    has = np.ones(count, dtype=bool)
    if fn in ("count", "sum", "mean", "std"):
        fields = list(zip(*partials, strict=True)) if count else []
        if not fields:
            return empty(fn, 0, dtype)
        columns = [np.array(fields[0], np.int64)]
        columns += [np.array(f, np.float64) for f in fields[1:]]
        return Partials(has, columns)
    values = np.empty(count, dtype=dtype)
    values[:] = partials if dtype.kind != "O" else objects(partials)
    return Partials(has, [values])


def objects(values: list[object]) -> np.ndarray:
    """A 1-d object array of ``values`` (never split into nested arrays)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out
