"""Storing labels that arrive late: which logged predictions they name, and writing them with
the hourly blocks that views read (``label_blocks``) in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from dockyard.monitoring import label_blocks
from dockyard.monitoring.schemas import LabelResult
from dockyard.monitoring.traffic import window_traffic
from dockyard.serving.logformat import id_time
from dockyard.store.tables import PredictionLabelRow, utcnow

__all__ = ["Known", "known", "store"]

Known = dict[str, tuple[int, float | None, dt.datetime]]
"""Per prediction id: the model version that made it, its score (None: not numeric), when."""

_CHUNK = 1000


def known(log: Callable[[dt.datetime, dt.datetime], pa.Table | None], ids: list[str]) -> Known:
    """Version, score and time of each of ``ids`` found in the prediction log (``log(start,
    end)`` reads it); ids not found are left out. Each id says its hour, so only the hours
    named are read."""
    hours: dict[dt.datetime, list[str]] = {}
    for pid in ids:
        at = id_time(pid)
        hours.setdefault(at.replace(minute=0, second=0, microsecond=0), []).append(pid)
    found: Known = {}
    for hour, wanted in hours.items():
        end = hour + dt.timedelta(hours=1)
        table = log(hour, end)
        if table is None:
            continue
        rows = table.filter(pc.is_in(table["prediction_id"], pa.array(wanted)))
        traffic = window_traffic(rows, hour, end).table
        for pid, version, at, score in zip(
            traffic["prediction_id"].to_pylist(),
            traffic["version"].to_pylist(),
            traffic["at"].to_pylist(),
            traffic["prediction"].to_pylist(),
            strict=True,
        ):
            found[pid] = (version, score, at)
    return found


def store(
    session: Session, by: str, model_id: str, labels: dict[str, float], found: Known
) -> LabelResult:
    """Write ``labels`` (every id in ``found``); a label given again replaces the old one."""
    ids = sorted(labels)
    hours = {(found[pid][0], found[pid][2]) for pid in ids}
    label_blocks.lock(session, model_id, hours)
    now = utcnow()
    replaced = 0
    for chunk in range(0, len(ids), _CHUNK):
        part = ids[chunk : chunk + _CHUNK]
        result = session.execute(
            delete(PredictionLabelRow).where(
                PredictionLabelRow.model_id == model_id,
                PredictionLabelRow.prediction_id.in_(part),
            )
        )
        replaced += result.rowcount or 0  # type: ignore[attr-defined]
    if ids:
        session.execute(
            insert(PredictionLabelRow),
            [
                {
                    "model_id": model_id,
                    "prediction_id": pid,
                    "label": labels[pid],
                    "version": found[pid][0],
                    "score": found[pid][1],
                    "predicted_at": found[pid][2],
                    "labelled_at": now,
                    "labelled_by": by,
                }
                for pid in ids
            ],
        )
    label_blocks.refresh(session, model_id, hours)
    return LabelResult(stored=len(ids) - replaced, replaced=replaced)
