"""Metric points: logged in bulk (idempotent batches), read back whole or downsampled."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from dockyard.core.errors import InvalidInput, NotFound
from dockyard.core.operations import Target, operation
from dockyard.core.principal import Principal
from dockyard.store.db import Database
from dockyard.store.tables import MetricSeriesRow, metric_points
from dockyard.tracking import rollups
from dockyard.tracking.runs import find_run
from dockyard.tracking.schemas import (
    HistoryQuery,
    MetricBatch,
    MetricHistory,
    MetricSeries,
    MetricsLogged,
)

# Steps and timestamps are stored as 64-bit integers (BIGINT).
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def check_ranges(series: dict[str, MetricSeries]) -> None:
    """Refuse steps and timestamps outside the 64-bit range the database stores, naming the
    metric and the value (min/max run in C: ~0.1 ms per 20k points)."""
    for key, points in series.items():
        for name, numbers in (("step", points.steps), ("timestamp", points.timestamps)):
            low, high = min(numbers), max(numbers)
            if low < INT64_MIN or high > INT64_MAX:
                bad = low if low < INT64_MIN else high
                raise InvalidInput(
                    f"metric {key!r}: {name} {bad} is outside the 64-bit integer range "
                    "[-2**63, 2**63)"
                )


def _summarize(series: MetricSeries) -> tuple[int, int, float, float, float]:
    """(last step, its timestamp, its value, min, max) of a batch of points: the last point
    is the one with the highest (step, timestamp), the first of equals."""
    steps, stamps, values = series.steps, series.timestamps, series.values
    top = max(steps)
    first = steps.index(top)
    if steps.count(top) == len(steps) - first:  # the usual case: the top step is at the end
        candidates: Sequence[int] = range(first, len(steps))
    else:
        candidates = [i for i in range(first, len(steps)) if steps[i] == top]
    last = max(candidates, key=stamps.__getitem__)
    return top, stamps[last], values[last], min(values), max(values)


# RETURNING came with SQLite 3.35 (2021); older builds look the ids up after the upsert.
_SQLITE_RETURNING = sqlite3.sqlite_version_info >= (3, 35)


@functools.cache
def _series_upsert(dialect: str, rows: int, returning: bool) -> str:
    """One statement that inserts or merges ``rows`` series summaries (and returns their ids).

    A merge adds the counts, keeps the lower minimum and the higher maximum, and takes the
    incoming last point when its (step, timestamp) is at least the stored one's.
    """
    mark = "%s" if dialect == "postgresql" else "?"
    values = ", ".join([f"({', '.join([mark] * 8)})"] * rows)
    old, new = "metric_series", "excluded"
    newer = (
        f"({new}.last_step > {old}.last_step OR ({new}.last_step = {old}.last_step "
        f"AND {new}.last_ts >= {old}.last_ts))"
    )
    last = ", ".join(
        f"{col} = CASE WHEN {newer} THEN {new}.{col} ELSE {old}.{col} END"
        for col in ("last_step", "last_ts", "last_value")
    )
    return (
        'INSERT INTO metric_series (run_id, "key", "count", last_step, last_ts, last_value, '
        f"min_value, max_value) VALUES {values} "
        'ON CONFLICT (run_id, "key") DO UPDATE SET '
        f'"count" = {old}."count" + {new}."count", '
        f"min_value = CASE WHEN {new}.min_value < {old}.min_value "
        f"THEN {new}.min_value ELSE {old}.min_value END, "
        f"max_value = CASE WHEN {new}.max_value > {old}.max_value "
        f"THEN {new}.max_value ELSE {old}.max_value END, "
        f"{last}" + (' RETURNING id, "key"' if returning else "")
    )


# Keys per upsert statement: 8 parameters each stays under the 999 variables of old SQLites.
_SERIES_PER_STATEMENT = 120


def _upsert_series(
    connection: Connection, run_id: str, series: dict[str, MetricSeries]
) -> dict[str, int]:
    """Insert or merge the summary of each series of a batch; return their ids by key."""
    dialect = connection.dialect.name
    returning = dialect != "sqlite" or _SQLITE_RETURNING
    keys = sorted(series)  # one lock order for concurrent batches of a run (PostgreSQL)
    ids: dict[str, int] = {}
    for lo in range(0, len(keys), _SERIES_PER_STATEMENT):
        chunk = keys[lo : lo + _SERIES_PER_STATEMENT]
        params: list[object] = []
        for key in chunk:
            points = series[key]
            step, ts, value, low, high = _summarize(points)
            params += (run_id, key, len(points.values), step, ts, value, low, high)
        result = connection.exec_driver_sql(
            _series_upsert(dialect, len(chunk), returning), tuple(params)
        )
        if not returning:
            marks = ", ".join(["?"] * len(chunk))
            result = connection.exec_driver_sql(
                f'SELECT id, "key" FROM metric_series WHERE run_id = ? AND "key" IN ({marks})',
                (run_id, *chunk),
            )
        ids.update((key, sid) for sid, key in result)
    return ids


def _claim_batch(connection: Connection, run_id: str, batch_id: str, points: int) -> bool:
    """Record a batch as stored; False if it already was (a resend to skip)."""
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    result = connection.exec_driver_sql(
        f"INSERT INTO metric_batches (run_id, batch_id, points) VALUES ({mark}, {mark}, {mark}) "
        "ON CONFLICT (run_id, batch_id) DO NOTHING",
        (run_id, batch_id, points),
    )
    return bool(result.rowcount)


# Points per INSERT on SQLite: 4 parameters each stays under the 999 variables of old builds.
_POINTS_PER_INSERT = 200


@functools.cache
def _points_insert(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return f"INSERT INTO metric_points (series_id, step, ts, value) VALUES {values}"


def _insert_points(
    connection: Connection, ids: dict[str, int], series: dict[str, MetricSeries]
) -> int:
    """Bulk-load the points of a batch: binary COPY on PostgreSQL, multi-row INSERTs on SQLite.

    Returns how many points were stored.
    """
    if connection.dialect.name == "postgresql":
        # Binary COPY with declared types: a third of the client CPU of text COPY (psycopg
        # then packs each row in C instead of formatting text) and cheaper for the server.
        raw: Any = connection.connection.driver_connection
        stored = 0
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "COPY metric_points (series_id, step, ts, value) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["int8", "int8", "int8", "float8"])
            for key, points in series.items():
                sid = ids[key]
                for row in zip(
                    [sid] * len(points.steps),
                    points.steps,
                    points.timestamps,
                    points.values,
                    strict=True,
                ):
                    copy.write_row(row)
                stored += len(points.steps)
        return stored
    # SQLite: the parameters of all rows in one flat list, filled column by column (C speed),
    # then INSERTs of 200 rows each: about half the time of an executemany of single rows.
    total = sum(len(points.steps) for points in series.values())
    flat: list[object] = [None] * (4 * total)
    at = 0
    for key, points in series.items():
        n = len(points.steps)
        end = 4 * (at + n)
        flat[4 * at : end : 4] = [ids[key]] * n
        flat[4 * at + 1 : end : 4] = points.steps
        flat[4 * at + 2 : end : 4] = points.timestamps
        flat[4 * at + 3 : end : 4] = points.values
        at += n
    width = 4 * _POINTS_PER_INSERT
    whole = len(flat) - len(flat) % width
    if whole:
        connection.exec_driver_sql(
            _points_insert(_POINTS_PER_INSERT),
            [tuple(flat[i : i + width]) for i in range(0, whole, width)],
        )
    if whole < len(flat):
        connection.exec_driver_sql(_points_insert((len(flat) - whole) // 4), tuple(flat[whole:]))
    return total


class MetricService:
    """Time series of (step, timestamp, value) per run and key."""

    service_name = "metrics"

    def __init__(self, db: Database) -> None:
        self.db = db

    def _store(self, session: Session, run_id: str, body: MetricBatch) -> MetricsLogged:
        run = find_run(session, run_id)
        connection = session.connection()
        series = {key: s for key, s in body.series.items() if s.values}
        check_ranges(series)
        total = sum(len(s.values) for s in series.values())
        if body.batch_id is not None and not _claim_batch(connection, run.id, body.batch_id, total):
            return MetricsLogged(points=0, duplicate=True)
        if not series:
            return MetricsLogged(points=0)
        ids = _upsert_series(connection, run.id, series)
        rollup_rows: list[tuple[object, ...]] = []
        for key in sorted(series):
            rollup_rows += rollups.batch_rollups(ids[key], series[key])
        rollups.upsert_rollups(connection, rollup_rows)
        return MetricsLogged(points=_insert_points(connection, ids, series))

    @operation("POST", "/runs/{run_id}/metrics", on=Target("run", "run_id"), audit=False)
    def log(self, principal: Principal, run_id: str, body: MetricBatch) -> MetricsLogged:
        """Store a batch of metric points (a batch resent with its ``batch_id`` is skipped)."""
        return self.db.write(lambda s: self._store(s, run_id, body))

    @operation("GET", "/runs/{run_id}/metric-history", on=Target("run", "run_id"))
    def history(self, principal: Principal, run_id: str, query: HistoryQuery) -> MetricHistory:
        """A metric's points by step; with ``max_points``, downsampled keeping each bucket's
        minimum and maximum so that spikes survive."""

        def fetch(session: Session) -> MetricHistory:
            run = find_run(session, run_id, include_deleted=True)
            series = session.scalar(
                select(MetricSeriesRow).where(
                    MetricSeriesRow.run_id == run.id, MetricSeriesRow.key == query.key
                )
            )
            if series is None:
                raise NotFound(f"run {run_id} has no metric {query.key!r}")
            points = metric_points.c
            if query.max_points is None or series.count <= query.max_points:
                rows: list[tuple[int, int, float]] = [
                    (step, ts, value)
                    for step, ts, value in session.execute(
                        select(points.step, points.ts, points.value)
                        .where(points.series_id == series.id)
                        .order_by(points.step, points.ts)
                    )
                ]
                downsampled = False
            elif series.count <= rollups.RAW_FACTOR * query.max_points:
                rows = _minmax_buckets(session, series, query.max_points)
                downsampled = True
            else:
                rows = _from_rollups(session, series, query.max_points)
                downsampled = True
            return MetricHistory(
                run_id=run.id,
                key=query.key,
                total_points=series.count,
                downsampled=downsampled,
                steps=[r[0] for r in rows],
                timestamps=[r[1] for r in rows],
                values=[r[2] for r in rows],
            )

        return self.db.query(fetch)


def _minmax_buckets(
    session: Session, series: MetricSeriesRow, max_points: int
) -> list[tuple[int, int, float]]:
    """Split the step range into max_points/2 buckets and keep each bucket's lowest and
    highest point where they occur, so the curve keeps its shape and its spikes.

    Runs in SQL: SQLite takes the row of a bare ``min()``/``max()`` aggregate, PostgreSQL
    uses ``DISTINCT ON``.
    """
    points = metric_points.c
    first = session.scalar(select(func.min(points.step)).where(points.series_id == series.id))
    assert first is not None
    span = series.last_step - first
    width = max(1, span // max(1, max_points // 2) + 1)
    if span <= INT64_MAX:
        bucket = (points.step - first) // width
    else:  # steps across most of the 64-bit range: step - first would overflow in SQL
        width = min(max(width, 2), INT64_MAX)
        bucket = points.step // width - first // width
    picked: set[tuple[int, int, float]] = set()
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # The PostgreSQL dialect package costs ~0.1 s to import; load it only when used.
        from sqlalchemy.dialects.postgresql import distinct_on
    for lowest in (True, False):
        if postgres:
            stmt = (
                select(points.step, points.ts, points.value)
                .where(points.series_id == series.id)
                .ext(distinct_on(bucket))
                .order_by(bucket, points.value.asc() if lowest else points.value.desc())
            )
        else:
            extreme = func.min(points.value) if lowest else func.max(points.value)
            stmt = (
                select(points.step, points.ts, extreme)
                .where(points.series_id == series.id)
                .group_by(bucket)
            )
        picked.update((int(a), int(b), float(c)) for a, b, c in session.execute(stmt))
    return sorted(picked)


def _from_rollups(
    session: Session, series: MetricSeriesRow, max_points: int
) -> list[tuple[int, int, float]]:
    """Downsample a long series from its rollups, not its raw points (those only if it has
    no rollups: points written around dockyard)."""
    picked = rollups.downsample(
        session.connection(), series.id, series.count, series.last_step, max_points
    )
    return _minmax_buckets(session, series, max_points) if picked is None else picked
