"""The acting principal: who performs an operation, and the role they hold. Every service
call receives one.

Roles are ordered: ``read`` < ``write`` < ``admin``; each operation declares the role it
needs (see :func:`dockyard.core.operations.operation`). Over HTTP the server alone decides
the principal, from the credential (see ``dockyard.server.auth``); in-process, the local
operating-system user holds every role (they own the files anyway).
"""

from __future__ import annotations

import getpass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from dockyard.core.errors import Forbidden


class Role(StrEnum):
    """What a principal may do: read, also write, or also administer."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether holding this role is enough for an operation that needs ``needed``."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.READ: 0, Role.WRITE: 1, Role.ADMIN: 2}
ANONYMOUS = "anonymous"


class Principal(BaseModel):
    """A user, token or service on whose behalf an operation runs."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str = "user"
    role: Role = Role.READ

    def require(self, needed: Role, action: str) -> None:
        """Raise :class:`Forbidden` (saying what would allow it) unless the role suffices."""
        if self.role.allows(needed):
            return
        if self.kind == ANONYMOUS:
            fix = (
                "this server runs without tokens, so it refuses that over HTTP; start the "
                "server with an admin token (--token or DOCKYARD_TOKEN) and call it with that "
                "token"
                if needed is Role.ADMIN
                else "call the server with a token (DOCKYARD_TOKEN) that has that role"
            )
        elif needed is Role.ADMIN:
            fix = "use the server's admin token (DOCKYARD_TOKEN)"
        else:
            fix = f"use a token with the {needed} role"
        raise Forbidden(
            f"{action} needs the {needed} role, and {self.name!r} has {self.role}: {fix}",
            details={"needed": str(needed), "role": str(self.role)},
        )


def local_principal() -> Principal:
    """The principal of an embedded session: the operating-system user, with every role."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return Principal(name=name or "local", role=Role.ADMIN)
