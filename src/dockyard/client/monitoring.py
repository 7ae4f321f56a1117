"""Monitors of served models, their windows, labels and alerts: ``client.monitoring``."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name
from dockyard.monitoring.schemas import (
    Alert,
    AlertQuery,
    Delivery,
    DueRequest,
    EntityLabelBatch,
    LabelBatch,
    LabelResult,
    Monitor,
    MonitorCreate,
    MonitorQuery,
    Report,
    ReportQuery,
    RunRequest,
    RunResult,
    WindowQuery,
    WindowResult,
)
from dockyard.monitoring.service import MonitorService

_OPS = operations_by_name(MonitorService)


class MonitoringClient:
    """Watch served models: drift, quality and performance per window, and alerts."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, operation: str, /, **arguments: Any) -> Any:
        return self._transport.call(_OPS[operation], arguments)

    def put(self, model: str, **settings: Any) -> Monitor:
        """Create or change the monitor ``settings["name"]`` (default ``default``) of
        ``model``; see :class:`~dockyard.monitoring.schemas.MonitorCreate`."""
        found: Monitor = self._call("put", body=build(MonitorCreate, model=model, **settings))
        return found

    def list(
        self, *, model: str | None = None, project: str | None = None
    ) -> builtins.list[Monitor]:
        found: builtins.list[Monitor] = self._call(
            "list", query=build(MonitorQuery, model=model, project=project)
        )
        return found

    def get(self, model: str, name: str = "default") -> Monitor:
        found: Monitor = self._call("get", model=model, name=name)
        return found

    def delete(self, model: str, name: str = "default") -> None:
        self._call("delete", model=model, name=name)

    def due(
        self, *, limit: int = 10, skip: builtins.list[str] | None = None
    ) -> builtins.list[Monitor]:
        found: builtins.list[Monitor] = self._call(
            "due", body=build(DueRequest, limit=limit, skip=list(skip or []))
        )
        return found

    def run(
        self, model: str, name: str = "default", *, until: dt.datetime | None = None
    ) -> RunResult:
        found: RunResult = self._call(
            "run", model=model, name=name, body=build(RunRequest, until=until)
        )
        return found

    def windows(
        self,
        model: str,
        name: str = "default",
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        version: int | None = None,
        limit: int = 1000,
        newest: bool = False,
    ) -> builtins.list[WindowResult]:
        """The monitor's windows between ``since`` and ``until`` (default: the last 7 days),
        oldest first: the oldest ``limit`` of them, or the ``newest``."""
        query = build(
            WindowQuery,
            model=model,
            monitor=name,
            since=since,
            until=until,
            version=version,
            limit=limit,
            newest=newest,
        )
        found: builtins.list[WindowResult] = self._call("windows", query=query)
        return found

    def report(
        self,
        model: str,
        name: str = "default",
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> Report:
        query = build(ReportQuery, model=model, monitor=name, since=since, until=until)
        found: Report = self._call("report", query=query)
        return found

    def metrics(self) -> str:
        """The monitors' figures in Prometheus' text format (what a scrape receives)."""
        stream = self._call("metrics")
        try:
            return bytes(stream.read()).decode()
        finally:
            stream.close()

    def alerts(
        self,
        *,
        model: str | None = None,
        project: str | None = None,
        since: dt.datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        query = build(AlertQuery, model=model, project=project, since=since, limit=limit)
        found: builtins.list[Alert] = self._call("alerts", query=query)
        return found

    def record_delivery(
        self, alert_id: str, index: int, *, delivered: bool, detail: str, attempts: int
    ) -> Alert:
        body = build(
            Delivery,
            index=index,
            status="done" if delivered else "failed",
            detail=detail[:2000],
            attempts=attempts,
        )
        found: Alert = self._call("record_delivery", alert_id=alert_id, body=body)
        return found

    def log_entity_labels(
        self, model: str, labels: Sequence[Mapping[str, Any]], *, tolerance: str = "5m"
    ) -> LabelResult:
        """Labels by entity and time: each ``{"keys": {...}, "at": time, "label": value}``
        labels the prediction with those key values nearest ``at`` (within ``tolerance``)."""
        body = build(EntityLabelBatch, labels=list(labels), tolerance=tolerance)
        found: LabelResult = self._call("log_entity_labels", model=model, body=body)
        return found

    def log_labels(self, model: str, labels: Mapping[str, float]) -> LabelResult:
        found: LabelResult = self._call(
            "log_labels", model=model, body=build(LabelBatch, labels=dict(labels))
        )
        return found
