"""Experiments, runs and metrics from the SDK: ``client.experiments``, ``client.runs``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name
from dockyard.tracking.experiments import ExperimentService
from dockyard.tracking.metrics import MetricService
from dockyard.tracking.runs import RunService
from dockyard.tracking.schemas import (
    Experiment,
    ExperimentCreate,
    HistoryQuery,
    MetricBatch,
    MetricHistory,
    MetricsLogged,
    ParamsLog,
    Run,
    RunCreate,
    RunPage,
    RunSearch,
    RunStatus,
    RunUpdate,
    TagsSet,
)

if TYPE_CHECKING:
    import pandas as pd

_EXPERIMENTS = operations_by_name(ExperimentService)
_RUNS = operations_by_name(RunService)
_METRICS = operations_by_name(MetricService)


class ExperimentsClient:
    """Create, list and get experiments."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create(self, project: str, name: str, *, description: str = "") -> Experiment:
        body = build(ExperimentCreate, project=project, name=name, description=description)
        result: Experiment = self._transport.call(_EXPERIMENTS["create"], {"body": body})
        return result

    def list(self, project: str) -> list[Experiment]:
        result: list[Experiment] = self._transport.call(_EXPERIMENTS["list"], {"project": project})
        return result

    def get(self, project: str, name: str) -> Experiment:
        args = {"project": project, "experiment": name}
        result: Experiment = self._transport.call(_EXPERIMENTS["get"], args)
        return result


class RunsClient:
    """Runs and what they log, one call at a time (``dy.start_run`` batches for you)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, op: str, **arguments: object) -> object:
        return self._transport.call(_RUNS[op], dict(arguments))

    def create(
        self,
        project: str,
        *,
        experiment: str = "default",
        name: str | None = None,
        parent_id: str | None = None,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, str] | None = None,
        note: str = "",
    ) -> Run:
        """Start a run; params are stored as text (numbers compare as numbers in search)."""
        body = build(
            RunCreate,
            project=project,
            experiment=experiment,
            name=name,
            parent_id=parent_id,
            params={k: str(v) for k, v in (params or {}).items()},
            tags=dict(tags or {}),
            note=note,
        )
        return self._call("create", body=body)  # type: ignore[return-value]

    def get(self, run_id: str) -> Run:
        return self._call("get", run_id=run_id)  # type: ignore[return-value]

    def update(
        self,
        run_id: str,
        *,
        name: str | None = None,
        status: RunStatus | None = None,
        note: str | None = None,
    ) -> Run:
        fields = {k: v for k, v in (("name", name), ("status", status), ("note", note)) if v}
        return self._call("update", run_id=run_id, body=build(RunUpdate, **fields))  # type: ignore[return-value]

    def end(self, run_id: str, status: RunStatus = "finished") -> Run:
        """End a run with a final status."""
        return self.update(run_id, status=status)

    def log_params(self, run_id: str, params: Mapping[str, object]) -> None:
        body = build(ParamsLog, params={k: str(v) for k, v in params.items()})
        self._call("log_params", run_id=run_id, body=body)

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self._call("set_tags", run_id=run_id, body=build(TagsSet, tags=dict(tags)))

    def heartbeat(self, run_id: str) -> None:
        self._call("heartbeat", run_id=run_id)

    def delete(self, run_id: str) -> Run:
        return self._call("delete", run_id=run_id)  # type: ignore[return-value]

    def restore(self, run_id: str) -> Run:
        return self._call("restore", run_id=run_id)  # type: ignore[return-value]

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        *,
        step: int = 0,
        timestamp_ms: int | None = None,
    ) -> MetricsLogged:
        """Log one value per key at ``step``."""
        ts = timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000
        series = {
            k: {"steps": [step], "timestamps": [ts], "values": [v]} for k, v in metrics.items()
        }
        return self.log_batch(run_id, build(MetricBatch, series=series))

    def log_batch(self, run_id: str, batch: MetricBatch) -> MetricsLogged:
        """Send a prepared batch; give it a ``batch_id`` so a retry cannot duplicate it."""
        if batch.batch_id is None:
            batch = batch.model_copy(update={"batch_id": uuid.uuid4().hex})
        result: MetricsLogged = self._transport.call(
            _METRICS["log"], {"run_id": run_id, "body": batch}
        )
        return result

    def search(
        self,
        query: str = "",
        *,
        order_by: str = "",
        projects: list[str] | None = None,
        experiments: list[str] | None = None,
        include_deleted: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> RunPage:
        """Runs matching ``query`` (e.g. ``"params.lr < 0.1 AND metrics.auc > 0.9"``), ordered
        by ``order_by`` (e.g. ``"metrics.auc DESC"``), one page; pass ``next_cursor`` on."""
        body = build(
            RunSearch,
            query=query,
            order_by=order_by,
            projects=projects or [],
            experiments=experiments or [],
            include_deleted=include_deleted,
            limit=limit,
            cursor=cursor,
        )
        return self._call("search", body=body)  # type: ignore[return-value]

    def compare(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """One row per run: name, status, every param, and every metric's last value."""
        import pandas as pd  # ~0.3 s to import: only when comparing

        rows = {}
        for run_id in run_ids:
            run = self.get(run_id)
            rows[run.id] = {
                "name": run.name,
                "status": run.status,
                **{f"params.{k}": v for k, v in sorted(run.params.items())},
                **{f"metrics.{k}": m.last for k, m in sorted(run.metrics.items())},
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def history(self, run_id: str, key: str, *, max_points: int | None = None) -> MetricHistory:
        """A metric's points, whole or downsampled to about ``max_points``."""
        query = build(HistoryQuery, key=key, max_points=max_points)
        result: MetricHistory = self._transport.call(
            _METRICS["history"], {"run_id": run_id, "query": query}
        )
        return result
