"""The one check of every operation, for both transports: does the caller hold the role the
operation declares in the project of each object it names?

An operation says where its project is (:class:`dockyard.core.operations.Target`): the
project named in the path, the project of a run, a model, a pipeline run, a schedule or a
monitor's alert. The check looks each one up (runs and pipeline runs never change project,
so those are remembered), and refuses with 403 when the role is short. A caller who holds no
role in a project gets the same refusal whether or not the object exists, so refusals tell
nothing about other projects. The admin (and an embedded session) passes without a lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Select, case, select

from dockyard.core.errors import Forbidden
from dockyard.core.ids import is_id
from dockyard.core.operations import ANYWHERE, LISTING, PUBLIC, SERVER, Operation, Target
from dockyard.core.principal import Principal, Role, denied
from dockyard.store.db import Database
from dockyard.store.tables import (
    MonitorAlertRow,
    MonitorRow,
    PipelineRunRow,
    PipelineScheduleRow,
    ProjectRow,
    RegisteredModelRow,
    RunRow,
)

_REMEMBERED = 50_000
"""How many run -> project answers are kept (a run never moves to another project)."""


def _project(ref: str) -> Select[Any]:
    by_name = ProjectRow.name == ref
    found = select(ProjectRow.id).where(by_name | (ProjectRow.id == ref) if is_id(ref) else by_name)
    return found.order_by(case((by_name, 0), else_=1)).limit(1)


def _run(ref: str) -> Select[Any]:
    return select(RunRow.project_id).where(RunRow.id == ref)


def _model(ref: str) -> Select[Any]:
    return select(RegisteredModelRow.project_id).where(RegisteredModelRow.name == ref)


def _pipeline_run(ref: str) -> Select[Any]:
    return select(PipelineRunRow.project_id).where(PipelineRunRow.id == ref)


def _schedule(ref: str) -> Select[Any]:
    return select(PipelineScheduleRow.project_id).where(PipelineScheduleRow.id == ref)


def _alert(ref: str) -> Select[Any]:
    return (
        select(RegisteredModelRow.project_id)
        .join(MonitorRow, MonitorRow.model_id == RegisteredModelRow.id)
        .join(MonitorAlertRow, MonitorAlertRow.monitor_id == MonitorRow.id)
        .where(MonitorAlertRow.id == ref)
    )


RESOLVERS: dict[str, Callable[[str], Select[Any]]] = {
    "project": _project,
    "run": _run,
    "model": _model,
    "pipeline_run": _pipeline_run,
    "schedule": _schedule,
    "alert": _alert,
}
"""Each kind of target -> the query of the id of its project (no row: no such object; Core
queries on a pooled connection, a fraction of an ORM session's cost)."""
_IMMUTABLE = frozenset({"run", "pipeline_run"})


def values_at(arguments: dict[str, Any], at: str) -> list[str]:
    """The names or ids at ``at`` (``"run_id"``, ``"body.project"``, ``"body.models.name"``:
    a list on the way is followed item by item); absent or None gives []."""
    found: list[Any] = [arguments.get(at.split(".")[0])]
    for part in at.split(".")[1:]:
        found = [getattr(v, part, None) for v in _flat(found)]
    return [v for v in _flat(found) if isinstance(v, str) and v]


def _flat(values: list[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list | tuple):
            yield from value
        elif value is not None:
            yield value


def split_targets(op: Operation) -> tuple[tuple[Target, ...], tuple[Target, ...]]:
    """``op``'s targets found in the request's path and query string (checked before the
    body is read), and those inside its body."""
    if isinstance(op.on, str):
        return (), ()
    body = op.body[0] if op.body else None
    inside = tuple(t for t in op.on if t.at.split(".")[0] == body)
    return tuple(t for t in op.on if t not in inside), inside


def needs_lookup(principal: Principal, op: Operation, targets: tuple[Target, ...]) -> bool:
    """Whether checking ``targets`` may need the metadata (not for the admin, nor for a role
    held in every project that suffices)."""
    if principal.is_admin or not targets:
        return False
    held = principal.role
    return not (held is not None and all(held.allows(t.role or op.role) for t in targets))


def _where(target: Target, ref: str) -> str:
    if target.kind == "project":
        return f"project {ref!r}"
    return f"the project of {target.kind.replace('_', ' ')} {ref!r}"


class Access:
    """Checks operations' declared roles against principals (see the module's doc)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._remembered: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.remembered_tokens: dict[str, tuple[float, Principal]] = {}
        """A server's tokens' principals, kept for a moment (see ``dockyard.server.auth``);
        emptied by :meth:`forget_principals` when accounts, teams, grants or tokens change."""

    def forget_principals(self) -> None:
        """Forget the kept principals: a change of accounts or grants shows at once in this
        process (another server process sees it within its keeping time)."""
        self.remembered_tokens.clear()

    def project_of(self, kind: str, ref: str) -> str | None:
        """The id of the project of the ``kind`` object named ``ref`` (None: none such)."""
        key = (kind, ref)
        if kind in _IMMUTABLE and key in self._remembered:
            return self._remembered[key]
        rows = self.db.rows(RESOLVERS[kind](ref), {})
        found: str | None = rows[0][0] if rows else None
        if found is not None and kind in _IMMUTABLE:
            self._remembered[key] = found
            if len(self._remembered) > _REMEMBERED:
                self._remembered.popitem(last=False)
        return found

    @staticmethod
    def precheck(principal: Principal, op: Operation) -> None:
        """Refuse at once (before the request's body is read) a caller who holds the role
        ``op`` needs in no project at all; :meth:`authorize` checks the call's projects."""
        if principal.is_admin or op.on in (LISTING, PUBLIC):
            return
        action = f"{op.method} {op.path} ({op.key})"
        if not isinstance(op.on, str) and any(
            t.creates and _may_create(principal, t) for t in op.on if t.kind == "project"
        ):
            return  # an account may create a project (and own it) before holding any role
        if op.on == SERVER:
            principal.require(op.role, action)
            return
        held = [r for r in (principal.role, *principal.grants.values()) if r is not None]
        if any(r.allows(op.role) for r in held):
            return
        if principal.role is not None and not principal.grants:
            principal.require(op.role, action)  # a server token's role: its own words
        holds = "holds no role in any project" if not held else "holds less in every project"
        raise Forbidden(
            f"{action} needs the {op.role} role in the project it acts in, and "
            f"{principal.name!r} {holds}: ask an owner of the project to grant it "
            "(dockyard projects grant)",
            details={
                "needed": str(op.role),
                "role": str(principal.role) if principal.role else None,
            },
        )

    def authorize(
        self,
        principal: Principal,
        op: Operation,
        arguments: dict[str, Any],
        targets: tuple[Target, ...] | None = None,
    ) -> None:
        """Raise :class:`Forbidden` unless ``principal`` may call ``op`` with ``arguments``
        (checking only ``targets`` of its declared ones, when given)."""
        if principal.is_admin or op.on in (LISTING, PUBLIC):
            return
        action = f"{op.method} {op.path} ({op.key})"
        if op.on == SERVER:
            principal.require(op.role, action)
            return
        if op.on == ANYWHERE:
            if (principal.role and principal.role.allows(op.role)) or any(
                r.allows(op.role) for r in principal.grants.values()
            ):
                return
            raise Forbidden(
                f"{action} needs the {op.role} role in at least one project, and "
                f"{principal.name!r} has none: ask an owner of a project to grant one",
                details={
                    "needed": str(op.role),
                    "role": str(principal.role) if principal.role else None,
                },
            )
        if isinstance(op.on, str):  # a kind this check does not know: refuse, never pass
            raise Forbidden(f"{action} declares {op.on!r}, which no check knows")
        for target in op.on if targets is None else targets:
            self._check(principal, target, target.role or op.role, arguments, action)

    def _check(
        self,
        principal: Principal,
        target: Target,
        needed: Role,
        arguments: dict[str, Any],
        action: str,
    ) -> None:
        everywhere = principal.role is not None and principal.role.allows(needed)
        for ref in values_at(arguments, target.at):
            if everywhere:  # no lookup: the service says if it does not exist
                continue
            project_id = self.project_of(target.kind, ref)
            if project_id is not None:
                principal.require_in(project_id, _where(target, ref), needed, action)
            elif not (target.creates and _may_create(principal, target)):
                raise denied(principal, _where(target, ref), needed, principal.role, action)


def _may_create(principal: Principal, target: Target) -> bool:
    """Whether a call may go on where ``target`` names nothing yet: it creates it. A new
    project needs an account (its creator owns it) free to create projects; other objects
    are created in a project another target of the call names."""
    if target.kind != "project":
        return True
    return principal.user_id is not None and principal.may_create_projects
