"""Retention of the prediction history: the prediction log's segments, the monitor windows
computed from them and the labels given to their predictions, older than a period, deleted
in batches (short write transactions: servers keep logging and monitors keep running).

A segment's blob loses its reference with the segment; ``gc`` then frees it. Alerts stay:
they record what monitors did (a rollback, a retraining) and are small.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import Field
from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from dockyard.core.schemas import Model
from dockyard.store.db import Database
from dockyard.store.tables import (
    BlobRefRow,
    MonitorWindowRow,
    PredictionLabelBlockRow,
    PredictionLabelRow,
    PredictionSegmentRow,
    utcnow,
)

__all__ = ["PruneReport", "PruneRequest", "prune"]

MIN_KEEP_SECONDS = 3600
MAX_KEEP_SECONDS = 10 * 365 * 86_400  # ten years: now minus it stays a date
_BATCH = 5000


class PruneRequest(Model):
    older_than_seconds: int = Field(
        ge=MIN_KEEP_SECONDS,
        le=MAX_KEEP_SECONDS,
        description="keep this much of the prediction history (an hour to ten years); older "
        "segments of the prediction log, monitor windows and labels are deleted",
    )
    dry_run: bool = False


class PruneReport(Model):
    dry_run: bool
    before: dt.datetime = Field(
        description="what started before this (the start of an hour) was deleted"
    )
    segments: int = Field(description="segments of the prediction log deleted")
    predictions: int = Field(description="predictions those segments held")
    windows: int = Field(description="monitor windows that ended by then, deleted")
    labels: int = Field(description="labels of predictions made before then, deleted")


def _hour(at: dt.datetime) -> dt.datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def prune(db: Database, body: PruneRequest) -> PruneReport:
    """Delete the prediction history that started before the hour ``older_than_seconds``
    ago (whole hours: a segment, a label block and a window are kept or deleted whole)."""
    before = _hour(utcnow() - dt.timedelta(seconds=body.older_than_seconds))
    old_segment = PredictionSegmentRow.hour < before
    old_window = MonitorWindowRow.end <= before
    old_label = PredictionLabelRow.predicted_at < before
    if body.dry_run:

        def count(session: Session) -> PruneReport:
            def n(what: Any, where: ColumnElement[bool]) -> int:
                return int(session.scalar(select(what).where(where)) or 0)

            return PruneReport(
                dry_run=True,
                before=before,
                segments=n(func.count(PredictionSegmentRow.id), old_segment),
                predictions=n(func.sum(PredictionSegmentRow.rows), old_segment),
                windows=n(func.count(MonitorWindowRow.id), old_window),
                labels=n(func.count(), old_label),
            )

        return db.query(count)

    predictions = 0

    def drop_segments(session: Session, rows: Sequence[Any]) -> None:
        nonlocal predictions
        ids = [r.id for r in rows]
        predictions += sum(r.rows for r in rows)
        session.execute(delete(PredictionSegmentRow).where(PredictionSegmentRow.id.in_(ids)))
        session.execute(
            delete(BlobRefRow).where(
                BlobRefRow.owner_type == "prediction_segment", BlobRefRow.owner_id.in_(ids)
            )
        )

    segments = _in_batches(
        db,
        select(PredictionSegmentRow.id, PredictionSegmentRow.rows).where(old_segment),
        drop_segments,
    )
    windows = _in_batches(
        db,
        select(MonitorWindowRow.id).where(old_window),
        lambda s, rows: s.execute(
            delete(MonitorWindowRow).where(MonitorWindowRow.id.in_([r.id for r in rows]))
        ),
    )
    labels = _in_batches(
        db,
        select(PredictionLabelRow.model_id, PredictionLabelRow.prediction_id).where(old_label),
        lambda s, rows: s.execute(
            delete(PredictionLabelRow).where(
                tuple_(PredictionLabelRow.model_id, PredictionLabelRow.prediction_id).in_(
                    [tuple(r) for r in rows]
                )
            )
        ),
    )
    # a block holds one hour's labels: those before ``before`` are all gone now
    db.write(
        lambda s: s.execute(
            delete(PredictionLabelBlockRow).where(PredictionLabelBlockRow.hour < before)
        )
    )
    return PruneReport(
        dry_run=False,
        before=before,
        segments=segments,
        predictions=predictions,
        windows=windows,
        labels=labels,
    )


def _in_batches(db: Database, pick: Any, drop: Callable[[Session, Sequence[Any]], object]) -> int:
    """Delete what ``pick`` (a select of the rows' keys) finds, ``_BATCH`` rows per write
    transaction; returns how many."""
    total = 0
    while True:

        def step(session: Session) -> int:
            rows = session.execute(pick.limit(_BATCH)).all()
            if rows:
                drop(session, rows)
            return len(rows)

        done = db.write(step)
        total += done
        if done < _BATCH:
            return total
