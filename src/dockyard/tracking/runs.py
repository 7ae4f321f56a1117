"""The run service: one execution of training code, with its params, tags and status."""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.core.ids import is_id, new_id
from dockyard.core.operations import LISTING, SERVER, Target, operation
from dockyard.core.principal import Principal, Role
from dockyard.core.schemas import IdMatch, IdMatches, IdPrefixQuery
from dockyard.projects.service import find_project, get_or_create_project
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.prefix import id_starts_with
from dockyard.store.tables import (
    ExperimentRow,
    MetricSeriesRow,
    ParamRow,
    ProjectRow,
    RunRow,
    TagRow,
    utcnow,
)
from dockyard.tracking.experiments import get_or_create_experiment
from dockyard.tracking.keys import run_keys
from dockyard.tracking.query_ast import Expr, OrderBy
from dockyard.tracking.schemas import (
    FINAL_STATUSES,
    MetricSummary,
    ParamsLog,
    Reaped,
    ReapRequest,
    Run,
    RunCreate,
    RunKeys,
    RunKeysQuery,
    RunPage,
    RunSearch,
    RunUpdate,
    TagsSet,
)
from dockyard.tracking.search import Position, count_runs, run_scope, search_run_ids


def find_run(session: Session, run_id: str, *, include_deleted: bool = False) -> RunRow:
    row = session.get(RunRow, run_id) if is_id(run_id) else None
    if row is None or (row.deleted_at is not None and not include_deleted):
        raise NotFound(f"no run with id {run_id!r}")
    return row


