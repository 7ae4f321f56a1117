"""The acting principal: who performs an operation, and the roles they hold. Every service
call receives one.

Roles are ordered: ``viewer`` (read) < ``editor`` (write runs, data, models) < ``maintainer``
(move aliases, traffic, freezes, monitors, schedules) < ``owner`` (grants and deletion) <
``admin`` (the server's administrator, every project and the server itself). A principal
holds a role in every project (``role``: the admin token, the user tokens of a server's
settings, the open server's anonymous caller) and may hold more in some projects
(``grants``: project id -> role, from a user's and their teams' grants, capped by the token's
scope). Each operation declares the role it needs and where its project is (see
:func:`dockyard.core.operations.operation`); :mod:`dockyard.access.check` checks it. Over
HTTP the server alone decides the principal, from the credential (``dockyard.server.auth``);
in-process, the local operating-system user is the admin (they own the files anyway).
"""

from __future__ import annotations

import getpass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from dockyard.core.errors import Forbidden


class Role(StrEnum):
    """What a principal may do in a project, each role including the ones before it."""

    VIEWER = "viewer"
    EDITOR = "editor"
    MAINTAINER = "maintainer"
    OWNER = "owner"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether holding this role is enough for an operation that needs ``needed``."""
        return RANK[self] >= RANK[needed]

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role by name; ``read`` and ``write`` (the names of earlier versions) are viewer
        and editor. ValueError names the choices."""
        value = LEGACY.get(text.strip().lower(), text.strip().lower())
        try:
            return cls(value)
        except ValueError:
            raise ValueError(
                f"unknown role {text!r}: use one of {', '.join(r.value for r in cls)}"
            ) from None


RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.MAINTAINER: 2, Role.OWNER: 3, Role.ADMIN: 4}
LEGACY = {"read": "viewer", "write": "editor"}
PROJECT_ROLES = (Role.VIEWER, Role.EDITOR, Role.MAINTAINER, Role.OWNER)
ANONYMOUS = "anonymous"


def higher(a: Role | None, b: Role | None) -> Role | None:
    """The stronger of two roles (None: no role)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if RANK[a] >= RANK[b] else b


class Principal(BaseModel):
    """A user, token or service on whose behalf an operation runs."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str = "user"
    role: Role | None = Role.VIEWER
    """The role held in every project (None: only the granted projects)."""
    grants: dict[str, Role] = Field(default_factory=dict)
    """Project id -> the role held there, where it is more than ``role``."""
    user_id: str | None = None
    """The account behind the principal (None for server tokens and services)."""
    may_create_projects: bool = True
    """Whether a call may create a project (and so own it): not a token scoped to projects."""
    limited: bool = False
    """Whether it comes from a token limited to a project or a role (which makes no tokens)."""

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def role_in(self, project_id: str) -> Role | None:
        """The role held in the project with id ``project_id`` (None: none at all)."""
        return higher(self.role, self.grants.get(project_id))

    def readable_projects(self) -> frozenset[str] | None:
        """The ids of the projects this principal may read, or None when it may read all."""
        if self.role is not None:
            return None
        return frozenset(self.grants)

    def require(self, needed: Role, action: str) -> None:
        """Raise :class:`Forbidden` unless the role held in every project suffices (for
        operations on the server itself rather than on one project)."""
        if self.role is not None and self.role.allows(needed):
            return
        held = str(self.role) if self.role else "no role on the whole server"
        if self.kind == ANONYMOUS:
            fix = (
                "this server runs without tokens, so it refuses that over HTTP; start the "
                "server with an admin token (--token or DOCKYARD_TOKEN) and call it with that "
                "token"
                if needed is Role.ADMIN
                else "call the server with a token (DOCKYARD_TOKEN) that has that role"
            )
        elif needed is Role.ADMIN:
            fix = "ask a server admin (or use the server's admin token, DOCKYARD_TOKEN)"
        else:
            fix = f"use a token with the {needed} role"
        raise Forbidden(
            f"{action} needs the {needed} role, and {self.name!r} has {held}: {fix}",
            details={"needed": str(needed), "role": str(self.role) if self.role else None},
        )

    def require_in(self, project_id: str, where: str, needed: Role, action: str) -> None:
        """Raise :class:`Forbidden` unless the role held in the project suffices; ``where``
        names it for the message (``project 'fraud'``)."""
        held = self.role_in(project_id)
        if held is not None and held.allows(needed):
            return
        raise denied(self, where, needed, held, action)


def denied(
    principal: Principal, where: str, needed: Role, held: Role | None, action: str
) -> Forbidden:
    """The refusal of ``action`` in the project ``where`` names: the same words whether or
    not it exists when the caller has no role there (a refusal must not tell it exists)."""
    fix = f"ask an owner of the project to grant the {needed} role (dockyard projects grant)"
    if held is None:
        return Forbidden(
            f"{action} needs the {needed} role in {where}, and {principal.name!r} has no role "
            f"there (or it does not exist): {fix}",
            details={"needed": str(needed), "role": None},
        )
    return Forbidden(
        f"{action} needs the {needed} role in {where}, and {principal.name!r} is {held} "
        f"there: {fix}",
        details={"needed": str(needed), "role": str(held)},
    )


def local_principal() -> Principal:
    """The principal of an embedded session: the operating-system user, the admin."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return Principal(name=name or "local", role=Role.ADMIN)
