"""Computing a monitor's windows from the prediction log: per window and model version, the
traffic compared with the version's reference (fixed and stored the first time), checked
against its rules, with estimated performance calibrated on the labels known before it; each
window stored once (or replaced, when traffic reached the log after it was computed)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.ids import new_id
from dockyard.data.service import DatasetService
from dockyard.monitoring import reference, views
from dockyard.monitoring.binning import Binning
from dockyard.monitoring.codec import to_bytes
from dockyard.monitoring.evaluate import Computed, evaluate_window, utc
from dockyard.monitoring.profile import Summary
from dockyard.monitoring.schemas import MonitorConfig, WindowResult
from dockyard.monitoring.traffic import window_traffic
from dockyard.serving.service import ServingService
from dockyard.store.db import Database
from dockyard.store.tables import (
    MonitorReferenceRow,
    MonitorRow,
    MonitorWindowRow,
    PredictionLabelRow,
    utcnow,
)

__all__ = ["CALIBRATION_ROWS", "WindowComputer", "read_log"]

CALIBRATION_ROWS = 100_000
"""Labelled predictions estimated performance is calibrated on, at most (the newest)."""
_NOT_INPUTS = ("prediction_id", "at", "version", "shadow")


def read_log(
    db: Database, serving: ServingService, model_id: str, start: dt.datetime, end: dt.datetime
) -> pa.Table | None:
    """The model's prediction log segments that hold [start, end) (whole hours), or None."""

    def fetch(session: Session) -> list[Any]:
        return serving._segments(session, model_id, start, end - dt.timedelta(microseconds=1))

    tables = [t for t in (serving._read(r.digest) for r in db.query(fetch)) if t is not None]
    return pa.concat_tables(tables) if tables else None


class WindowComputer:
    """One run of one monitor: computes its windows, reading what every window needs (the
    reference's rules, the calibration labels) once per model version."""

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        serving: ServingService,
        datasets: DatasetService,
        monitor: MonitorRow,
        model: str,
        model_id: str,
        horizon: dt.datetime,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.serving = serving
        self.datasets = datasets
        self.monitor = monitor
        self.model = model
        self.model_id = model_id
        self.config = MonitorConfig.model_validate_json(monitor.config)
        self.horizon = horizon  # the run's last window end
        self._rules: dict[int, tuple[Any, Any]] = {}
        self._calibration: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def compute(
        self, start: dt.datetime, end: dt.datetime, again: bool = False
    ) -> list[WindowResult]:
        """The windows [start, end) of each model version in the log; ``again``: computed
        before, without traffic that reached the log later (what was stored is replaced)."""
        log = read_log(self.db, self.serving, self.model_id, start, end)
        if log is None:
            return []
        table = window_traffic(log, start, end).table
        found = []
        versions = sorted(set(table["version"].to_pylist())) if table.num_rows else []
        for version in versions:
            rows = table.filter(pc.equal(table["version"], version))
            wanted = [c for c in rows.column_names if c not in _NOT_INPUTS]
            ref, binning, ref_summary = self._reference(version, wanted)
            if ref is not None:
                self._rules[version] = (ref.rules, ref.columns)
            elif version not in self._rules:
                located = self._locate(version, wanted)
                self._rules[version] = (located.rules, located.columns)
            rules, columns = self._rules[version]
            calibration = self._calibrated(version, start) if self.config.performance else None
            computed = evaluate_window(
                self.config, rows, binning, ref_summary, rules, columns, calibration, end
            )
            result = self._store(version, start, end, rows.num_rows, computed, again)
            if result is not None:
                found.append(result)
        return found

    def _columns(self, wanted: list[str]) -> list[str]:
        """The columns compared: the monitor's drift columns, else all the traffic's."""
        drift = self.config.drift
        return drift.columns if drift and drift.columns else wanted

    def _locate(self, version: int, wanted: list[str]) -> reference.Located:
        config, columns = self.config, self._columns(wanted)
        return self.db.query(
            lambda s: reference.locate(
                s, self.blobs, self.model, version, config.reference, columns
            )
        )

    def _reference(
        self, version: int, wanted: list[str]
    ) -> tuple[reference.Reference | None, Binning, Summary]:
        """The version's reference: as stored, or (the first time) loaded and stored."""
        stored = self.db.query(lambda s: s.get(MonitorReferenceRow, (self.monitor.id, version)))
        if stored is not None:
            return (
                None,
                Binning.model_validate_json(stored.binning),
                Summary.model_validate_json(stored.summary),
            )
        ref = reference.load(self._locate(version, wanted), self.datasets, self._columns(wanted))

        def store(session: Session) -> None:
            session.merge(
                MonitorReferenceRow(
                    monitor_id=self.monitor.id,
                    version=version,
                    source=ref.source,
                    rows=ref.rows,
                    binning=ref.binning.model_dump_json(),
                    summary=ref.summary.model_dump_json(),
                    created_at=utcnow(),
                )
            )

        self.db.write(store)
        return ref, ref.binning, ref.summary

    def _calibrated(
        self, version: int, before: dt.datetime
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Scores and labels of this version's labelled predictions made before ``before``
        (at most the newest ``CALIBRATION_ROWS``): what estimated performance is calibrated
        on. Read once per run and version (up to the run's horizon), then cut per window."""
        if version not in self._calibration:

            def fetch(session: Session) -> Any:
                stmt = (
                    select(
                        PredictionLabelRow.predicted_at,
                        PredictionLabelRow.label,
                        PredictionLabelRow.score,
                    )
                    .where(
                        PredictionLabelRow.model_id == self.model_id,
                        PredictionLabelRow.version == version,
                        PredictionLabelRow.predicted_at < self.horizon,
                        PredictionLabelRow.score.is_not(None),
                    )
                    .order_by(PredictionLabelRow.predicted_at.desc())
                    .limit(CALIBRATION_ROWS)
                )
                return session.execute(stmt).all()

            found = self.db.query(fetch)[::-1]  # oldest first
            self._calibration[version] = (
                np.array([utc(r[0]).timestamp() for r in found], dtype=float),
                np.array([r[1] for r in found], dtype=float),
                np.array([r[2] for r in found], dtype=float),
            )
        times, labels, scores = self._calibration[version]
        stop = int(np.searchsorted(times, before.timestamp(), side="left"))
        first = max(0, stop - CALIBRATION_ROWS)
        if stop - first < 2:
            return None
        return scores[first:stop], labels[first:stop]

    def _store(
        self,
        version: int,
        start: dt.datetime,
        end: dt.datetime,
        rows: int,
        computed: Computed,
        again: bool,
    ) -> WindowResult | None:
        monitor = self.monitor

        def insert(session: Session) -> WindowResult:
            if again:
                session.execute(
                    delete(MonitorWindowRow).where(
                        MonitorWindowRow.monitor_id == monitor.id,
                        MonitorWindowRow.version == version,
                        MonitorWindowRow.start == start,
                    )
                )
            window = MonitorWindowRow(
                id=new_id(),
                monitor_id=monitor.id,
                version=version,
                start=start,
                end=end,
                rows=rows,
                labelled=0,
                summary=to_bytes(computed.summary),
                drift=json.dumps([d.model_dump(mode="json") for d in computed.drift]),
                quality=json.dumps([q.model_dump(mode="json") for q in computed.quality]),
                performance=computed.performance.model_dump_json(),
                computed_at=utcnow(),
            )
            session.add(window)
            session.flush()
            return views.window_result(window, monitor.name, self.model, None)

        try:
            return self.db.write(insert)
        except IntegrityError:
            return None  # another runner computed this window first
