"""The audit log: every call of an audited operation through a server (who, when, what,
which objects, from where, how it ended), every refusal of any operation, and every sign-in.

A server records each event after the call, in its own short write; an embedded session
(the operating-system user on their own files) records nothing. What a call named is kept
as its path parameters and the objects its declaration points at (never a request body: a
password or a secret never reaches the log). A project's owners read its events; the admin
reads all, including those that belong to no project (accounts, sign-ins, the server's own
operations).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.access.check import Access, values_at
from dockyard.access.schemas import AuditEvent, AuditPage, AuditQuery
from dockyard.core.errors import Forbidden
from dockyard.core.ids import new_id
from dockyard.core.operations import LISTING, PUBLIC, Operation, operation
from dockyard.core.principal import Principal, Role
from dockyard.projects.service import find_project
from dockyard.store.db import Database
from dockyard.store.tables import AuditEventRow, ProjectRow, utcnow

log = logging.getLogger("dockyard.audit")
_DETAIL = 500
"""At most this many characters of an error's message are kept."""
_VALUES = 20
"""At most this many values of one target are kept."""


def _target(op: Operation, arguments: dict[str, Any]) -> dict[str, Any]:
    """The names and ids the call named: its path parameters, then what its declared
    targets point at (lists cut short)."""
    found: dict[str, Any] = {
        name: str(arguments[name]) for name, _ in op.path_params if arguments.get(name)
    }
    if not isinstance(op.on, str):
        for target in op.on:
            if target.at in found:
                continue
            values = values_at(arguments, target.at)
            if values:
                found[target.at] = values[0] if len(values) == 1 else values[:_VALUES]
    return found


class Auditor:
    """Writes audit events (see the module's doc); never fails the call it records."""

    def __init__(self, db: Database, access: Access) -> None:
        self.db = db
        self.access = access

    def record(
        self,
        principal: Principal,
        op: Operation,
        arguments: dict[str, Any],
        *,
        status: int,
        detail: str = "",
        address: str = "",
    ) -> None:
        actor, kind = principal.name, principal.kind
        if op.on == PUBLIC:  # signing in: the account it names
            named = getattr(arguments.get("body"), "user", None)
            actor, kind = (str(named), "user") if named else (actor, kind)
        try:
            project_id, project = self._project(op, arguments)
        except Exception:
            log.exception("could not tell the project of the audit event of %s", op.key)
            project_id, project = None, None
        self.event(
            actor,
            kind,
            op.key,
            _target(op, arguments),
            status=status,
            detail=detail,
            address=address,
            user_id=principal.user_id,
            project=(project_id, project),
        )

    def event(
        self,
        actor: str,
        kind: str,
        operation_key: str,
        target: dict[str, Any],
        *,
        status: int,
        detail: str = "",
        address: str = "",
        user_id: str | None = None,
        project: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """Write one event that is not a call of an operation (e.g. a single sign-on)."""
        outcome = "ok" if status < 400 else "denied" if status in (401, 403) else "failed"
        try:
            row = AuditEventRow(
                id=new_id(),
                at=utcnow(),
                actor=actor[:128],
                actor_kind=kind[:16],
                user_id=user_id,
                operation=operation_key,
                project_id=project[0],
                project=project[1],
                target=json.dumps(target, default=str)[:4000],
                address=address[:64],
                status=status,
                outcome=outcome,
                detail=detail[:_DETAIL],
            )
            self.db.write(lambda s: s.add(row))
        except Exception:  # the call happened; a lost event is logged, never raised
            log.exception("could not write the audit event of %s by %s", operation_key, actor)

    def _project(self, op: Operation, arguments: dict[str, Any]) -> tuple[str | None, str | None]:
        """The project of the call's first target that names one (its name as given when it
        no longer exists, e.g. after a deletion)."""
        if isinstance(op.on, str):
            return None, None
        for target in op.on:
            for ref in values_at(arguments, target.at)[:1]:
                project_id = self.access.project_of(target.kind, ref)
                if project_id is not None:
                    named = select(ProjectRow.name).where(ProjectRow.id == project_id)
                    rows = self.db.rows(named, {})
                    return project_id, rows[0][0] if rows else None
                if target.kind == "project":
                    return None, ref
        return None, None


def _event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        actor_kind=row.actor_kind,
        operation=row.operation,
        project=row.project,
        target=orjson.loads(row.target) if row.target else {},
        address=row.address,
        status=row.status,
        outcome=row.outcome,
        detail=row.detail,
    )


class AuditService:
    """Reads the audit log."""

    service_name = "audit"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation("GET", "/audit", on=LISTING)
    def list(self, principal: Principal, query: AuditQuery) -> AuditPage:
        """Audit events, newest first: of one project (its owners), or all (the admin; an
        owner sees the events of the projects they own)."""

        def fetch(session: Session) -> AuditPage:
            stmt = select(AuditEventRow).order_by(AuditEventRow.id.desc())
            if query.project is not None:
                row = find_project(session, query.project) if principal.is_admin else None
                if row is None:
                    row = session.scalar(select(ProjectRow).where(ProjectRow.name == query.project))
                    held = principal.role_in(row.id) if row is not None else None
                    if row is None or held is None or not held.allows(Role.OWNER):
                        raise Forbidden(
                            f"the audit log of project {query.project!r} is for its owners "
                            f"and the admin, and {principal.name!r} is not one (or there is "
                            "no such project)"
                        )
                stmt = stmt.where(AuditEventRow.project_id == row.id)
            elif not principal.is_admin:
                owned = [p for p, r in principal.grants.items() if r.allows(Role.OWNER)]
                if principal.role is not None and principal.role.allows(Role.OWNER):
                    stmt = stmt.where(AuditEventRow.project_id.is_not(None))
                else:
                    stmt = stmt.where(AuditEventRow.project_id.in_(owned))
            if query.actor:
                stmt = stmt.where(AuditEventRow.actor == query.actor)
            if query.operation:
                if "." in query.operation:
                    stmt = stmt.where(AuditEventRow.operation == query.operation)
                else:
                    stmt = stmt.where(AuditEventRow.operation.startswith(query.operation + "."))
            if query.outcome:
                stmt = stmt.where(AuditEventRow.outcome == query.outcome)
            if query.since:
                stmt = stmt.where(AuditEventRow.at >= query.since)
            if query.until:
                stmt = stmt.where(AuditEventRow.at < query.until)
            if query.cursor:
                stmt = stmt.where(AuditEventRow.id < query.cursor)
            rows = list(session.scalars(stmt.limit(query.limit + 1)))
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            return AuditPage(
                items=[_event(r) for r in rows], next_cursor=rows[-1].id if more else None
            )

        return self.db.query(fetch)
