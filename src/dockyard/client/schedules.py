"""Pipeline schedules from the SDK and CLI: ``client.schedules``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from dockyard.client.transport import Transport
from dockyard.core.errors import InvalidInput
from dockyard.core.operations import build, operations_by_name
from dockyard.pipelines.references import expand_reference, import_pipeline
from dockyard.pipelines.schedule_schemas import (
    ClaimRequest,
    Firing,
    FiringOutcome,
    Schedule,
    ScheduleCreate,
    ScheduleQuery,
)
from dockyard.pipelines.schedules import ScheduleService

_OPS = operations_by_name(ScheduleService)
Schedules = list[Schedule]
Firings = list[Firing]


def _check_locally(body: ScheduleCreate) -> None:
    """Import the pipeline here (the caller's own code, on their machine) and check that it
    accepts the parameters; InvalidInput says what is wrong."""
    try:
        pipeline = import_pipeline(body.pipeline)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{exc.message} (checked here before creating the schedule; if the pipeline "
            "imports only where the scheduler runs, skip the check: check=False, or "
            "--no-check on the command line)"
        ) from None
    given = dict(body.params)
    if body.dataset is not None:
        given[body.dataset_param] = f"{body.dataset}@1"
    pipeline.params(given)  # raises InvalidInput naming the pipeline's parameters


class SchedulesClient:
    """Cron schedules and dataset triggers that run pipelines (fired by ``dockyard
    scheduler`` or the scheduler inside ``dockyard server``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, op: str, **arguments: Any) -> Any:
        return self._transport.call(_OPS[op], arguments)

    def create(
        self,
        project: str,
        name: str,
        pipeline: str,
        *,
        cron: str | None = None,
        dataset: str | None = None,
        dataset_param: str = "data",
        params: Mapping[str, Any] | None = None,
        executor: str = "process",
        enabled: bool = True,
        check: bool = True,
    ) -> Schedule:
        """Run ``pipeline`` (``module:function`` or ``file.py:function``) on the ``cron``
        expression (UTC), or once per new accepted version of ``dataset``, which the
        pipeline receives as ``dataset_param="<dataset>@<number>"``.

        A relative ``file.py`` is made absolute from here. With ``check`` the pipeline is
        imported here first and must accept the parameters; turn it off for a pipeline that
        imports only where the scheduler runs. The service itself imports nothing: the
        scheduler does when the schedule fires, and records why if it cannot. Over HTTP,
        creating a schedule needs the server's admin token."""
        body = build(
            ScheduleCreate,
            project=project,
            name=name,
            pipeline=expand_reference(pipeline),
            cron=cron,
            dataset=dataset,
            dataset_param=dataset_param,
            params=dict(params or {}),
            executor=executor,
            enabled=enabled,
        )
        if check:
            _check_locally(body)
        result: Schedule = self._call("create", body=body)
        return result

    def list(self, project: str | None = None) -> Schedules:
        """Schedules (of ``project``, or all), with their last and next firing."""
        result: Schedules = self._call("list", query=build(ScheduleQuery, project=project))
        return result

    def get(self, project: str, name: str) -> Schedule:
        result: Schedule = self._call("get", project=project, name=name)
        return result

    def delete(self, project: str, name: str) -> None:
        self._call("delete", project=project, name=name)

    def enable(self, project: str, name: str) -> Schedule:
        """Let the schedule fire again (from the next slot, or the next new version)."""
        result: Schedule = self._call("enable", project=project, name=name)
        return result

    def disable(self, project: str, name: str) -> Schedule:
        result: Schedule = self._call("disable", project=project, name=name)
        return result

    def claim(
        self, *, project: str | None = None, limit: int = 100, skip: Iterable[str] = ()
    ) -> Firings:
        """Claim due firings; the caller alone must run them (see ``dockyard.sdk.scheduler``)."""
        body = build(ClaimRequest, project=project, limit=limit, skip=list(skip))
        result: Firings = self._call("claim", body=body)
        return result

    def record(
        self,
        firing: Firing,
        *,
        status: str,
        run_id: str | None = None,
        error: str = "",
    ) -> None:
        """Record what became of a claimed firing."""
        body = build(
            FiringOutcome,
            fired_at=firing.fired_at.astimezone(dt.UTC),
            run_id=run_id,
            status=status,
            error=error[-20_000:],
        )
        self._call("record", schedule_id=firing.schedule.id, body=body)
