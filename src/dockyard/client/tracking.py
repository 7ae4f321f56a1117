"""Experiments, runs and metrics from the SDK: ``client.experiments``, ``client.runs``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.client.blobs import write_verified
from dockyard.client.transport import Transport
from dockyard.core.errors import InvalidInput
from dockyard.core.operations import build, operations_by_name
from dockyard.core.paths import confined
from dockyard.core.schemas import IdMatches, IdPrefixQuery
from dockyard.tracking.artifacts import ArtifactService
from dockyard.tracking.experiments import ExperimentService
from dockyard.tracking.lineage import RunIO, RunIOService
from dockyard.tracking.metrics import MetricService
from dockyard.tracking.runs import RunService
from dockyard.tracking.schemas import (
    Artifact,
    Experiment,
    ExperimentCreate,
    HistoryQuery,
    MetricBatch,
    MetricHistory,
    MetricsLogged,
    ParamsLog,
    Reaped,
    ReapRequest,
    Run,
    RunCreate,
    RunKeys,
    RunKeysQuery,
    RunPage,
    RunSearch,
    RunStatus,
    RunUpdate,
    TablePreview,
    TableQuery,
    TagsSet,
)

if TYPE_CHECKING:
    import pandas as pd

_EXPERIMENTS = operations_by_name(ExperimentService)
_RUNS = operations_by_name(RunService)
_METRICS = operations_by_name(MetricService)
_ARTIFACTS = operations_by_name(ArtifactService)
_RUN_IO = operations_by_name(RunIOService)


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

    def delete(self, project: str, name: str) -> Experiment:
        """Move an experiment and its runs to the bin."""
        args = {"project": project, "experiment": name}
        result: Experiment = self._transport.call(_EXPERIMENTS["delete"], args)
        return result

    def restore(self, project: str, name: str) -> Experiment:
        """Bring a deleted experiment and its runs back."""
        args = {"project": project, "experiment": name}
        result: Experiment = self._transport.call(_EXPERIMENTS["restore"], args)
        return result

    def purge(self, project: str, name: str) -> None:
        """Erase a deleted experiment and its runs for good; ``gc`` then frees their blobs."""
        self._transport.call(_EXPERIMENTS["purge"], {"project": project, "experiment": name})


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
        create_project: bool = False,
    ) -> Run:
        """Start a run; params are stored as text (numbers compare as numbers in search).

        ``create_project=True`` creates the project if it does not exist, in the same write.
        """
        body = build(
            RunCreate,
            project=project,
            create_project=create_project,
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

    def resolve(self, prefix: str, *, limit: int = 10) -> IdMatches:
        """The runs (deleted ones too) whose id starts with ``prefix``, at most ``limit``."""
        query = build(IdPrefixQuery, prefix=prefix, limit=limit)
        return self._call("resolve", query=query)  # type: ignore[return-value]

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

    def io(self, run_id: str) -> list[RunIO]:
        """What the run read (inputs) and wrote (outputs): dataset versions, models..."""
        result: list[RunIO] = self._transport.call(_RUN_IO["list"], {"run_id": run_id})
        return result

    def reap(self, timeout_seconds: int = 300) -> Reaped:
        """Mark runs silent for ``timeout_seconds`` (their process died) as failed."""
        return self._call("reap", body=build(ReapRequest, timeout_seconds=timeout_seconds))  # type: ignore[return-value]

    def purge(self, run_id: str) -> None:
        """Erase a deleted run (and its children) for good; ``gc`` then frees its blobs."""
        self._call("purge", run_id=run_id)

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> list[Artifact]:
        """Upload a file, or every file of a folder, as the run's artifacts.

        A file lands at ``artifact_path`` (default: its name); a folder's files land under
        ``artifact_path`` (default: the folder's name), keeping their relative paths.
        """
        source = Path(local_path)
        if source.is_file():
            target = artifact_path or source.name
            with open(source, "rb") as stream:
                return [self.upload_artifact(run_id, target, stream)]
        if not source.is_dir():
            raise InvalidInput(f"{source} is neither a file nor a folder")
        base = (artifact_path or source.name).strip("/")
        stored = []
        for file in sorted(p for p in source.rglob("*") if p.is_file()):
            with open(file, "rb") as stream:
                rel = file.relative_to(source).as_posix()
                stored.append(self.upload_artifact(run_id, f"{base}/{rel}", stream))
        return stored

    def upload_artifact(self, run_id: str, path: str, data: BinaryIO) -> Artifact:
        """Store a stream as the artifact ``path``."""
        args = {"run_id": run_id, "data": data, "path": path}
        result: Artifact = self._transport.call(_ARTIFACTS["upload"], args)
        return result

    def artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts (under the folder ``prefix`` if given)."""
        args = {"run_id": run_id, "prefix": prefix}
        result: list[Artifact] = self._transport.call(_ARTIFACTS["list"], args)
        return result

    def open_artifact(self, run_id: str, path: str) -> BinaryIO:
        """A stream of an artifact's bytes; close it when done."""
        args = {"run_id": run_id, "path": path}
        result: BinaryIO = self._transport.call(_ARTIFACTS["download"], args)
        return result

    def preview_table(self, run_id: str, path: str, *, limit: int = 100) -> TablePreview:
        """The first ``limit`` (1-1000) rows of a .parquet, .csv or .tsv artifact with its
        columns, as JSON-safe values; the total row count when the file says it."""
        query = build(TableQuery, path=path, limit=limit)
        result: TablePreview = self._transport.call(
            _ARTIFACTS["table"], {"run_id": run_id, "query": query}
        )
        return result

    def download_artifact(
        self,
        run_id: str,
        path: str,
        target: str | Path,
        *,
        on_chunk: Callable[[int], object] | None = None,
    ) -> Path:
        """Write one artifact to ``target``, verified against its digest: altered bytes
        raise :class:`~dockyard.core.errors.CorruptBlob` and leave no file behind (a
        partial download never has that name)."""
        final = Path(target)
        final.parent.mkdir(parents=True, exist_ok=True)
        with self.open_artifact(run_id, path) as stream:
            return write_verified(stream, final, on_chunk=on_chunk)

    def download_artifacts(self, run_id: str, dest: str | Path, prefix: str = "") -> list[Path]:
        """Write the run's artifacts (or those under ``prefix``) below ``dest`` (each path,
        as the server lists it, must stay inside ``dest``; all are checked before any is
        written)."""
        listed = self.artifacts(run_id, prefix)
        targets = [confined(Path(dest), a.path, "artifact path") for a in listed]
        return [
            self.download_artifact(run_id, a.path, target)
            for a, target in zip(listed, targets, strict=True)
        ]

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
        offset: int | None = None,
        count: bool = False,
    ) -> RunPage:
        """Runs matching ``query`` (e.g. ``"params.lr < 0.1 AND metrics.auc > 0.9"``), ordered
        by ``order_by`` (e.g. ``"metrics.auc DESC"``), one page; pass ``next_cursor`` on, or
        jump to any row with ``offset``. ``count=True`` also counts every match (``total``)."""
        fields: dict[str, object] = {"offset": offset} if offset is not None else {}
        if count:
            fields["count"] = True
        body = build(
            RunSearch,
            query=query,
            order_by=order_by,
            projects=projects or [],
            experiments=experiments or [],
            include_deleted=include_deleted,
            limit=limit,
            cursor=cursor,
            **fields,
        )
        return self._call("search", body=body)  # type: ignore[return-value]

    def keys(
        self, *, projects: list[str] | None = None, experiments: list[str] | None = None
    ) -> RunKeys:
        """The sorted distinct param, metric and tag keys of the non-deleted runs of
        ``projects`` and ``experiments`` (default: every run)."""
        query = build(RunKeysQuery, projects=projects or [], experiments=experiments or [])
        return self._call("keys", query=query)  # type: ignore[return-value]

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
