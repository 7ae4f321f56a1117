"""Metric points: logged in bulk (idempotent batches), read back whole or downsampled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.core.errors import NotFound
from dockyard.core.operations import operation
from dockyard.core.principal import Principal
from dockyard.store.db import Database
from dockyard.store.tables import MetricBatchRow, MetricSeriesRow, metric_points
from dockyard.tracking.runs import find_run
from dockyard.tracking.schemas import (
    HistoryQuery,
    MetricBatch,
    MetricHistory,
    MetricSeries,
    MetricsLogged,
)


def _summarize(series: MetricSeries) -> tuple[int, int, float, float, float]:
    """(last step, its timestamp, its value, min, max) of a batch of points."""
    last = max(range(len(series.steps)), key=lambda i: (series.steps[i], series.timestamps[i]))
    return (
        series.steps[last],
        series.timestamps[last],
        series.values[last],
        min(series.values),
        max(series.values),
    )


def _copy_points(session: Session, rows: list[tuple[int, int, int, float]]) -> None:
    """Bulk-load points: COPY on PostgreSQL, executemany elsewhere."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        raw: Any = connection.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy("COPY metric_points (series_id, step, ts, value) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    else:  # plain executemany of tuples: SQLAlchemy's per-row bind processing costs 5x more
        connection.exec_driver_sql(
            "INSERT INTO metric_points (series_id, step, ts, value) VALUES (?, ?, ?, ?)", rows
        )


class MetricService:
    """Time series of (step, timestamp, value) per run and key."""

    service_name = "metrics"

    def __init__(self, db: Database) -> None:
        self.db = db

    def _store(self, session: Session, run_id: str, body: MetricBatch) -> MetricsLogged:
        run = find_run(session, run_id)
        if body.batch_id is not None:
            try:
                with session.begin_nested():
                    session.add(MetricBatchRow(run_id=run.id, batch_id=body.batch_id, points=0))
            except IntegrityError:
                return MetricsLogged(points=0, duplicate=True)
        series = {key: s for key, s in body.series.items() if s.values}
        existing = {
            row.key: row
            for row in session.scalars(
                select(MetricSeriesRow).where(
                    MetricSeriesRow.run_id == run.id, MetricSeriesRow.key.in_(list(series))
                )
            )
        }
        rows: list[tuple[int, int, int, float]] = []
        for key, points in series.items():
            step, ts, value, low, high = _summarize(points)
            row = existing.get(key)
            if row is None:
                row = MetricSeriesRow(
                    run_id=run.id,
                    key=key,
                    count=0,
                    last_step=step,
                    last_ts=ts,
                    last_value=value,
                    min_value=low,
                    max_value=high,
                )
                session.add(row)
                session.flush()
            elif (step, ts) >= (row.last_step, row.last_ts):
                row.last_step, row.last_ts, row.last_value = step, ts, value
            row.count += len(points.values)
            row.min_value = min(row.min_value, low)
            row.max_value = max(row.max_value, high)
            sid = row.id
            rows.extend(
                zip(
                    [sid] * len(points.steps),
                    points.steps,
                    points.timestamps,
                    points.values,
                    strict=True,
                )
            )
        if rows:
            _copy_points(session, rows)
        return MetricsLogged(points=len(rows))

    @operation("POST", "/runs/{run_id}/metrics")
    def log(self, principal: Principal, run_id: str, body: MetricBatch) -> MetricsLogged:
        """Store a batch of metric points (a batch resent with its ``batch_id`` is skipped)."""
        return self.db.write(lambda s: self._store(s, run_id, body))

    @operation("GET", "/runs/{run_id}/metric-history")
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
            else:
                rows = _minmax_buckets(session, series, query.max_points)
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
    width = max(1, (series.last_step - first) // max(1, max_points // 2) + 1)
    bucket = (points.step - first) // width
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
