"""Schedules: run a pipeline on a cron schedule (UTC) or when a dataset gets a new version.

The service only keeps records and hands out firings; schedulers (``dockyard scheduler``,
or the thread inside ``dockyard server``) poll :meth:`ScheduleService.claim` and run what
they were given. Claiming is a compare-and-set in the database: a cron firing moves
``next_fire_at`` from the value the scheduler read to the next slot, a trigger moves
``last_seen_version`` from the value read to the newest accepted version, and only the
scheduler whose ``UPDATE`` matched the row fires. Two schedulers never fire the same slot
or version, on SQLite or PostgreSQL; a scheduler that dies after claiming loses that firing
(at most once). The next slot is computed from *now*, so a window missed while no
scheduler ran fires once, not once per missed slot.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.core.operations import SERVER, Target, operation
from dockyard.core.principal import Principal, Role
from dockyard.data.versions import accepted, find_dataset
from dockyard.pipelines.references import pipeline_reference
from dockyard.pipelines.schedule_schemas import (
    ClaimRequest,
    Firing,
    FiringOutcome,
    Schedule,
    ScheduleCreate,
    ScheduleQuery,
    next_fire_time,
)
from dockyard.projects.service import find_project
from dockyard.store.db import Database
from dockyard.store.tables import (
    DatasetRow,
    DatasetVersionRow,
    PipelineScheduleRow,
    ProjectRow,
    utcnow,
)

Schedules = list[Schedule]
Firings = list[Firing]


def _to_schedule(session: Session, row: PipelineScheduleRow) -> Schedule:
    project = session.get(ProjectRow, row.project_id)
    return Schedule(
        id=row.id,
        project=project.name if project else "",
        name=row.name,
        pipeline=row.pipeline,
        params=json.loads(row.params),
        executor=row.executor,
        cron=row.cron,
        dataset=row.dataset,
        dataset_param=row.dataset_param,
        enabled=row.enabled,
        next_fire_at=row.next_fire_at,
        last_seen_version=row.last_seen_version,
        last_fired_at=row.last_fired_at,
        last_run_id=row.last_run_id,
        last_status=row.last_status,
        last_error=row.last_error,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def find_schedule(session: Session, project: str, name: str) -> PipelineScheduleRow:
    project_row = find_project(session, project)
    row = session.scalar(
        select(PipelineScheduleRow).where(
            PipelineScheduleRow.project_id == project_row.id, PipelineScheduleRow.name == name
        )
    )
    if row is None:
        raise NotFound(
            f"project {project!r} has no schedule {name!r}; "
            f"`dockyard pipelines schedule list -p {project}` shows its schedules"
        )
    return row


def fire_now(session: Session, project: str, name: str) -> dt.datetime | None:
    """Make a schedule due now (a monitor's retraining action): the next scheduler poll
    claims and runs it once, as it would a cron slot. Returns when it became due, or None
    for a dataset trigger that already ran on its newest accepted version (retraining on
    the same data again would make the same model)."""
    row = find_schedule(session, project, name)
    if not row.enabled:
        raise Conflict(
            f"schedule {project}/{name} is disabled; enable it "
            f"(`dockyard pipelines schedule enable -p {project} {name}`) to let it fire"
        )
    if row.dataset is not None:
        newest = _newest_accepted_version(session, row.project_id, row.dataset)
        if newest is None or newest <= (row.last_seen_version or 0):
            return None
    now = utcnow()
    if row.next_fire_at is None or row.next_fire_at > now:
        row.next_fire_at = now
        row.updated_at = now
    return row.next_fire_at


def _newest_version(session: Session, project_id: str, dataset: str) -> int:
    """The highest version number of a dataset (0 if it has none or does not exist)."""
    found = session.scalar(
        select(func.max(DatasetVersionRow.number))
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .where(DatasetRow.project_id == project_id, DatasetRow.name == dataset)
    )
    return int(found or 0)


def _newest_accepted_version(session: Session, project_id: str, dataset: str) -> int | None:
    found = session.scalar(
        select(func.max(DatasetVersionRow.number))
        .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
        .where(DatasetRow.project_id == project_id, DatasetRow.name == dataset, accepted())
    )
    return int(found) if found is not None else None


def _new_accepted_versions(session: Session, row: PipelineScheduleRow) -> list[int]:
    return list(
        session.scalars(
            select(DatasetVersionRow.number)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(
                DatasetRow.project_id == row.project_id,
                DatasetRow.name == row.dataset,
                DatasetVersionRow.number > (row.last_seen_version or 0),
                accepted(),
            )
            .order_by(DatasetVersionRow.number)
        )
    )


def _compare_and_set(
    session: Session, row: PipelineScheduleRow, expected: ColumnElement[bool], **values: Any
) -> bool:
    """Update ``row`` only if it is enabled and ``expected`` still holds; whether it did."""
    result = session.execute(
        update(PipelineScheduleRow)
        .where(PipelineScheduleRow.id == row.id, PipelineScheduleRow.enabled.is_(True), expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    won = cast(CursorResult[Any], result).rowcount == 1
    if won:
        session.refresh(row)
    return won


class ScheduleService:
    """Cron schedules and dataset triggers of pipelines, and the claiming of their firings."""

    service_name = "schedules"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation(
        "POST",
        "/pipelines/schedules",
        status=201,
        on=Target("project", "body.project"),
        role=Role.ADMIN,
    )
    def create(self, principal: Principal, body: ScheduleCreate) -> Schedule:
        """Create a schedule. Only the pipeline reference's form is checked here (nothing is
        imported or looked up on disk): the scheduler imports the pipeline when the schedule
        fires and records on the schedule why it could not. A dataset trigger fires only for
        versions added after it was created."""
        import_path = pipeline_reference(body.pipeline)
        try:
            params = json.dumps(body.params, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"params must be JSON values: {exc}") from None

        def insert(session: Session) -> Schedule:
            project = find_project(session, body.project)
            taken = select(PipelineScheduleRow.id).where(
                PipelineScheduleRow.project_id == project.id,
                PipelineScheduleRow.name == body.name,
            )
            if session.scalar(taken) is not None:
                raise Conflict(
                    f"project {body.project!r} already has a schedule {body.name!r}; "
                    "delete it first or choose another name"
                )
            now = utcnow()
            row = PipelineScheduleRow(
                id=new_id(),
                project_id=project.id,
                name=body.name,
                pipeline=import_path,
                params=params,
                executor=body.executor,
                cron=body.cron,
                dataset=body.dataset,
                dataset_param=body.dataset_param,
                enabled=body.enabled,
                next_fire_at=next_fire_time(body.cron, now) if body.cron else None,
                last_seen_version=None,
                last_fired_at=None,
                last_run_id=None,
                last_status=None,
                last_error="",
                created_by=principal.name,
                created_at=now,
                updated_at=now,
            )
            if body.dataset is not None:
                find_dataset(session, body.project, body.dataset)  # NotFound names the fix
                row.last_seen_version = _newest_version(session, project.id, body.dataset)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:  # created by someone else meanwhile
                raise Conflict(
                    f"project {body.project!r} already has a schedule {body.name!r}"
                ) from None
            return _to_schedule(session, row)

        return self.db.write(insert)

    @operation("GET", "/pipelines/schedules", on=Target("project", "query.project", optional=True))
    def list(self, principal: Principal, query: ScheduleQuery) -> Schedules:
        """Schedules (of one project, or all) by project and name, with their state."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> Schedules:
            stmt = select(PipelineScheduleRow).join(
                ProjectRow, ProjectRow.id == PipelineScheduleRow.project_id
            )
            if readable is not None:
                stmt = stmt.where(PipelineScheduleRow.project_id.in_(readable))
            if query.project:
                stmt = stmt.where(
                    PipelineScheduleRow.project_id == find_project(session, query.project).id
                )
            rows = session.scalars(
                stmt.order_by(ProjectRow.name, PipelineScheduleRow.name).limit(query.limit)
            )
            return [_to_schedule(session, r) for r in rows]

        return self.db.query(fetch)

    @operation("GET", "/pipelines/schedules/{project}/{name}")
    def get(self, principal: Principal, project: str, name: str) -> Schedule:
        """A schedule with its last and next firing."""
        return self.db.query(lambda s: _to_schedule(s, find_schedule(s, project, name)))

    @operation("DELETE", "/pipelines/schedules/{project}/{name}", status=204, role=Role.MAINTAINER)
    def delete(self, principal: Principal, project: str, name: str) -> None:
        """Delete a schedule (the runs it started stay)."""
        self.db.write(lambda s: s.delete(find_schedule(s, project, name)))

    @operation("POST", "/pipelines/schedules/{project}/{name}/enable", role=Role.MAINTAINER)
    def enable(self, principal: Principal, project: str, name: str) -> Schedule:
        """Let a schedule fire again: a cron schedule from its next slot after now, a trigger
        for versions added from now on (what passed while it was disabled does not fire)."""

        def change(session: Session) -> Schedule:
            row = find_schedule(session, project, name)
            if not row.enabled:
                now = utcnow()
                row.enabled = True
                row.updated_at = now
                if row.cron is not None:
                    row.next_fire_at = next_fire_time(row.cron, now)
                if row.dataset is not None:
                    row.last_seen_version = max(
                        row.last_seen_version or 0,
                        _newest_version(session, row.project_id, row.dataset),
                    )
            return _to_schedule(session, row)

        return self.db.write(change)

    @operation("POST", "/pipelines/schedules/{project}/{name}/disable", role=Role.MAINTAINER)
    def disable(self, principal: Principal, project: str, name: str) -> Schedule:
        """Stop a schedule from firing (a run already started goes on)."""

        def change(session: Session) -> Schedule:
            row = find_schedule(session, project, name)
            if row.enabled:
                row.enabled = False
                row.updated_at = utcnow()
            return _to_schedule(session, row)

        return self.db.write(change)

    @operation("POST", "/pipelines/schedules/claim", on=SERVER, role=Role.ADMIN, audit=False)
    def claim(self, principal: Principal, body: ClaimRequest) -> Firings:
        """Claim the due firings of up to ``limit`` schedules (not those in ``skip``): the
        caller, and no other scheduler, must run them and report with :meth:`record`.

        A cron schedule gives one firing however many slots were missed; a dataset trigger
        one firing per accepted version added since it last fired.
        """

        def take(session: Session) -> Firings:
            now = utcnow()
            base = select(PipelineScheduleRow).where(PipelineScheduleRow.enabled.is_(True))
            if body.skip:
                base = base.where(PipelineScheduleRow.id.not_in(body.skip))
            if body.project:
                base = base.where(
                    PipelineScheduleRow.project_id == find_project(session, body.project).id
                )
            firings: Firings = []
            claimed = 0
            due = base.where(PipelineScheduleRow.next_fire_at <= now).order_by(
                PipelineScheduleRow.next_fire_at, PipelineScheduleRow.id
            )
            for row in session.scalars(due).all():
                if claimed >= body.limit:
                    return firings
                # a dataset trigger fired on request (a monitor's retraining) runs on its
                # newest accepted version, which then counts as seen: the trigger does not
                # fire for it a second time
                newest = (
                    _newest_accepted_version(session, row.project_id, row.dataset)
                    if row.dataset is not None
                    else None
                )
                marked = (
                    {"last_seen_version": max(newest, row.last_seen_version or 0)}
                    if newest is not None
                    else {}
                )
                won = _compare_and_set(
                    session,
                    row,
                    PipelineScheduleRow.next_fire_at == row.next_fire_at,
                    next_fire_at=next_fire_time(row.cron, now) if row.cron else None,
                    last_fired_at=now,
                    last_status="running",
                    last_error="",
                    **marked,
                )
                if won:
                    claimed += 1
                    if row.cron:
                        firings.append(_firing(session, row, now, "cron", {}))
                        continue
                    assert row.dataset is not None
                    ref = f"{row.dataset}@{newest or 'latest'}"
                    firings.append(
                        _firing(session, row, now, "requested", {row.dataset_param: ref})
                    )
            triggers = base.where(PipelineScheduleRow.dataset.is_not(None)).order_by(
                PipelineScheduleRow.id
            )
            for row in session.scalars(triggers).all():
                if claimed >= body.limit:
                    break
                seen = row.last_seen_version
                numbers = _new_accepted_versions(session, row)
                if not numbers:
                    continue
                won = _compare_and_set(
                    session,
                    row,
                    PipelineScheduleRow.last_seen_version == seen,
                    last_seen_version=numbers[-1],
                    last_fired_at=now,
                    last_status="running",
                    last_error="",
                )
                if won:
                    claimed += 1
                    for number in numbers:
                        ref = f"{row.dataset}@{number}"
                        firings.append(_firing(session, row, now, ref, {row.dataset_param: ref}))
            return firings

        return self.db.write(take)

    @operation(
        "PUT",
        "/pipelines/schedule-firings/{schedule_id}",
        status=204,
        on=SERVER,
        role=Role.ADMIN,
        audit=False,
    )
    def record(self, principal: Principal, schedule_id: str, body: FiringOutcome) -> None:
        """Record the run a claimed firing started and how it ended (ignored when the
        schedule has fired again since, or was deleted)."""
        self.db.write(
            lambda s: s.execute(
                update(PipelineScheduleRow)
                .where(
                    PipelineScheduleRow.id == schedule_id,
                    PipelineScheduleRow.last_fired_at == body.fired_at,
                )
                .values(
                    last_run_id=body.run_id,
                    last_status=body.status,
                    last_error=body.error,
                )
                .execution_options(synchronize_session=False)
            )
        )


def _firing(
    session: Session, row: PipelineScheduleRow, now: Any, reason: str, extra: dict[str, Any]
) -> Firing:
    schedule = _to_schedule(session, row)
    return Firing(
        schedule=schedule, fired_at=now, reason=reason, params={**schedule.params, **extra}
    )
