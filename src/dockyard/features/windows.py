"""The exact meaning of a feature's value "as of time t", shared by offline and online.

Times are integer microseconds since the Unix epoch (UTC). Every event of a view has a time
``ts`` (the view's timestamp column) and an arrival order ``seq``: its position in the
source table offline, the order in which :func:`push` received it online (a push appends
its events to the source, so both orders agree). The value of a feature for entity ``k``
at time ``t`` uses only the events of ``k`` with ``ts < t`` strictly (an event exactly at
``t`` is not yet known at ``t``):

Field(column)
    The ``column`` value of the latest such event, latest by ``(ts, seq)``; it may be null.
    Null when there is none, or when the view has a ``ttl`` and that event's
    ``ts < t - ttl``.

Aggregate(column, fn, window=w, available_at=a)
    Over the events ``E`` with ``column`` not null, ``ts < t``, ``ts >= start(t)``, and
    (when ``a`` is set) ``a`` not null and ``a < t``:

    - ``start(t) = floor_b(t) - w`` where ``floor_b(t) = t - (t mod b)`` is the start of
      the bucket of size ``b`` holding ``t`` (buckets are aligned on the epoch). So the
      window is the ``w / b`` whole buckets before the current bucket plus the current
      partial bucket up to ``t``: it spans between ``w`` and ``w + b``. Without a window
      ``start(t)`` is minus infinity (all history).
    - ``b`` is the view's ``bucket`` when set, else ``w / 24`` (1 h for 24 h, 150 s for
      1 h, 7 h for 7 d); ``w`` must be a whole number of buckets.
    - ``count`` and ``distinct_count`` are 0 when ``E`` is empty; every other aggregate is
      then null. ``sum``, ``mean`` and ``std`` read the values as floats;
      ``mean = sum / count``; ``std`` is the population standard deviation
      ``sqrt(sum((x - mean)^2) / count)``, 0.0 for a single value (null, like the others,
      for none); ``last`` is the value of the latest event of ``E`` by ``(ts, seq)``, null
      under the view's ``ttl`` like a Field; ``min``, ``max`` and ``distinct_count`` are
      as named.

Why whole buckets: an online store keeps, per entity and aggregate, one partial aggregate
per bucket (count, sum, min, max, last, set of values; for ``std`` the count, mean and
sum of squared deviations, merged pairwise, never as a difference of sums of squares, so
values that barely vary keep their digits and equal values give exactly 0) and needs
nothing finer than its buckets except for the events still in the current bucket or not
yet available; the offline computation applies the very same rule, so both give the same
numbers (sums and standard deviations may differ in the last bits of a float, well under
1e-9 relative).
``available_at`` is accepted by ``count``, ``sum`` and ``mean`` only: offline they are
running sums that can be subtracted, which the stable moments of ``std`` cannot.
"""

from __future__ import annotations


def floor_to(t: int, size: int) -> int:
    """The start of the bucket of ``size`` microseconds that holds time ``t``."""
    return t - (t % size)


def window_start(t: int, window: int | None, bucket: int) -> int | None:
    """The first time inside the window of a query at ``t`` (None: all history)."""
    if window is None:
        return None
    return floor_to(t, bucket) - window


def sql_floor(expr: str, size: int) -> str:
    """SQL for :func:`floor_to` on an integer expression (DuckDB's % keeps the dividend's
    sign, so negative times are brought back into [0, size) first)."""
    return f"({expr} - ((({expr}) % {size}) + {size}) % {size})"
