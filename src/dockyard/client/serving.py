"""Model servers' reports, the prediction log and traces: ``client.serving``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name
from dockyard.serving.schemas import (
    Instance,
    InstanceQuery,
    InstanceState,
    PredictionPage,
    PredictionQuery,
    PredictionTrace,
    Segment,
    SegmentCreate,
    SegmentQuery,
)
from dockyard.serving.service import ServingService

_OPS = operations_by_name(ServingService)


class ServingClient:
    """What model servers report and log, read back."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, name: str, **arguments: Any) -> Any:
        return self._transport.call(_OPS[name], arguments)

    def heartbeat(self, instance_id: str, state: InstanceState) -> Instance:
        found: Instance = self._call("heartbeat", instance_id=instance_id, body=state)
        return found

    def instances(self, *, live: bool = False, limit: int = 100) -> list[Instance]:
        found: list[Instance] = self._call(
            "instances", query=build(InstanceQuery, live=live, limit=limit)
        )
        return found

    def record_segment(
        self,
        *,
        model: str,
        instance_id: str,
        digest: str,
        hour: dt.datetime,
        rows: int,
        first_id: str,
        last_id: str,
        versions: Sequence[int],
    ) -> Segment:
        body = build(
            SegmentCreate,
            model=model,
            instance_id=instance_id,
            digest=digest,
            hour=hour,
            rows=rows,
            first_id=first_id,
            last_id=last_id,
            versions=list(versions),
        )
        found: Segment = self._call("record_segment", body=body)
        return found

    def segments(
        self,
        model: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 1000,
    ) -> list[Segment]:
        query = build(SegmentQuery, model=model, since=since, until=until, limit=limit)
        found: list[Segment] = self._call("segments", query=query)
        return found

    def predictions(
        self,
        model: str,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        version: int | None = None,
        shadow: bool | None = None,
        limit: int = 100,
    ) -> PredictionPage:
        query = build(
            PredictionQuery,
            model=model,
            since=since,
            until=until,
            version=version,
            shadow=shadow,
            limit=limit,
        )
        found: PredictionPage = self._call("predictions", query=query)
        return found

    def trace(self, prediction_id: str) -> PredictionTrace:
        found: PredictionTrace = self._call("trace", prediction_id=prediction_id)
        return found
