"""Prediction labels packed per model version and hour, so that a view of many windows reads
a few hundred blocks instead of one database row per label (120k labels of a 30-day view:
~90 ms as rows from SQLite, a few ms as blocks).

``prediction_labels`` stays the record (who labelled what, when); a block is derived from it
and rebuilt in the same transaction that writes labels of its hour. That transaction writes
(and so locks, on PostgreSQL) the hour's block rows before it writes any label, so two
writers of labels of the same hours take turns: the later one replaces what the first wrote
(no duplicate key) and packs both writers' labels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.store.tables import PredictionLabelBlockRow, PredictionLabelRow, utcnow
from dockyard.store.upsert import upsert

__all__ = ["Labels", "hour_of", "lock", "micros", "read", "refresh"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_HOUR = dt.timedelta(hours=1)
_KEYS = ("model_id", "version", "hour")


def micros(at: dt.datetime) -> int:
    """``at`` (naive means UTC) in whole microseconds since the epoch, exactly."""
    aware = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return (aware - _EPOCH) // dt.timedelta(microseconds=1)


def hour_of(at: dt.datetime) -> dt.datetime:
    """The start of the UTC hour ``at`` falls in."""
    aware = at.astimezone(dt.UTC) if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return aware.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Labels:
    """Labelled predictions sorted by model version, then prediction time."""

    version: np.ndarray  # int64
    at: np.ndarray  # int64, microseconds since the epoch
    label: np.ndarray  # float64
    score: np.ndarray  # float64, NaN where the log had no numeric output

    def span(self, version: int, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
        """The rows [first, last) of ``version``'s predictions made in [start, end)."""
        low, high = np.searchsorted(self.version, [version, version + 1])
        first, last = np.searchsorted(self.at[low:high], [micros(start), micros(end)])
        return int(low + first), int(low + last)

    def of(self, version: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels and scores of all of ``version``'s predictions here."""
        low, high = np.searchsorted(self.version, [version, version + 1])
        return self.label[low:high], self.score[low:high]


def read(
    session: Session,
    model_id: str,
    since: dt.datetime,
    until: dt.datetime,
    version: int | None = None,
) -> Labels:
    """The labels of the model's predictions made in [since, until), of one ``version`` or
    all; a block whose arrays do not match its count is read from the label rows instead."""
    stmt = select(
        PredictionLabelBlockRow.version,
        PredictionLabelBlockRow.hour,
        PredictionLabelBlockRow.count,
        PredictionLabelBlockRow.at,
        PredictionLabelBlockRow.label,
        PredictionLabelBlockRow.score,
    ).where(
        PredictionLabelBlockRow.model_id == model_id,
        PredictionLabelBlockRow.hour >= hour_of(since),
        PredictionLabelBlockRow.hour < until,
    )
    if version is not None:
        stmt = stmt.where(PredictionLabelBlockRow.version == version)
    versions, times, labels, scores = [], [], [], []
    for v, hour, count, at, label, score in session.execute(stmt):
        if not len(at) == len(label) == len(score) == 8 * count:
            # a block that does not hold what it says: read its hour's labels row by row
            block = _collect(session, model_id, [(v, hour)])[(v, hour_of(hour))]
            count, at, label, score = (block[k] for k in ("count", "at", "label", "score"))
        versions.append(np.full(count, v, dtype=np.int64))
        times.append(np.frombuffer(at, dtype="<i8"))
        labels.append(np.frombuffer(label, dtype="<f8"))
        scores.append(np.frombuffer(score, dtype="<f8"))
    if not versions:
        empty = np.empty(0)
        return Labels(empty.astype(np.int64), empty.astype(np.int64), empty, empty)
    all_versions = np.concatenate(versions)
    all_times = np.concatenate(times)
    keep = (all_times >= micros(since)) & (all_times < micros(until))
    order = np.lexsort((all_times[keep], all_versions[keep]))
    return Labels(
        all_versions[keep][order],
        all_times[keep][order],
        np.concatenate(labels)[keep][order],
        np.concatenate(scores)[keep][order],
    )


def lock(session: Session, model_id: str, hours: Iterable[tuple[int, dt.datetime]]) -> None:
    """Write the blocks of (version, hour) as empty (``refresh`` fills them): on PostgreSQL
    this locks them until commit, so a concurrent writer of labels of the same hours (and so
    of the same predictions) waits for this one, then sees its labels. Locked in sorted
    order, so two writers cannot deadlock."""
    now = utcnow()
    upsert(
        session,
        PredictionLabelBlockRow,
        [
            {
                "model_id": model_id,
                "version": v,
                "hour": h,
                "count": 0,
                "at": b"",
                "label": b"",
                "score": b"",
                "updated_at": now,
            }
            for v, h in sorted({(v, hour_of(h)) for v, h in hours})
        ],
        _KEYS,
    )


def refresh(session: Session, model_id: str, hours: Iterable[tuple[int, dt.datetime]]) -> None:
    """Rebuild the blocks of (version, hour) from the model's stored labels (``lock`` them
    first, before writing the labels)."""
    now = utcnow()
    packed = [
        {"model_id": model_id, "version": v, "hour": h, **block, "updated_at": now}
        for (v, h), block in _collect(session, model_id, hours).items()
    ]
    upsert(session, PredictionLabelBlockRow, packed, _KEYS)


def _collect(
    session: Session, model_id: str, hours: Iterable[tuple[int, dt.datetime]]
) -> dict[tuple[int, dt.datetime], dict[str, Any]]:
    """The packed block (count, at, label, score) of each (version, hour), from the model's
    stored labels, read in a few range queries."""
    wanted = sorted({(v, hour_of(h)) for v, h in hours})
    found: dict[tuple[int, dt.datetime], list[tuple[int, float, float]]] = {k: [] for k in wanted}
    for start, end, versions in _runs(wanted):
        rows = session.execute(
            select(
                PredictionLabelRow.version,
                PredictionLabelRow.predicted_at,
                PredictionLabelRow.label,
                PredictionLabelRow.score,
            ).where(
                PredictionLabelRow.model_id == model_id,
                PredictionLabelRow.predicted_at >= start,
                PredictionLabelRow.predicted_at < end,
                PredictionLabelRow.version.in_(versions),
            )
        )
        for v, at, label, score in rows:
            bucket = found.get((v, hour_of(at)))
            if bucket is not None:
                bucket.append((micros(at), label, np.nan if score is None else score))
    blocks = {}
    for key, items in found.items():
        items.sort()
        blocks[key] = {
            "count": len(items),
            "at": np.array([i[0] for i in items], dtype="<i8").tobytes(),
            "label": np.array([i[1] for i in items], dtype="<f8").tobytes(),
            "score": np.array([i[2] for i in items], dtype="<f8").tobytes(),
        }
    return blocks


def _runs(
    wanted: list[tuple[int, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime, list[int]]]:
    """Consecutive hours of ``wanted`` as [start, end) ranges with the versions they hold,
    so that labels are read back in a few range queries."""
    by_hour: dict[dt.datetime, set[int]] = {}
    for v, h in wanted:
        by_hour.setdefault(h, set()).add(v)
    runs: list[tuple[dt.datetime, dt.datetime, list[int]]] = []
    for h in sorted(by_hour):
        if runs and runs[-1][1] == h:
            start, _, versions = runs[-1]
            runs[-1] = (start, h + _HOUR, sorted(set(versions) | by_hour[h]))
        else:
            runs.append((h, h + _HOUR, sorted(by_hour[h])))
    return runs
