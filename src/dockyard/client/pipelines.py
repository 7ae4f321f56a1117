"""Pipeline run records and the step cache from the SDK and CLI: ``client.pipelines``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name
from dockyard.core.schemas import IdMatches, IdPrefixQuery
from dockyard.pipelines.schemas import (
    CacheEntry,
    CacheLookup,
    CacheStore,
    PipelineRun,
    PipelineRunCreate,
    PipelineRunPage,
    PipelineRunQuery,
    PipelineRunState,
    PipelineRunUpdate,
    StepFinish,
    StepRecord,
    StepsFinish,
    StepsStart,
    StepsStarted,
    StepStart,
    StepsUpdate,
)
from dockyard.pipelines.service import PipelineService

_OPS = operations_by_name(PipelineService)
Entries = list[CacheEntry]


class PipelinesClient:
    """Records of pipeline runs (the orchestration itself runs in ``dy.run``)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, op: str, **arguments: Any) -> Any:
        return self._transport.call(_OPS[op], arguments)

    def create(self, body: PipelineRunCreate) -> PipelineRun:
        result: PipelineRun = self._call("create", body=body)
        return result

    def update_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        self._call("update_steps", run_id=run_id, body=StepsUpdate(steps=list(steps)))

    def start_steps(self, run_id: str, steps: Sequence[StepStart]) -> StepsStarted:
        """Start steps: cached ones are reused, the others get their child runs."""
        result: StepsStarted = self._call(
            "start_steps", run_id=run_id, body=StepsStart(steps=list(steps))
        )
        return result

    def finish_steps(self, run_id: str, steps: Sequence[StepFinish]) -> None:
        """Record finished steps with their outputs, cache entries and run status."""
        self._call("finish_steps", run_id=run_id, body=StepsFinish(steps=list(steps)))

    def finish(self, run_id: str, status: str, error: str = "") -> PipelineRun:
        body = build(PipelineRunUpdate, status=status, error=error)
        result: PipelineRun = self._call("finish", run_id=run_id, body=body)
        return result

    def state(self, run_id: str) -> PipelineRunState:
        """A run's status and whether it was asked to stop, without its steps."""
        result: PipelineRunState = self._call("state", run_id=run_id)
        return result

    def cancel(self, run_id: str) -> PipelineRun:
        """Ask a running pipeline run to stop."""
        result: PipelineRun = self._call("cancel", run_id=run_id)
        return result

    def get(self, run_id: str) -> PipelineRun:
        result: PipelineRun = self._call("get", run_id=run_id)
        return result

    def resolve(self, prefix: str, *, limit: int = 10) -> IdMatches:
        """The pipeline runs whose id starts with ``prefix`` (at most ``limit`` of them)."""
        query = build(IdPrefixQuery, prefix=prefix, limit=limit)
        result: IdMatches = self._call("resolve", query=query)
        return result

    def list(
        self,
        *,
        project: str | None = None,
        pipeline: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        count: bool = False,
    ) -> PipelineRunPage:
        """Pipeline runs, newest first; ``count`` also gives how many match, as ``total``."""
        query = build(
            PipelineRunQuery,
            project=project,
            pipeline=pipeline,
            status=status,
            limit=limit,
            cursor=cursor,
            count=count,
        )
        result: PipelineRunPage = self._call("list", query=query)
        return result

    def cache_lookup(self, project: str, keys: Sequence[str]) -> Entries:
        """The entries the project's pipelines stored under ``keys``."""
        body = CacheLookup(project=project, keys=list(keys))
        result: Entries = self._call("cache_lookup", body=body)
        return result

    def cache_store(self, project: str, entries: Sequence[CacheEntry]) -> None:
        self._call("cache_store", body=CacheStore(project=project, entries=list(entries)))

    def cache_clear(self, project: str, step: str | None = None) -> None:
        """Forget the project's cached outputs (of ``step``, or all)."""
        self._call("cache_clear", project=project, step=step)
