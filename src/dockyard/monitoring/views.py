"""What monitors computed, read back: windows with the performance the labels known now give,
a period's report per model version, and the newest window of every monitor (Prometheus).

Views read only the columns they show (a window's summary only when merging a period), the
labels as packed hourly blocks (``label_blocks``), and parse stored JSON with pydantic's
JSON parser, so a 30-day view at hourly windows stays within a couple of hundred ms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dockyard.monitoring import label_blocks
from dockyard.monitoring.binning import Binning
from dockyard.monitoring.label_blocks import Labels
from dockyard.monitoring.performance import classification_groups, regression_groups
from dockyard.monitoring.period import version_report
from dockyard.monitoring.profile import Summary
from dockyard.monitoring.schemas import (
    ColumnResult,
    MonitorConfig,
    Performance,
    QualityProblem,
    VersionReport,
    WindowResult,
)
from dockyard.store.tables import (
    MonitorAlertRow,
    MonitorReferenceRow,
    MonitorRow,
    MonitorWindowRow,
    PredictionLabelBlockRow,
    RegisteredModelRow,
)

__all__ = ["latest", "report", "window_result", "windows"]

_DRIFT = TypeAdapter(list[ColumnResult])
_HOUR = dt.timedelta(hours=1)
_QUALITY = TypeAdapter(list[QualityProblem])
_SHOWN = (
    MonitorWindowRow.id,
    MonitorWindowRow.version,
    MonitorWindowRow.start,
    MonitorWindowRow.end,
    MonitorWindowRow.rows,
    MonitorWindowRow.drift,
    MonitorWindowRow.quality,
    MonitorWindowRow.performance,
    MonitorWindowRow.computed_at,
)


def window_result(
    row: Any, monitor: str, model: str, performance: Performance | None
) -> WindowResult:
    """A stored window (a row with the columns of ``_SHOWN``); ``performance``: with realised
    metrics from labels (default: as stored, estimates only)."""
    drift = _DRIFT.validate_json(row.drift)
    return WindowResult(
        id=row.id,
        monitor=monitor,
        model=model,
        version=row.version,
        start=row.start,
        end=row.end,
        rows=row.rows,
        drift=drift,
        drifted=[d.column for d in drift if d.drifted],
        quality=_QUALITY.validate_json(row.quality),
        performance=performance or Performance.model_validate_json(row.performance),
        computed_at=row.computed_at,
    )


def windows(
    session: Session,
    monitor: MonitorRow,
    model: RegisteredModelRow,
    since: dt.datetime,
    until: dt.datetime,
    version: int | None,
    limit: int,
    newest: bool = False,
) -> list[WindowResult]:
    """The monitor's windows that start in [since, until], oldest first (the oldest
    ``limit`` of them, or the ``newest``), each with realised performance from the labels of
    its predictions known now."""
    stmt = select(*_SHOWN).where(
        MonitorWindowRow.monitor_id == monitor.id,
        MonitorWindowRow.start >= since,
        MonitorWindowRow.start <= until,
    )
    if version is not None:
        stmt = stmt.where(MonitorWindowRow.version == version)
    if newest:
        stmt = stmt.order_by(MonitorWindowRow.start.desc(), MonitorWindowRow.version.desc())
        found = session.execute(stmt.limit(limit)).all()[::-1]
    else:
        stmt = stmt.order_by(MonitorWindowRow.start, MonitorWindowRow.version)
        found = session.execute(stmt.limit(limit)).all()
    if not found:
        return []
    labels = label_blocks.read(
        session, model.id, found[0].start, max(w.end for w in found), version
    )
    config = MonitorConfig.model_validate_json(monitor.config)
    return [
        window_result(w, monitor.name, model.name, performance)
        for w, performance in zip(found, _performances(config, found, labels), strict=True)
    ]


def relabelled(
    session: Session,
    monitor: MonitorRow,
    model_id: str,
    model: str,
    labelled_since: dt.datetime,
    starts: Sequence[dt.datetime],
    horizon: dt.datetime,
) -> list[WindowResult]:
    """The windows a monitor run checks realised performance on: those starting at one of
    ``starts`` (just computed) and those holding predictions labelled since
    ``labelled_since`` (their hour's label block changed), starting after ``horizon``; with
    realised performance from the labels known now."""
    hours = set(
        session.scalars(
            select(PredictionLabelBlockRow.hour).where(
                PredictionLabelBlockRow.model_id == model_id,
                PredictionLabelBlockRow.updated_at > labelled_since,
                PredictionLabelBlockRow.hour >= label_blocks.hour_of(horizon),
            )
        )
    )
    wanted = set(starts)
    if not hours and not wanted:
        return []
    first = min([*hours, *wanted]) - dt.timedelta(seconds=monitor.window_seconds)
    last = max([*hours, *wanted]) + _HOUR
    rows = session.execute(
        select(*_SHOWN)
        .where(
            MonitorWindowRow.monitor_id == monitor.id,
            MonitorWindowRow.start >= max(first, horizon),
            MonitorWindowRow.start < last,
        )
        .order_by(MonitorWindowRow.start)
    ).all()
    found = [w for w in rows if w.start in wanted or _holds_any(w, hours)]
    if not found:
        return []
    labels = label_blocks.read(session, model_id, found[0].start, max(w.end for w in found))
    config = MonitorConfig.model_validate_json(monitor.config)
    return [
        window_result(w, monitor.name, model, performance)
        for w, performance in zip(found, _performances(config, found, labels), strict=True)
    ]


def _holds_any(window: Any, hours: set[dt.datetime]) -> bool:
    """Whether the window overlaps any of the hours (starts of UTC hours)."""
    hour = label_blocks.hour_of(window.start)
    while hour < window.end:
        if hour in hours:
            return True
        hour += _HOUR
    return False


def _performances(
    config: MonitorConfig, windows: Sequence[Any], labels: Labels
) -> list[Performance]:
    """Each window's stored performance (estimates) with realised metrics from ``labels``
    of its predictions, computed for all the windows at once."""
    found = [Performance.model_validate_json(w.performance) for w in windows]
    spans = [labels.span(w.version, w.start, w.end) for w in windows]
    for performance, window, (first, last) in zip(found, windows, spans, strict=True):
        performance.labelled = last - first
        performance.coverage = (last - first) / window.rows if window.rows else 0.0
    perf = config.performance
    labelled = [i for i, (first, last) in enumerate(spans) if last > first]
    if perf is None or not labelled:
        return found
    rows = np.concatenate([np.arange(*spans[i]) for i in labelled])
    groups = np.repeat(np.arange(len(labelled)), [spans[i][1] - spans[i][0] for i in labelled])
    truth, scores = labels.label[rows], labels.score[rows]
    results: Sequence[dict[str, float | None] | str] = (
        classification_groups(groups, len(labelled), truth, scores, perf.threshold)
        if perf.task == "classification"
        else regression_groups(groups, len(labelled), truth, scores)
    )
    for i, result in zip(labelled, results, strict=True):
        if isinstance(result, str):
            found[i].error = result[:500]
        else:
            found[i].realised = result
    return found


def latest(session: Session) -> list[tuple[str, str, WindowResult]]:
    """(model, monitor, window) of the newest window of every monitor and model version."""
    newest = (
        select(
            MonitorWindowRow.monitor_id,
            MonitorWindowRow.version,
            func.max(MonitorWindowRow.start).label("start"),
        )
        .group_by(MonitorWindowRow.monitor_id, MonitorWindowRow.version)
        .subquery()
    )
    rows: Sequence[Any] = session.execute(
        select(
            *_SHOWN,
            MonitorRow.name,
            MonitorRow.config,
            RegisteredModelRow.name,
            RegisteredModelRow.id,
        )
        .join(
            newest,
            (newest.c.monitor_id == MonitorWindowRow.monitor_id)
            & (newest.c.version == MonitorWindowRow.version)
            & (newest.c.start == MonitorWindowRow.start),
        )
        .join(MonitorRow, MonitorRow.id == MonitorWindowRow.monitor_id)
        .join(RegisteredModelRow, RegisteredModelRow.id == MonitorRow.model_id)
    ).all()
    found = []
    for row in rows:
        monitor, config, model, model_id = row[len(_SHOWN) :]
        labels = label_blocks.read(session, model_id, row.start, row.end, row.version)
        (performance,) = _performances(MonitorConfig.model_validate_json(config), [row], labels)
        found.append((model, monitor, window_result(row, monitor, model, performance)))
    return found


def alert_counts(session: Session) -> list[tuple[str, str, str, int]]:
    """(model, monitor, rule, alerts raised) for every rule that raised any."""
    rows = session.execute(
        select(RegisteredModelRow.name, MonitorRow.name, MonitorAlertRow.rule, func.count())
        .join(MonitorRow, MonitorRow.id == MonitorAlertRow.monitor_id)
        .join(RegisteredModelRow, RegisteredModelRow.id == MonitorRow.model_id)
        .group_by(RegisteredModelRow.name, MonitorRow.name, MonitorAlertRow.rule)
    ).all()
    return [(m, n, r, int(c)) for m, n, r, c in rows]


def report(
    session: Session,
    monitor: MonitorRow,
    model: RegisteredModelRow,
    since: dt.datetime,
    until: dt.datetime,
) -> tuple[list[VersionReport], int]:
    """Per model version, the period [since, until) from its windows' merged summaries and
    every label of the period; and the number of alerts raised since ``since``."""
    rows = session.execute(
        select(
            MonitorWindowRow.version,
            MonitorWindowRow.start,
            MonitorWindowRow.end,
            MonitorWindowRow.rows,
            MonitorWindowRow.summary,
            MonitorWindowRow.drift,
            MonitorWindowRow.quality,
            MonitorWindowRow.performance,
        )
        .where(
            MonitorWindowRow.monitor_id == monitor.id,
            MonitorWindowRow.start >= since,
            MonitorWindowRow.start < until,
        )
        .order_by(MonitorWindowRow.start)
    ).all()
    references = {
        r.version: r
        for r in session.scalars(
            select(MonitorReferenceRow).where(MonitorReferenceRow.monitor_id == monitor.id)
        )
    }
    labels = label_blocks.read(session, model.id, since, until)
    alerts = session.scalar(
        select(func.count())
        .select_from(MonitorAlertRow)
        .where(MonitorAlertRow.monitor_id == monitor.id, MonitorAlertRow.raised_at >= since)
    )
    config = MonitorConfig.model_validate_json(monitor.config)
    by_version: dict[int, list[Any]] = {}
    for w in rows:
        by_version.setdefault(w.version, []).append(w)
    versions = []
    for version in sorted(by_version):
        ref = references.get(version)
        if ref is None:
            continue
        versions.append(
            version_report(
                config,
                version,
                ref.source,
                Binning.model_validate_json(ref.binning),
                Summary.model_validate_json(ref.summary),
                by_version[version],
                labels.of(version),
            )
        )
    return versions, int(alerts or 0)
