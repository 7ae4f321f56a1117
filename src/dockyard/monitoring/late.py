"""Traffic that reached the prediction log after its windows were computed (a server that
flushed late, or was cut off and caught up): which windows to compute again.

A monitor remembers the newest segment of the log it has taken in (by when the segment was
recorded). A segment recorded later for hours the monitor had already passed makes the
windows overlapping those hours due again; the monitor computes them again and replaces what
it stored (alerts stay unique per window and rule).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dockyard.store.tables import PredictionSegmentRow

__all__ = ["late_starts"]

_HOUR = dt.timedelta(hours=1)


def floor_to(at: dt.datetime, seconds: int) -> dt.datetime:
    """The start of the window of ``seconds`` (aligned to the epoch, UTC) ``at`` falls in."""
    epoch = int(at.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC)


def late_starts(
    session: Session,
    model_id: str,
    seen: dt.datetime | None,
    computed_until: dt.datetime | None,
    seconds: int,
    limit: int,
) -> tuple[list[dt.datetime], dt.datetime | None]:
    """Starts of the windows (of ``seconds``) before ``computed_until`` that segments of the
    model's log recorded after ``seen`` fall in, oldest first and at most ``limit``; and what
    the monitor has seen once those are computed again."""
    newest = session.scalar(
        select(func.max(PredictionSegmentRow.created_at)).where(
            PredictionSegmentRow.model_id == model_id
        )
    )
    if seen is None or computed_until is None or newest is None:
        return [], newest  # nothing computed yet: the first windows read every segment
    rows = session.execute(
        select(PredictionSegmentRow.hour, PredictionSegmentRow.created_at)
        .where(
            PredictionSegmentRow.model_id == model_id,
            PredictionSegmentRow.created_at > seen,
            PredictionSegmentRow.hour < computed_until,
        )
        .order_by(PredictionSegmentRow.created_at)
    ).all()
    starts: set[dt.datetime] = set()
    watermark = seen
    for hour, created in rows:
        stop = min(hour + _HOUR, computed_until)
        start = floor_to(hour, seconds)
        these = set()
        while start < stop:
            these.add(start)
            start += dt.timedelta(seconds=seconds)
        if len(starts | these) > limit:
            return sorted(starts), watermark  # the rest in the next run
        starts |= these
        watermark = created
    return sorted(starts), newest
