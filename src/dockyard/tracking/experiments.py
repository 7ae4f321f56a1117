"""The experiment service: named groups of runs inside a project."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, NotFound
from dockyard.core.ids import new_id
from dockyard.core.operations import Target, operation
from dockyard.core.principal import Principal, Role
from dockyard.core.schemas import valid_name
from dockyard.projects.service import find_project
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.tables import ExperimentRow, ProjectRow, RunRow, utcnow
from dockyard.tracking.schemas import Experiment, ExperimentCreate


def to_experiment(
    row: ExperimentRow, project: str, runs: tuple[int, dt.datetime | None] = (0, None)
) -> Experiment:
    """The response model of ``row``; ``runs``: its run count and latest start."""
    return Experiment(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        deleted=row.deleted_at is not None,
        run_count=runs[0],
        last_run_at=runs[1],
    )


def run_counts(
    session: Session, project: ProjectRow, experiment_ids: list[str] | None = None
) -> dict[str, tuple[int, dt.datetime | None]]:
    """Per experiment of ``project`` (or only of ``experiment_ids``): how many of its runs are
    not deleted and when the latest of them started, in one grouped query."""
    stmt = (
        select(RunRow.experiment_id, func.count(), func.max(RunRow.start_time))
        .where(RunRow.project_id == project.id, RunRow.deleted_at.is_(None))
        .group_by(RunRow.experiment_id)
    )
    if experiment_ids is not None:
        stmt = stmt.where(RunRow.experiment_id.in_(experiment_ids))
    return {experiment: (count, last) for experiment, count, last in session.execute(stmt)}


def find_experiment(session: Session, project: ProjectRow, name: str) -> ExperimentRow:
    row = session.scalar(
        select(ExperimentRow).where(
            ExperimentRow.project_id == project.id, ExperimentRow.name == name
        )
    )
    if row is None:
        raise NotFound(f"project {project.name!r} has no experiment named {name!r}")
    return row


def _new_row(
    project: ProjectRow, name: str, description: str, principal: Principal
) -> ExperimentRow:
    valid_name(name, "experiment name")  # made here by run creation as well as create
    return ExperimentRow(
        id=new_id(),
        project_id=project.id,
        name=name,
        description=description,
        created_by=principal.name,
        created_at=utcnow(),
    )


def get_or_create_experiment(
    session: Session, project: ProjectRow, name: str, principal: Principal
) -> ExperimentRow:
    """The experiment named ``name``, created on first use (safe under concurrent writers)."""
    found = session.scalar(
        select(ExperimentRow).where(
            ExperimentRow.project_id == project.id, ExperimentRow.name == name
        )
    )
    if found is not None:
        if found.deleted_at is not None:
            raise Conflict(
                f"experiment {name!r} of project {project.name!r} is deleted; restore it "
                "(`experiments.restore`) or use another name"
            )
        return found
    row = _new_row(project, name, "", principal)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another writer created it first
        return find_experiment(session, project, name)
    return row


class ExperimentService:
    """Experiments group the runs of one question inside a project."""

    service_name = "experiments"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation(
        "POST", "/experiments", status=201, on=Target("project", "body.project", creates=True)
    )
    def create(self, principal: Principal, body: ExperimentCreate) -> Experiment:
        """Create an experiment in a project."""

        def insert(session: Session) -> Experiment:
            project = find_project(session, body.project)
            row = _new_row(project, body.name, body.description, principal)
            session.add(row)
            session.flush()
            return to_experiment(row, project.name)

        try:
            return self.db.write(insert)
        except IntegrityError:
            raise Conflict(
                f"project {body.project!r} already has an experiment named {body.name!r}"
            ) from None

    @operation("GET", "/projects/{project}/experiments")
    def list(self, principal: Principal, project: str) -> list[Experiment]:
        """The experiments of a project, by name, with how many runs each has and when the
        latest started."""

        def fetch(session: Session) -> list[Experiment]:
            found = find_project(session, project)
            rows = session.scalars(
                select(ExperimentRow)
                .where(ExperimentRow.project_id == found.id)
                .order_by(ExperimentRow.name)
            )
            counts = run_counts(session, found)
            return [to_experiment(r, found.name, counts.get(r.id, (0, None))) for r in rows]

        return self.db.query(fetch)

    @operation("GET", "/projects/{project}/experiments/{experiment}")
    def get(self, principal: Principal, project: str, experiment: str) -> Experiment:
        """One experiment by project and name."""

        def fetch(session: Session) -> Experiment:
            found = find_project(session, project)
            row = find_experiment(session, found, experiment)
            counts = run_counts(session, found, [row.id])
            return to_experiment(row, found.name, counts.get(row.id, (0, None)))

        return self.db.query(fetch)

    def _set_deleted(self, project: str, experiment: str, deleted: bool) -> Experiment:
        def change(session: Session) -> Experiment:
            found = find_project(session, project)
            row = find_experiment(session, found, experiment)
            row.deleted_at = utcnow() if deleted else None
            session.flush()
            counts = run_counts(session, found, [row.id])
            return to_experiment(row, found.name, counts.get(row.id, (0, None)))

        return self.db.write(change)

    @operation("DELETE", "/projects/{project}/experiments/{experiment}")
    def delete(self, principal: Principal, project: str, experiment: str) -> Experiment:
        """Move an experiment and its runs to the bin (``restore`` brings them back)."""
        return self._set_deleted(project, experiment, True)

    @operation("POST", "/projects/{project}/experiments/{experiment}/restore")
    def restore(self, principal: Principal, project: str, experiment: str) -> Experiment:
        """Bring a deleted experiment and its runs back."""
        return self._set_deleted(project, experiment, False)

    @operation(
        "POST", "/projects/{project}/experiments/{experiment}/purge", status=204, role=Role.OWNER
    )
    def purge(self, principal: Principal, project: str, experiment: str) -> None:
        """Erase a deleted experiment and all its runs; ``gc`` then frees their blobs."""

        def erase(session: Session) -> None:
            row = find_experiment(session, find_project(session, project), experiment)
            if row.deleted_at is None:
                raise Conflict(f"experiment {experiment!r} is not deleted; delete it first")
            for run_id in session.scalars(select(RunRow.id).where(RunRow.experiment_id == row.id)):
                blobrefs.drop_refs(session, "run", run_id)
            session.delete(row)

        self.db.write(erase)
