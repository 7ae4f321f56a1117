"""Pipeline runs, their steps and the step cache, as stored records.

Pipelines are orchestrated by the client (``dy.run``): it builds the DAG, runs steps on an
executor and records here what happens, so a run looks the same embedded and on a server.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.core.operations import LISTING, Target, operation
from dockyard.core.principal import Principal, Role
from dockyard.core.schemas import (
    IdMatch,
    IdMatches,
    IdPrefixQuery,
    decode_cursor,
    encode_cursor,
)
from dockyard.pipelines.schemas import (
    ArtifactIn,
    CacheEntry,
    CacheLookup,
    CacheStore,
    ItemsRef,
    PipelineRun,
    PipelineRunCreate,
    PipelineRunPage,
    PipelineRunQuery,
    PipelineRunState,
    PipelineRunUpdate,
    StepOutput,
    StepRecord,
    StepsFinish,
    StepsStart,
    StepsStarted,
    StepsUpdate,
)
from dockyard.pipelines.values import ValueRef
from dockyard.projects.service import find_project
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.prefix import id_starts_with
from dockyard.store.tables import (
    ArtifactRow,
    BlobRefRow,
    ParamRow,
    PipelineRunRow,
    PipelineStepRow,
    ProjectRow,
    RunRow,
    StepCacheRow,
    TagRow,
    utcnow,
)
from dockyard.store.upsert import upsert
from dockyard.tracking.artifacts import OWNER as ARTIFACT_OWNER
from dockyard.tracking.artifacts import check_artifact_path, media_type
from dockyard.tracking.runs import as_number, find_run

CACHE_OWNER = "step_cache"
_STEP_FIELDS = (
    "position",
    "kind",
    "step",
    "status",
    "run_id",
    "cache_key",
    "cached_from",
    "attempts",
    "started_at",
    "ended_at",
    "duration_ms",
    "error",
    "items_total",
    "items_status",
)
Entries = list[CacheEntry]
_OUTPUT: TypeAdapter[ValueRef | ItemsRef] = TypeAdapter(StepOutput)


def _stored_output(raw: str | None) -> ValueRef | ItemsRef | None:
    """A stored step output, None when it is absent or no longer a valid reference (an entry
    written before references were checked is never handed out)."""
    if not raw:
        return None
    try:
        return _OUTPUT.validate_json(raw)
    except ValidationError:
        return None


def _to_step(row: PipelineStepRow) -> StepRecord:
    return StepRecord(
        node=row.node,
        position=row.position,
        kind=row.kind,
        step=row.step,
        status=row.status,
        run_id=row.run_id,
        cache_key=row.cache_key,
        cached_from=row.cached_from,
        attempts=row.attempts,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_ms=row.duration_ms,
        output=_stored_output(row.output),
        error=row.error,
        items_total=row.items_total,
        items_status=row.items_status,
    )


def _to_run(session: Session, row: PipelineRunRow, *, steps: bool = True) -> PipelineRun:
    project = session.get(ProjectRow, row.project_id)
    found = []
    if steps:
        found = [
            _to_step(s)
            for s in session.scalars(
                select(PipelineStepRow)
                .where(PipelineStepRow.pipeline_run_id == row.id)
                .order_by(PipelineStepRow.position)
            )
        ]
    return PipelineRun(
        id=row.id,
        project=project.name if project else "",
        pipeline=row.pipeline,
        import_path=row.import_path,
        status=row.status,
        params=json.loads(row.params),
        graph=json.loads(row.graph),
        executor=row.executor,
        resumed_from=row.resumed_from,
        cancel_requested=row.cancel_requested,
        error=row.error,
        created_by=row.created_by,
        started_at=row.started_at,
        ended_at=row.ended_at,
        steps=found,
    )


def find_pipeline_run(session: Session, run_id: str) -> PipelineRunRow:
    row = session.get(PipelineRunRow, run_id)
    if row is None:
        raise NotFound(f"there is no pipeline run {run_id!r}; `dockyard pipelines runs` lists them")
    return row


def _step_rows(run_id: str, steps: list[StepRecord]) -> list[dict[str, Any]]:
    rows = []
    for record in steps:
        row: dict[str, Any] = {"pipeline_run_id": run_id, "node": record.node}
        for name in _STEP_FIELDS:
            row[name] = getattr(record, name)
        row["output"] = record.output.model_dump_json() if record.output is not None else None
        rows.append(row)
    return rows


def _write_steps(session: Session, run_id: str, steps: list[StepRecord]) -> None:
    """Insert or replace step records, in one statement."""
    upsert(session, PipelineStepRow, _step_rows(run_id, steps), ("pipeline_run_id", "node"))


def _cache_rows(session: Session, project_id: str, entries: list[CacheEntry]) -> None:
    """Store cache entries of a project (a key stored again is replaced, in whichever
    project it was) and the refs of their blobs."""
    if not entries:
        return
    now = utcnow()
    keys = [e.key for e in entries]
    session.execute(
        delete(BlobRefRow).where(
            BlobRefRow.owner_type == CACHE_OWNER, BlobRefRow.owner_id.in_(keys)
        )
    )
    upsert(
        session,
        StepCacheRow,
        [
            {
                "key": e.key,
                "project_id": project_id,
                "step": e.step,
                "output": e.output.model_dump_json(),
                "pipeline_run_id": e.pipeline_run_id,
                "run_id": e.run_id,
                "created_at": now,
            }
            for e in entries
        ],
        ("key",),
    )
    for e in entries:
        blobrefs.add_refs(session, CACHE_OWNER, e.key, e.blobs)


def _cache_hits(session: Session, project_id: str, keys: list[str]) -> dict[str, CacheEntry]:
    """The entries stored under ``keys`` by the project's own pipelines: an output another
    project stored is never reused (whoever may write there could otherwise plant one)."""
    found: dict[str, CacheEntry] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        rows = session.scalars(
            select(StepCacheRow).where(
                StepCacheRow.key.in_(unique[start : start + 500]),
                StepCacheRow.project_id == project_id,
            )
        )
        for r in rows:
            output = _stored_output(r.output)
            if output is None:
                continue  # an entry that is not a valid reference is a miss: the step runs
            found[r.key] = CacheEntry(
                key=r.key,
                step=r.step,
                output=output,
                pipeline_run_id=r.pipeline_run_id,
                run_id=r.run_id,
                created_at=r.created_at,
            )
    return found


def _usable(hit: CacheEntry | None, pickle: bool) -> CacheEntry | None:
    """A cache hit a step may reuse: a pickled output only for a step that declares
    pickle=True (anyone may store an entry; the step's own declaration decides)."""
    if hit is not None and isinstance(hit.output, ValueRef) and hit.output.kind == "pickle":
        return hit if pickle else None
    return hit


def _attach(session: Session, run_id: str, artifacts: list[ArtifactIn]) -> None:
    if not artifacts:
        return
    now = utcnow()
    rows = []
    for a in artifacts:
        check_artifact_path(a.path)
        rows.append(
            {
                "run_id": run_id,
                "path": a.path,
                "digest": a.digest,
                "size": a.size,
                "media_type": media_type(a.path),
                "created_at": now,
            }
        )
    upsert(session, ArtifactRow, rows, ("run_id", "path"))
    blobrefs.add_refs(session, ARTIFACT_OWNER, run_id, {a.digest for a in artifacts})


class PipelineService:
    """Records of pipeline runs and their steps, and the cache of step outputs."""

    service_name = "pipelines"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation(
        "POST",
        "/pipelines/runs",
        status=201,
        on=(
            Target("project", "body.project", creates=True),
            Target("pipeline_run", "body.resumed_from", role=Role.VIEWER, optional=True),
        ),
    )
    def create(self, principal: Principal, body: PipelineRunCreate) -> PipelineRun:
        """Record a pipeline run for an existing tracked run (its parent run)."""

        def insert(session: Session) -> PipelineRun:
            run = find_run(session, body.run_id)
            project = find_project(session, body.project)
            if run.project_id != project.id:
                raise InvalidInput(f"run {body.run_id} is not in project {body.project!r}")
            if session.get(PipelineRunRow, run.id) is not None:
                raise Conflict(f"run {run.id} already is a pipeline run")
            row = PipelineRunRow(
                id=run.id,
                project_id=project.id,
                pipeline=body.pipeline,
                import_path=body.import_path,
                status="running",
                params=json.dumps(body.params, sort_keys=True),
                graph=json.dumps(body.graph),
                executor=body.executor,
                resumed_from=body.resumed_from,
                cancel_requested=False,
                error="",
                created_by=principal.name,
                started_at=utcnow(),
                ended_at=None,
            )
            session.add(row)
            session.flush()
            _write_steps(session, row.id, body.steps)
            return _to_run(session, row)

        return self.db.write(insert)

    @operation(
        "PUT",
        "/pipelines/runs/{run_id}/steps",
        status=204,
        on=Target("pipeline_run", "run_id"),
        audit=False,
    )
    def update_steps(self, principal: Principal, run_id: str, body: StepsUpdate) -> None:
        """Record the state of some steps (each replaces the step's earlier record)."""
        self.db.write(lambda s: _write_steps(s, find_pipeline_run(s, run_id).id, body.steps))

    @operation(
        "POST",
        "/pipelines/runs/{run_id}/steps/start",
        on=Target("pipeline_run", "run_id"),
        audit=False,
    )
    def start_steps(self, principal: Principal, run_id: str, body: StepsStart) -> StepsStarted:
        """Start steps in one transaction: a step whose cache key is stored becomes
        ``cached`` (nothing to run); the others get a child run and become ``running``."""

        def start(session: Session) -> StepsStarted:
            parent = session.execute(
                select(RunRow.project_id, RunRow.experiment_id)
                .join(PipelineRunRow, PipelineRunRow.id == RunRow.id)
                .where(RunRow.id == run_id)
            ).one_or_none()
            if parent is None:
                find_pipeline_run(session, run_id)  # raises NotFound with the advice
            assert parent is not None
            hits = _cache_hits(session, parent.project_id, [s.key for s in body.steps if s.key])
            runs: dict[str, str] = {}
            found: dict[str, CacheEntry] = {}
            records = []
            new_runs: list[dict[str, Any]] = []
            params: list[dict[str, Any]] = []
            tags: list[dict[str, Any]] = []
            now = utcnow()
            for item in body.steps:
                record = item.record.model_copy()
                hit = _usable(hits.get(item.key), item.pickle) if item.key else None
                if hit is not None and record.kind == "step":
                    found[record.node] = hit
                    record.status = "cached"
                    record.cache_key = item.key
                    record.cached_from = hit.run_id
                    record.output = hit.output
                    record.started_at = record.ended_at = now
                    record.duration_ms = 0
                else:
                    child_id = new_id()
                    new_runs.append(
                        {
                            "id": child_id,
                            "project_id": parent.project_id,
                            "experiment_id": parent.experiment_id,
                            "parent_id": run_id,
                            "name": record.node[:128],
                            "status": "running",
                            "user": principal.name,
                            "note": "",
                            "start_time": now,
                            "end_time": None,
                            "heartbeat_at": now,
                            "deleted_at": None,
                        }
                    )
                    params.extend(
                        {"run_id": child_id, "key": k, "value": v, "value_num": as_number(v)}
                        for k, v in item.params.items()
                    )
                    tags.extend(
                        {"run_id": child_id, "key": k, "value": v} for k, v in item.tags.items()
                    )
                    runs[record.node] = child_id
                    record.run_id = child_id
                    record.status = "running"
                    record.started_at = record.started_at or now
                records.append(record)
            if new_runs:
                session.execute(insert(RunRow), new_runs)
            if params:
                session.execute(insert(ParamRow), params)
            if tags:
                session.execute(insert(TagRow), tags)
            _write_steps(session, run_id, records)
            return StepsStarted(runs=runs, hits=found)

        return self.db.write(start)

    @operation(
        "POST",
        "/pipelines/runs/{run_id}/steps/finish",
        status=204,
        on=Target("pipeline_run", "run_id"),
        audit=False,
    )
    def finish_steps(self, principal: Principal, run_id: str, body: StepsFinish) -> None:
        """Finish steps in one transaction: attach their outputs to their runs, store their
        cache entries, end their runs and record their final state."""

        def finish(session: Session) -> None:
            children = [i.record.run_id for i in body.steps if i.record.run_id]
            known = (
                dict(
                    session.execute(
                        select(RunRow.id, RunRow.parent_id).where(RunRow.id.in_(children))
                    ).all()
                )
                if children
                else {}
            )
            project_id = session.scalar(
                select(PipelineRunRow.project_id).where(PipelineRunRow.id == run_id)
            )
            if project_id is None:
                find_pipeline_run(session, run_id)  # raises NotFound with the advice
            assert project_id is not None
            now = utcnow()
            ending: dict[str, list[str]] = {}
            for item in body.steps:
                child_id = item.record.run_id
                if child_id:
                    if known.get(child_id) != run_id:
                        raise InvalidInput(f"run {child_id} is not a step of pipeline run {run_id}")
                    _attach(session, child_id, item.artifacts)
                    if item.blobs:
                        blobrefs.add_refs(session, ARTIFACT_OWNER, child_id, item.blobs)
                    if item.run_status is not None:
                        ending.setdefault(item.run_status, []).append(child_id)
                _cache_rows(session, project_id, item.cache)
            for status, ids in ending.items():
                session.execute(
                    update(RunRow)
                    .where(RunRow.id.in_(ids), RunRow.status == "running")
                    .values(status=status, end_time=now)
                )
            _write_steps(session, run_id, [i.record for i in body.steps])

        self.db.write(finish)

    @operation("PATCH", "/pipelines/runs/{run_id}", on=Target("pipeline_run", "run_id"))
    def finish(self, principal: Principal, run_id: str, body: PipelineRunUpdate) -> PipelineRun:
        """Set the run's final status."""

        def change(session: Session) -> PipelineRun:
            row = find_pipeline_run(session, run_id)
            row.status = body.status
            row.error = body.error
            row.ended_at = None if body.status == "running" else utcnow()
            return _to_run(session, row)

        return self.db.write(change)

    @operation("GET", "/pipelines/runs/{run_id}/state", on=Target("pipeline_run", "run_id"))
    def state(self, principal: Principal, run_id: str) -> PipelineRunState:
        """A run's status and whether it was asked to stop (cheap: no steps)."""

        def fetch(session: Session) -> PipelineRunState:
            row = find_pipeline_run(session, run_id)
            return PipelineRunState(status=row.status, cancel_requested=row.cancel_requested)

        return self.db.query(fetch)

    @operation("POST", "/pipelines/runs/{run_id}/cancel", on=Target("pipeline_run", "run_id"))
    def cancel(self, principal: Principal, run_id: str) -> PipelineRun:
        """Ask a running pipeline run to stop: no new step starts, running ones are stopped."""

        def change(session: Session) -> PipelineRun:
            row = find_pipeline_run(session, run_id)
            if row.status != "running":
                raise Conflict(f"pipeline run {run_id} is {row.status}, not running")
            row.cancel_requested = True
            return _to_run(session, row)

        return self.db.write(change)

    # Declared before ``get`` so that its route is matched before /pipelines/runs/{run_id}.
    @operation("GET", "/pipelines/runs/resolve", on=LISTING)
    def resolve(self, principal: Principal, query: IdPrefixQuery) -> IdMatches:
        """The pipeline runs whose id starts with a prefix, oldest first (a pipeline run's
        steps are runs too, made in the same second, so runs' prefixes do not serve)."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> IdMatches:
            stmt = (
                select(
                    PipelineRunRow.id,
                    PipelineRunRow.pipeline,
                    PipelineRunRow.status,
                    ProjectRow.name,
                )
                .join(ProjectRow, ProjectRow.id == PipelineRunRow.project_id)
                .where(id_starts_with(PipelineRunRow.id, query.prefix))
                .order_by(PipelineRunRow.id)
                .limit(query.limit + 1)
            )
            if readable is not None:
                stmt = stmt.where(PipelineRunRow.project_id.in_(readable))
            rows = session.execute(stmt).all()
            items = [
                IdMatch(id=run_id, label=f"pipeline {pipeline} in {project}, {status}")
                for run_id, pipeline, status, project in rows[: query.limit]
            ]
            return IdMatches(items=items, more=len(rows) > query.limit)

        return self.db.query(fetch)

    @operation("GET", "/pipelines/runs/{run_id}", on=Target("pipeline_run", "run_id"))
    def get(self, principal: Principal, run_id: str) -> PipelineRun:
        """A pipeline run with the record of each step."""
        return self.db.query(lambda s: _to_run(s, find_pipeline_run(s, run_id)))

    @operation("GET", "/pipelines/runs", on=Target("project", "query.project", optional=True))
    def list(self, principal: Principal, query: PipelineRunQuery) -> PipelineRunPage:
        """Pipeline runs, newest first, with their steps."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> PipelineRunPage:
            stmt = select(PipelineRunRow)
            if readable is not None:
                stmt = stmt.where(PipelineRunRow.project_id.in_(readable))
            if query.project:
                stmt = stmt.where(
                    PipelineRunRow.project_id == find_project(session, query.project).id
                )
            if query.pipeline:
                stmt = stmt.where(PipelineRunRow.pipeline == query.pipeline)
            if query.status:
                stmt = stmt.where(PipelineRunRow.status == query.status)
            total = (
                session.scalar(select(func.count()).select_from(stmt.subquery()))
                if query.count
                else None
            )
            if query.cursor:
                started, run_id = decode_cursor(query.cursor, 2)
                row = session.get(PipelineRunRow, str(run_id))
                if row is None:
                    raise InvalidInput("cursor is not valid; pass a next_cursor from a listing")
                stmt = stmt.where(
                    (PipelineRunRow.started_at < row.started_at)
                    | ((PipelineRunRow.started_at == row.started_at) & (PipelineRunRow.id < row.id))
                )
                del started
            rows = list(
                session.scalars(
                    stmt.order_by(PipelineRunRow.started_at.desc(), PipelineRunRow.id.desc()).limit(
                        query.limit + 1
                    )
                )
            )
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            return PipelineRunPage(
                items=[_to_run(session, r) for r in rows],
                next_cursor=encode_cursor([rows[-1].started_at.isoformat(), rows[-1].id])
                if more
                else None,
                total=total,
            )

        return self.db.query(fetch)

    @operation(
        "POST",
        "/pipelines/cache/lookup",
        on=Target("project", "body.project"),
        role=Role.VIEWER,
        audit=False,
    )
    def cache_lookup(self, principal: Principal, body: CacheLookup) -> Entries:
        """The cached outputs among ``keys`` (missing keys are simply absent)."""

        def fetch(session: Session) -> Entries:
            project_id = find_project(session, body.project).id
            return list(_cache_hits(session, project_id, body.keys).values())

        return self.db.query(fetch)

    @operation(
        "POST", "/pipelines/cache", status=204, on=Target("project", "body.project"), audit=False
    )
    def cache_store(self, principal: Principal, body: CacheStore) -> None:
        """Store step outputs under their cache keys (a key stored again is replaced); the
        blobs they need stay until the entry is evicted."""

        def store(session: Session) -> None:
            _cache_rows(session, find_project(session, body.project).id, body.entries)

        self.db.write(store)

    @operation("DELETE", "/pipelines/cache", status=204, on=Target("project", "project"))
    def cache_clear(self, principal: Principal, project: str, step: str | None = None) -> None:
        """Forget a project's cached outputs (of one step, or all); ``gc`` then frees their
        blobs."""

        def erase(session: Session) -> None:
            stmt = select(StepCacheRow).where(
                StepCacheRow.project_id == find_project(session, project).id
            )
            if step:
                stmt = stmt.where(StepCacheRow.step == step)
            for row in session.scalars(stmt):
                blobrefs.drop_refs(session, CACHE_OWNER, row.key)
                session.delete(row)

        self.db.write(erase)
