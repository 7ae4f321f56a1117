"""Min/max rollups of metric series: kept up to date on write, read for downsampled history.

For each series and each level L in :data:`LEVELS`, table ``metric_rollups`` holds one row
per bucket ``step >> L`` (2^L consecutive steps): the number of points, the lowest point
and the highest point (value, step, timestamp). A downsampled history of a long series
reads the rows of one level instead of its raw points, grouped in SQL into max_points / 2
groups of consecutive buckets that each keep their lowest and highest point.

Levels 4, 8, 12, 16 (buckets of 16, 256, 4,096 and 65,536 steps), chosen so that:

- the finest level costs little on write: a batch of consecutive steps adds about one rollup
  row per 16 points at level 4, plus one or two rows per coarser level;
- history keeps its resolution when it switches from raw points to rollups: raw points are
  read up to 8 x max_points points (:data:`RAW_FACTOR`), and a denser series has more than
  max_points / 2 buckets at level 4, as many as the output has buckets;
- a read touches few rows: the finest level with at most 8 x max_points buckets over the
  series' step range (:data:`ROWS_FACTOR`); successive levels are 16x apart, so that is at
  least max_points / 2 buckets when a finer level is too big, and a 1M-step series needs
  ~3,900 rows at level 8 for 1,000 points (~61,000 at level 4);
- level 16 keeps reads bounded for very long series (2^32 steps: 65,536 rows).

Ties: a bucket's lowest point is the one with the lowest (value, step, ts), its highest the
one with the highest (value, step, ts), so a bucket's row does not depend on the order in
which its points arrived. Migration 0004 backfills the same rows in SQL: keep both in step.
(When history groups buckets, PostgreSQL keeps the same rule; SQLite takes any one of
tied points from different buckets of a group.)
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from itertools import chain
from typing import Any

from sqlalchemy.engine import Connection

from dockyard.tracking.schemas import MetricSeries

LEVELS = (4, 8, 12, 16)
RAW_FACTOR = 8  # read raw points for a series of up to RAW_FACTOR x max_points points
ROWS_FACTOR = 8  # read the finest level with at most ROWS_FACTOR x max_points buckets

Extreme = tuple[float, int, int]  # (value, step, ts)
Bucket = tuple[int, Extreme, Extreme]  # (count, lowest, highest)
Point = tuple[int, int, float]  # (step, ts, value), as history returns them


def _finest(steps: list[int], stamps: list[int], values: list[float]) -> dict[int, Bucket]:
    """The buckets of level ``LEVELS[0]`` of a batch's points of one series."""
    if steps != sorted(steps):  # rare (sorting sorted steps is a linear pass in C)
        order = sorted(range(len(steps)), key=steps.__getitem__)
        steps = [steps[i] for i in order]
        stamps = [stamps[i] for i in order]
        values = [values[i] for i in order]
    shift = LEVELS[0]
    buckets: dict[int, Bucket] = {}
    i, n = 0, len(steps)
    while i < n:  # one bucket per turn; builtins on slices do the per-point work in C
        bucket = steps[i] >> shift
        j = bisect_left(steps, (bucket + 1) << shift, i + 1)
        if j == i + 1:
            point = (values[i], steps[i], stamps[i])
            buckets[bucket] = (1, point, point)
            i = j
            continue
        part = values[i:j]
        lowest, highest = min(part), max(part)
        if part.count(lowest) == 1:
            k = i + part.index(lowest)
            low = (lowest, steps[k], stamps[k])
        else:
            low = min(zip(part, steps[i:j], stamps[i:j], strict=True))
        if part.count(highest) == 1:
            k = i + part.index(highest)
            high = (highest, steps[k], stamps[k])
        else:
            high = max(zip(part, steps[i:j], stamps[i:j], strict=True))
        buckets[bucket] = (j - i, low, high)
        i = j
    return buckets


def _coarser(buckets: dict[int, Bucket], shift: int) -> dict[int, Bucket]:
    """Buckets ``shift`` levels coarser: 2^shift buckets merged into one."""
    merged: dict[int, Bucket] = {}
    for bucket, (count, low, high) in buckets.items():
        key = bucket >> shift
        seen = merged.get(key)
        if seen is None:
            merged[key] = (count, low, high)
        else:
            merged[key] = (seen[0] + count, min(seen[1], low), max(seen[2], high))
    return merged


def batch_rollups(series_id: int, points: MetricSeries) -> list[tuple[object, ...]]:
    """The rollup rows of one series' points in a batch, every level, each bucket once."""
    rows: list[tuple[object, ...]] = []
    buckets = _finest(points.steps, points.timestamps, points.values)
    previous = LEVELS[0]
    for level in LEVELS:
        if level != previous:
            buckets = _coarser(buckets, level - previous)
            previous = level
        rows.extend(
            (series_id, level, bucket, count, *low, *high)
            for bucket, (count, low, high) in buckets.items()
        )
    return rows


# Rows per upsert: 10 parameters each stays under the 999 variables of old SQLite builds.
_ROWS_PER_STATEMENT = 90
_COLUMNS = (
    'series_id, "level", bucket, "count", min_value, min_step, min_ts, max_value, max_step, max_ts'
)


