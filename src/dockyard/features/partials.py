"""Online state of one entity: per feature, settled partial aggregates and pending events.

Each stored feature of a view keeps, for one entity, a small JSON-encodable state:

- ``"p"``: pending events, ``[ts, seq, available_at or None, value]`` (null values and
  gated events without an available-at time are never kept: they count for nothing);
- ``"s"``: what is settled: per bucket partials ``[[bucket_start, partial], ...]`` sorted
  by start for a windowed aggregate, one partial for an aggregate over all history, the
  latest ``[ts, seq, value]`` for a Field.

An event is *settled* against the horizon ``H`` (the newest event time seen minus the
view's lateness; no later push may bring an event before it, and no lookup may ask for a
time before it) once every lookup at ``t >= H`` counts it by its bucket alone: its bucket
ends at or before ``floor_b(H)`` (so it is a whole bucket for any such ``t``) and it is
known before ``H``. Settled events are folded into their bucket's partial and old buckets
that no window at ``t >= H`` reaches are dropped; a lookup reads the settled partials of
its window's buckets and looks at the pending events one by one. That keeps every lookup
exact (:mod:`dockyard.features.windows`) while a 7-day window never rescans 7 days.
"""

from __future__ import annotations

import math
from typing import Any

from dockyard.features.definitions import Aggregate, FeatureView, Field
from dockyard.features.windows import floor_to

State = dict[str, Any]
Record = dict[str, State]
NEVER = 2**63 - 1
"""A valid-until time meaning "until something is written"."""


def _single(fn: str, ts: int, seq: int, value: Any) -> Any:
    if fn == "count":
        return [1, 0.0]
    if fn in ("sum", "mean"):
        return [1, float(value)]
    if fn == "std":
        return [1, float(value), 0.0]
    if fn in ("min", "max"):
        return value
    if fn == "last":
        return [ts, seq, value]
    return [value]  # distinct_count


def merge_moments(a: list[Any], b: list[Any]) -> list[Any]:
    """Two ``[count, mean, m2]`` partials (``m2``: the sum of squared deviations from the
    mean) as one, by Chan et al.'s pairwise update. Stable: no difference of large sums, and
    equal values keep ``m2`` exactly 0. The same steps as DuckDB's ``stddev_pop`` (Welford
    within a frame, this merge between segments), so both sides agree to rounding."""
    n = a[0] + b[0]
    delta = b[1] - a[1]
    return [n, a[1] + delta * b[0] / n, a[2] + b[2] + delta * delta * a[0] * b[0] / n]


def _merge(fn: str, a: Any, b: Any) -> Any:
    if a is None:
        return b
    if fn in ("count", "sum", "mean"):
        return [a[0] + b[0], a[1] + b[1]]
    if fn == "std":
        return merge_moments(a, b)
    if fn == "min":
        return b if b < a else a
    if fn == "max":
        return b if b > a else a
    if fn == "last":
        return b if (b[0], b[1]) > (a[0], a[1]) else a
    merged = list(a)
    seen = set(a)
    for value in b:
        if value not in seen:
            seen.add(value)
            merged.append(value)
    return merged


def _finish(fn: str, partial: Any, ttl: int | None, t: int) -> Any:
    if fn == "count":
        return 0 if partial is None else partial[0]
    if fn == "distinct_count":
        return 0 if partial is None else len(partial)
    if partial is None:
        return None
    if fn == "sum":
        return partial[1]
    if fn == "mean":
        return partial[1] / partial[0]
    if fn == "std":
        return math.sqrt(partial[2] / partial[0])
    if fn == "last":
        return None if ttl is not None and partial[0] < t - ttl else partial[2]
    return partial


def _fold(buckets: list[list[Any]], start: int, fn: str, partial: Any) -> None:
    """Merge ``partial`` into the bucket starting at ``start`` of a list sorted by start."""
    at = len(buckets)
    while at > 0 and buckets[at - 1][0] > start:
        at -= 1
    if at > 0 and buckets[at - 1][0] == start:
        buckets[at - 1][1] = _merge(fn, buckets[at - 1][1], partial)
    else:
        buckets.insert(at, [start, partial])