def as_number(value: str) -> float | None:
    """A param's numeric reading, so that ``params.lr > 0.01`` compares numbers."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def load_runs(session: Session, rows: list[RunRow]) -> list[Run]:
    """Runs with their params, tags and metric summaries, in three queries for all of them."""
    ids = [r.id for r in rows]
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    metrics: dict[str, dict[str, MetricSummary]] = {i: {} for i in ids}
    if ids:  # columns, not ORM objects: a page of 100 runs holds thousands of these rows
        p, t, m = ParamRow, TagRow, MetricSeriesRow
        for run_id, key, value in session.execute(
            select(p.run_id, p.key, p.value).where(p.run_id.in_(ids))
        ):
            params[run_id][key] = value
        for run_id, key, value in session.execute(
            select(t.run_id, t.key, t.value).where(t.run_id.in_(ids))
        ):
            tags[run_id][key] = value
        summaries = select(
            m.run_id, m.key, m.last_value, m.min_value, m.max_value, m.last_step, m.count, m.last_ts
        ).where(m.run_id.in_(ids))
        for run_id, key, last, low, high, step, count, ts in session.execute(summaries):
            metrics[run_id][key] = MetricSummary(
                last=last, min=low, max=high, step=step, count=count, timestamp=ts
            )
    names = dict(
        session.execute(
            select(ExperimentRow.id, ExperimentRow.name).where(
                ExperimentRow.id.in_({r.experiment_id for r in rows})
            )
        ).all()
    )
    projects = dict(
        session.execute(
            select(ProjectRow.id, ProjectRow.name).where(
                ProjectRow.id.in_({r.project_id for r in rows})
            )
        ).all()
    )
    return [
        Run(
            id=r.id,
            project=projects[r.project_id],
            experiment=names[r.experiment_id],
            parent_id=r.parent_id,
            name=r.name,
            status=r.status,
            user=r.user,
            note=r.note,
            start_time=r.start_time,
            end_time=r.end_time,
            heartbeat_at=r.heartbeat_at,
            deleted=r.deleted_at is not None,
            params=params[r.id],
            tags=tags[r.id],
            metrics=metrics[r.id],
        )
        for r in rows
    ]


def write_params(session: Session, run: RunRow, params: dict[str, str]) -> None:
    """Add params; a key logged again must keep its value (params are immutable)."""
    if not params:
        return
    existing = {
        p.key: p.value
        for p in session.scalars(
            select(ParamRow).where(ParamRow.run_id == run.id, ParamRow.key.in_(list(params)))
        )
    }
    for key, value in params.items():
        if key in existing and existing[key] != value:
            raise Conflict(
                f"param {key!r} of run {run.id} is already {existing[key]!r}, not {value!r}: "
                "params do not change; log the new value under another key or start a new run"
            )
    session.add_all(
        ParamRow(run_id=run.id, key=k, value=v, value_num=as_number(v))
        for k, v in params.items()
        if k not in existing
    )


def write_tags(session: Session, run: RunRow, tags: dict[str, str]) -> None:
    """Set tags, replacing earlier values of the same keys."""
    for key, value in tags.items():
        session.merge(TagRow(run_id=run.id, key=key, value=value))


def _scope_ids(
    session: Session, projects: list[str], experiments: list[str], principal: Principal
) -> tuple[list[str], list[str]]:
    """The ids of the projects (each must exist) and of the experiments named (in any project).
    Without projects named: every project, or those ``principal`` may read."""
    project_ids = [find_project(session, name).id for name in projects]
    readable = principal.readable_projects()
    if not project_ids and readable is not None:
        project_ids = sorted(readable) or [NO_PROJECT]
    experiment_ids = (
        list(session.scalars(select(ExperimentRow.id).where(ExperimentRow.name.in_(experiments))))
        if experiments
        else []
    )
    return project_ids, experiment_ids


NO_PROJECT = ""
"""A project id no project has: the scope of a caller who may read no project."""


class RunService:
    """Runs: created inside an experiment (made on first use), then logged to and ended."""

    service_name = "runs"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation(
        "POST",
        "/runs",
        status=201,
        on=(
            Target("project", "body.project", creates=True),
            Target("run", "body.parent_id", optional=True),
        ),
    )
    def create(self, principal: Principal, body: RunCreate) -> Run:
        """Start a run (status ``running``) with its first params and tags."""

        def insert(session: Session) -> Run:
            project = (
                get_or_create_project(session, body.project, principal)
                if body.create_project
                else find_project(session, body.project)
            )
            experiment = get_or_create_experiment(session, project, body.experiment, principal)
            if body.parent_id is not None:
                parent = find_run(session, body.parent_id)
                if parent.project_id != project.id:
                    raise InvalidInput(
                        f"parent run {parent.id} belongs to another project than {project.name!r}"
                    )
            run_id = new_id()
            now = utcnow()
            row = RunRow(
                id=run_id,
                project_id=project.id,
                experiment_id=experiment.id,
                parent_id=body.parent_id,
                name=body.name or f"run-{run_id[-8:]}",
                status="running",
                user=principal.name,
                note=body.note,
                start_time=now,
                heartbeat_at=now,
            )
            session.add(row)
            session.flush()
            write_params(session, row, body.params)
            write_tags(session, row, body.tags)
            session.flush()
            return load_runs(session, [row])[0]

        return self.db.write(insert)

    # Declared before ``get`` so that its route is matched before /runs/{run_id}.
    @operation("GET", "/runs/keys", on=Target("project", "query.projects", optional=True))
    def keys(self, principal: Principal, query: RunKeysQuery) -> RunKeys:
        """The sorted distinct param, metric and tag keys of the non-deleted runs of some
        projects and experiments (all of them by default): the columns a runs table can show."""

        def fetch(session: Session) -> RunKeys:
            project_ids, experiment_ids = _scope_ids(
                session, query.projects, query.experiments, principal
            )
            if query.experiments and not experiment_ids:
                return RunKeys(params=[], metrics=[], tags=[])
            return run_keys(session, run_scope(project_ids, experiment_ids))

        return self.db.query(fetch)

    # Declared before ``get`` so that its route is matched before /runs/{run_id}.
    @operation("GET", "/runs/resolve", on=LISTING)
    def resolve(self, principal: Principal, query: IdPrefixQuery) -> IdMatches:
        """The runs (deleted ones too) whose id starts with a prefix, oldest first: how the
        CLI accepts a short id, as git accepts a short commit hash."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> IdMatches:
            stmt = (
                select(RunRow.id, RunRow.name, RunRow.status, RunRow.deleted_at, ProjectRow.name)
                .join(ProjectRow, ProjectRow.id == RunRow.project_id)
                .where(id_starts_with(RunRow.id, query.prefix))
                .order_by(RunRow.id)
                .limit(query.limit + 1)
            )
            if readable is not None:
                stmt = stmt.where(RunRow.project_id.in_(readable))
            rows = session.execute(stmt).all()
            items = [
                IdMatch(
                    id=run_id,
                    label=f"run {name} in {project}, {status}" + (", deleted" if deleted else ""),
                )
                for run_id, name, status, deleted, project in rows[: query.limit]
            ]
            return IdMatches(items=items, more=len(rows) > query.limit)

        return self.db.query(fetch)

    @operation("GET", "/runs/{run_id}", on=Target("run", "run_id"))
    def get(self, principal: Principal, run_id: str) -> Run:
        """A run with its params, tags and the latest, min and max of each metric."""
        return self.db.query(lambda s: load_runs(s, [find_run(s, run_id, include_deleted=True)])[0])

    @operation("PATCH", "/runs/{run_id}", on=Target("run", "run_id"))
    def update(self, principal: Principal, run_id: str, body: RunUpdate) -> Run:
        """Rename a run, change its note, or end it with a final status."""

        def change(session: Session) -> Run:
            row = find_run(session, run_id)
            if body.name is not None:
                row.name = body.name
            if body.note is not None:
                row.note = body.note
            if body.status is not None and body.status != row.status:
                if row.status in FINAL_STATUSES and body.status == "running":
                    raise Conflict(f"run {run_id} has ended ({row.status}); start a new run")
                row.status = body.status
                row.end_time = utcnow() if body.status in FINAL_STATUSES else None
            session.flush()
            return load_runs(session, [row])[0]

        return self.db.write(change)

    @operation("POST", "/runs/{run_id}/params", status=204, on=Target("run", "run_id"))
    def log_params(self, principal: Principal, run_id: str, body: ParamsLog) -> None:
        """Log params; logging a key again with another value is a conflict."""
        self.db.write(lambda s: write_params(s, find_run(s, run_id), body.params))

    @operation("POST", "/runs/{run_id}/tags", status=204, on=Target("run", "run_id"))
    def set_tags(self, principal: Principal, run_id: str, body: TagsSet) -> None:
        """Set tags (a key set again takes the new value)."""
        self.db.write(lambda s: write_tags(s, find_run(s, run_id), body.tags))

    @operation(
        "POST", "/runs/{run_id}/heartbeat", status=204, on=Target("run", "run_id"), audit=False
    )
    def heartbeat(self, principal: Principal, run_id: str) -> None:
        """Say the run's process is alive (a run silent too long is marked failed)."""

        def beat(session: Session) -> None:
            find_run(session, run_id).heartbeat_at = utcnow()

        self.db.write(beat)

    @operation("DELETE", "/runs/{run_id}", on=Target("run", "run_id"))
    def delete(self, principal: Principal, run_id: str) -> Run:
        """Move a run to the bin; it can be restored until it is purged."""

        def remove(session: Session) -> Run:
            row = find_run(session, run_id)
            row.deleted_at = utcnow()
            session.flush()
            return load_runs(session, [row])[0]

        return self.db.write(remove)

    @operation("POST", "/runs/reap", on=SERVER, role=Role.ADMIN, audit=False)
    def reap(self, principal: Principal, body: ReapRequest) -> Reaped:
        """Mark runs whose process stopped sending heartbeats as failed."""
        cutoff = utcnow() - dt.timedelta(seconds=body.timeout_seconds)

        def mark(session: Session) -> Reaped:
            stale = RunRow.status == "running", RunRow.heartbeat_at < cutoff
            ids = list(session.scalars(select(RunRow.id).where(*stale)))
            if ids:
                session.execute(
                    update(RunRow)
                    .where(RunRow.id.in_(ids), *stale)
                    .values(status="failed", end_time=RunRow.heartbeat_at)
                )
            return Reaped(failed=ids)

        return self.db.write(mark)

    @operation(
        "POST", "/runs/{run_id}/purge", status=204, on=Target("run", "run_id"), role=Role.OWNER
    )
    def purge(self, principal: Principal, run_id: str) -> None:
        """Erase a deleted run and its child runs for good; ``gc`` then frees their blobs."""

        def erase(session: Session) -> None:
            row = find_run(session, run_id, include_deleted=True)
            if row.deleted_at is None:
                raise Conflict(f"run {run_id} is not deleted; delete it before purging it")
            doomed, frontier = [row.id], [row.id]
            while frontier:
                frontier = list(
                    session.scalars(select(RunRow.id).where(RunRow.parent_id.in_(frontier)))
                )
                doomed.extend(frontier)
            for doomed_id in doomed:
                blobrefs.drop_refs(session, "run", doomed_id)
            session.delete(row)

        self.db.write(erase)

    @operation("POST", "/runs/{run_id}/restore", on=Target("run", "run_id"))
    def restore(self, principal: Principal, run_id: str) -> Run:
        """Bring a deleted run back."""

        def undelete(session: Session) -> Run:
            row = find_run(session, run_id, include_deleted=True)
            row.deleted_at = None
            session.flush()
            return load_runs(session, [row])[0]

        return self.db.write(undelete)

    @operation(
        "POST",
        "/runs/search",
        on=Target("project", "body.projects", optional=True),
        role=Role.VIEWER,
        audit=False,
    )
    def search(self, principal: Principal, body: RunSearch) -> RunPage:
        """Runs matching a query, in the requested order, a page at a time."""
        where: Expr | None = None
        order_by: list[OrderBy] = []
        if body.query.strip() or body.order_by.strip():
            # The parser loads lark: imported by the first search with a query or an order
            # (start-up time: a plain listing never needs it).
            from dockyard.tracking.query import parse_order_by, parse_query

            where = parse_query(body.query)
            order_by = parse_order_by(body.order_by)
        start = (
            Position.from_cursor(body.cursor) if body.offset is None else Position(0, body.offset)
        )

        def fetch(session: Session) -> RunPage:
            project_ids, experiment_ids = _scope_ids(
                session, body.projects, body.experiments, principal
            )
            if body.experiments and not experiment_ids:
                return RunPage(items=[], total=0 if body.count else None)
            ids, following = search_run_ids(
                session,
                where=where,
                order_by=order_by,
                project_ids=project_ids,
                experiment_ids=experiment_ids,
                include_deleted=body.include_deleted,
                start=start,
                limit=body.limit,
            )
            rows = {r.id: r for r in session.scalars(select(RunRow).where(RunRow.id.in_(ids)))}
            runs = load_runs(session, [rows[i] for i in ids])
            total = None
            if body.count:
                total = count_runs(
                    session,
                    where=where,
                    project_ids=project_ids,
                    experiment_ids=experiment_ids,
                    include_deleted=body.include_deleted,
                )
            return RunPage(
                items=runs, next_cursor=following.cursor() if following else None, total=total
            )

        return self.db.query(fetch)