@functools.cache
def _merge() -> str:
    """Merge a rollup row into the row already there: counts add up, the lower lowest
    point and the higher highest point win."""
    old, new = "metric_rollups", "excluded"
    sets = [f'"count" = {old}."count" + {new}."count"']
    for kind, wins in (("min", "<"), ("max", ">")):
        incoming = f"({new}.{kind}_value, {new}.{kind}_step, {new}.{kind}_ts)"
        stored = f"({old}.{kind}_value, {old}.{kind}_step, {old}.{kind}_ts)"
        for part in ("value", "step", "ts"):
            column = f"{kind}_{part}"
            sets.append(
                f"{column} = CASE WHEN {incoming} {wins} {stored} "
                f"THEN {new}.{column} ELSE {old}.{column} END"
            )
    return f'ON CONFLICT (series_id, "level", bucket) DO UPDATE SET {", ".join(sets)}'


@functools.cache
def _upsert(dialect: str, rows: int) -> str:
    """Insert or merge ``rows`` rollup rows given as parameters row after row."""
    mark = "%s" if dialect == "postgresql" else "?"
    values = ", ".join([f"({', '.join([mark] * 10)})"] * rows)
    return f"INSERT INTO metric_rollups ({_COLUMNS}) VALUES {values} {_merge()}"


_TYPES = ("int8", "int2", "int8", "int8", "float8", "int8", "int8", "float8", "int8", "int8")


@functools.cache
def _upsert_arrays() -> str:
    """PostgreSQL: insert or merge rollup rows given as one array per column."""
    arrays = ", ".join(f"%s::{kind}[]" for kind in _TYPES)
    return f"INSERT INTO metric_rollups ({_COLUMNS}) SELECT * FROM unnest({arrays}) {_merge()}"


def upsert_rollups(connection: Connection, rows: list[tuple[object, ...]]) -> None:
    """Merge the rollup rows of a batch (each (series, level, bucket) at most once)."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":  # one statement: multi-row VALUES are planned again each time
        columns = tuple(list(column) for column in zip(*rows, strict=True))
        connection.exec_driver_sql(_upsert_arrays(), columns)
        return
    flat = list(chain.from_iterable(rows))
    width = 10 * _ROWS_PER_STATEMENT
    whole = len(flat) - len(flat) % width
    if whole:
        connection.exec_driver_sql(
            _upsert(dialect, _ROWS_PER_STATEMENT),
            [tuple(flat[i : i + width]) for i in range(0, whole, width)],
        )
    if whole < len(flat):
        connection.exec_driver_sql(_upsert(dialect, (len(flat) - whole) // 10), tuple(flat[whole:]))


def choose_level(count: int, first_step: int, last_step: int, max_points: int) -> int:
    """The finest level whose buckets over the step range fit ``ROWS_FACTOR x max_points``
    (the coarsest level if none does)."""
    for level in LEVELS:
        buckets = min(count, (last_step >> level) - (first_step >> level) + 1)
        if buckets <= ROWS_FACTOR * max_points:
            return level
    return LEVELS[-1]


@functools.cache
def _extremes_query(dialect: str, lowest: bool) -> str:
    """Each group of consecutive buckets' lowest (or highest) point, picked in SQL so that
    only the picked points cross to Python: PostgreSQL keeps the first row of each group
    ordered by (value, step, ts) (``DISTINCT ON``); SQLite takes the row of a bare
    ``min()``/``max()`` aggregate (any one of a group's tied points), as its window
    functions cost ten times more here."""
    kind = "min" if lowest else "max"
    group = "(bucket - {m}) * {m} / {m}"
    where = 'WHERE series_id = {m} AND "level" = {m}'
    if dialect == "postgresql":
        order = "" if lowest else " DESC"
        by = f"{kind}_value{order}, {kind}_step{order}, {kind}_ts{order}"
        sql = (
            f"SELECT DISTINCT ON (g) {kind}_step, {kind}_ts, {kind}_value "
            f"FROM (SELECT {group} AS g, {kind}_step, {kind}_ts, {kind}_value "
            f"FROM metric_rollups {where}) AS grouped ORDER BY g, {by}"
        )
        return sql.format(m="%s")
    sql = (
        f"SELECT {kind}_step, {kind}_ts, {kind}({kind}_value) FROM metric_rollups {where} "
        f"GROUP BY {group}"
    )
    return sql.format(m="?")


def downsample(
    connection: Connection, series_id: int, count: int, last_step: int, max_points: int
) -> list[Point] | None:
    """A series downsampled from its rollups to at most ``max_points`` points, or None if it
    has no rollups.

    The finest level that fits (:func:`choose_level`) is split into ``max_points // 2``
    groups of consecutive buckets, each keeping its lowest and highest point; a group is
    made of whole buckets, so its extremes are exact. Returns sorted unique (step, ts,
    value) points.
    """
    finest = LEVELS[0]
    dialect = connection.dialect.name
    mark = "%s" if dialect == "postgresql" else "?"
    raw: Any = connection.connection
    cursor = raw.cursor()
    try:
        cursor.execute(
            f'SELECT min(bucket) FROM metric_rollups WHERE series_id = {mark} AND "level" = {mark}',
            (series_id, finest),
        )
        (first,) = cursor.fetchone()
        if first is None:
            return None
        level = choose_level(count, first << finest, last_step, max_points)
        first >>= level - finest
        span = (last_step >> level) - first + 1
        groups = max(1, max_points // 2)
        if span <= groups:
            groups = span = 1  # one group per bucket
        groups = min(groups, max(1, (1 << 62) // span))  # (bucket - first) * groups: no overflow
        picked: set[Point] = set()
        for lowest in (True, False):
            if dialect == "postgresql":
                params: tuple[int, ...] = (first, groups, span, series_id, level)
            else:
                params = (series_id, level, first, groups, span)
            cursor.execute(_extremes_query(dialect, lowest), params)
            picked.update((int(s), int(t), float(v)) for s, t, v in cursor.fetchall())
    finally:
        cursor.close()
    return sorted(picked)
