"""The project service: create, list, get, rename and delete projects."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, Forbidden, NotFound
from dockyard.core.ids import is_id, new_id
from dockyard.core.operations import LISTING, Target, operation
from dockyard.core.principal import Principal, Role
from dockyard.core.schemas import Page, decode_cursor, encode_cursor
from dockyard.projects.schemas import Project, ProjectCreate, ProjectQuery, ProjectUpdate
from dockyard.store.db import Database
from dockyard.store.tables import (
    BlobRefRow,
    ProjectGrantRow,
    ProjectRow,
    StepCacheRow,
    utcnow,
)


def _to_model(row: ProjectRow) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def find_project(session: Session, ref: str) -> ProjectRow:
    """The project named ``ref`` (or with id ``ref``); raises NotFound."""
    row = session.scalar(select(ProjectRow).where(ProjectRow.name == ref))
    if row is None and is_id(ref):
        row = session.get(ProjectRow, ref)
    if row is None:
        raise NotFound(f"no project named {ref!r}; `dockyard projects list` shows the projects")
    return row


def _new_row(name: str, description: str, principal: Principal) -> ProjectRow:
    now = utcnow()
    return ProjectRow(
        id=new_id(),
        name=name,
        description=description,
        created_by=principal.name,
        created_at=now,
        updated_at=now,
    )


def _own(session: Session, row: ProjectRow, principal: Principal) -> None:
    """Make the user who created a project its owner (a server token or an embedded session
    has no account: the server's admin manages those projects' grants)."""
    if principal.user_id is not None:
        session.add(
            ProjectGrantRow(
                project_id=row.id,
                subject_kind="user",
                subject_id=principal.user_id,
                role="owner",
                granted_by=principal.name,
                granted_at=row.created_at,
            )
        )


def get_or_create_project(session: Session, name: str, principal: Principal) -> ProjectRow:
    """The project named ``name``, created on first use (safe under concurrent writers; the
    creator owns it)."""
    found = session.scalar(select(ProjectRow).where(ProjectRow.name == name))
    if found is not None:
        return found
    if not principal.may_create_projects:
        raise Forbidden(
            f"there is no project {name!r}, and {principal.name!r} may not create one (a token "
            "limited to a project): create it first, or use a token that is not limited"
        )
    row = _new_row(name, "", principal)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
            _own(session, row, principal)
    except IntegrityError:  # another writer created it first
        return find_project(session, name)
    return row


class ProjectService:
    """Projects group experiments, datasets and models; names are unique."""

    service_name = "projects"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation("POST", "/projects", status=201, on=Target("project", "body.name", creates=True))
    def create(self, principal: Principal, body: ProjectCreate) -> Project:
        """Create a project."""

        def insert(session: Session) -> Project:
            row = _new_row(body.name, body.description, principal)
            session.add(row)
            session.flush()
            _own(session, row, principal)
            return _to_model(row)

        try:
            return self.db.write(insert)
        except IntegrityError:
            raise Conflict(
                f"a project named {body.name!r} already exists; pick another name"
            ) from None

    @operation("GET", "/projects", on=LISTING)
    def list(self, principal: Principal, query: ProjectQuery) -> Page[Project]:
        """List projects by name, a page at a time."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> Page[Project]:
            stmt = select(ProjectRow).order_by(ProjectRow.name).limit(query.limit + 1)
            if readable is not None:
                stmt = stmt.where(ProjectRow.id.in_(readable))
            if query.cursor:
                (after,) = decode_cursor(query.cursor, 1)
                stmt = stmt.where(ProjectRow.name > str(after))
            rows = list(session.scalars(stmt))
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            cursor = encode_cursor([rows[-1].name]) if more else None
            return Page[Project](items=[_to_model(r) for r in rows], next_cursor=cursor)

        return self.db.query(fetch)

    @operation("GET", "/projects/{project}")
    def get(self, principal: Principal, project: str) -> Project:
        """Get a project by name or id."""
        return self.db.query(lambda s: _to_model(find_project(s, project)))

    @operation("PATCH", "/projects/{project}", role=Role.MAINTAINER)
    def update(self, principal: Principal, project: str, body: ProjectUpdate) -> Project:
        """Rename a project or change its description."""

        def change(session: Session) -> Project:
            row = find_project(session, project)
            if body.name is not None:
                row.name = body.name
            if body.description is not None:
                row.description = body.description
            row.updated_at = utcnow()
            session.flush()
            return _to_model(row)

        try:
            return self.db.write(change)
        except IntegrityError:
            raise Conflict(
                f"cannot rename {project!r}: a project named {body.name!r} already exists"
            ) from None

    @operation("DELETE", "/projects/{project}", role=Role.OWNER)
    def delete(self, principal: Principal, project: str) -> Project:
        """Delete a project; returns what was deleted."""

        def remove(session: Session) -> Project:
            row = find_project(session, project)
            gone = _to_model(row)
            cached = select(StepCacheRow.key).where(StepCacheRow.project_id == row.id)
            session.execute(  # the step cache holds no foreign key: its rows go by hand
                delete(BlobRefRow).where(
                    BlobRefRow.owner_type == "step_cache", BlobRefRow.owner_id.in_(cached)
                )
            )
            session.execute(delete(StepCacheRow).where(StepCacheRow.project_id == row.id))
            session.execute(delete(ProjectRow).where(ProjectRow.id == row.id))
            return gone

        return self.db.write(remove)