def _over_buckets(fn: str, buckets: list[list[Any]], start: int, current: int) -> Any:
    """The merged partial of the buckets starting in ``[start, current)``."""
    if fn in ("count", "sum", "mean"):
        n, total = 0, 0.0
        for begins, partial in buckets:
            if begins >= current:
                break
            if begins >= start:
                n += partial[0]
                total += partial[1]
        return [n, total] if n else None
    acc = None
    for begins, partial in buckets:
        if begins >= current:
            break
        if begins >= start:
            acc = _merge(fn, acc, partial)
    return acc


class Consumer:
    """How one stored feature folds events into its state and reads a value from it."""

    def __init__(self, view: FeatureView, feature: Field | Aggregate) -> None:
        self.name = feature.name
        self.column = feature.column
        self.ttl = view.ttl_us
        self.field = isinstance(feature, Field)
        self.fn = "last" if isinstance(feature, Field) else feature.fn
        self.gate = feature.available_at if isinstance(feature, Aggregate) else None
        self.window = feature.window_us if isinstance(feature, Aggregate) else None
        self.bucket = (
            view.bucket_us(feature)
            if isinstance(feature, Aggregate) and feature.window is not None
            else 0
        )

    def add(
        self, state: State | None, ts: int, seq: int, available: int | None, value: Any
    ) -> State:
        """Add one event (pending until settled)."""
        if state is None:
            state = {"s": [] if self.window is not None else None, "p": []}
        if self.field or (value is not None and (self.gate is None or available is not None)):
            state["p"].append([ts, seq, available, value])
        return state

    def settle(self, state: State, horizon: int) -> None:
        """Fold the events settled against ``horizon`` and drop buckets out of reach."""
        keep = []
        window, bucket, fn = self.window, self.bucket, self.fn
        edge = floor_to(horizon, bucket) if window is not None else horizon
        oldest = edge - window if window is not None else None
        for event in state["p"]:
            ts, seq, available, value = event
            if oldest is not None and ts < oldest:
                continue  # before every window a lookup at or after the horizon can ask for
            known = self.gate is None or available < horizon
            if window is None:
                if ts < horizon and known:
                    if self.field:
                        state["s"] = _merge("last", state["s"], [ts, seq, value])
                    else:
                        state["s"] = _merge(fn, state["s"], _single(fn, ts, seq, value))
                    continue
            elif floor_to(ts, bucket) + bucket <= edge and known:
                _fold(state["s"], floor_to(ts, bucket), fn, _single(fn, ts, seq, value))
                continue
            keep.append(event)
        state["p"] = keep
        if oldest is not None:
            buckets = state["s"]
            drop = 0
            while drop < len(buckets) and buckets[drop][0] < oldest:
                drop += 1
            if drop:
                del buckets[:drop]

    def value(self, state: State | None, t: int) -> tuple[Any, int]:
        """The value at ``t`` and the first later time at which it may change."""
        if state is None:
            return _finish(self.fn, None, self.ttl, t) if not self.field else None, NEVER
        until = NEVER
        start: int | None = None
        if self.window is not None:
            current = floor_to(t, self.bucket)
            start = current - self.window
            until = current + self.bucket
            acc = _over_buckets(self.fn, state["s"], start, current)
        else:
            acc = state["s"]
        for ts, seq, available, value in state["p"]:
            known_at = ts if self.gate is None else max(ts, available)
            if known_at >= t:
                until = min(until, known_at + 1)
                continue
            if start is not None and ts < start:
                continue
            single = [ts, seq, value] if self.field else _single(self.fn, ts, seq, value)
            acc = _merge(self.fn, acc, single)
        if self.field:
            if acc is None:
                return None, until
            expired = self.ttl is not None and acc[0] < t - self.ttl
            if self.ttl is not None and not expired:
                until = min(until, acc[0] + self.ttl + 1)
            return (None if expired else acc[2]), until
        if (
            self.fn == "last"
            and acc is not None
            and self.ttl is not None
            and acc[0] >= t - self.ttl
        ):
            until = min(until, acc[0] + self.ttl + 1)
        return _finish(self.fn, acc, self.ttl, t), until
