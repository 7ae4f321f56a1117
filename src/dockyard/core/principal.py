"""The acting principal: who performs an operation. Every service call receives one."""

from __future__ import annotations

import getpass

from pydantic import BaseModel, ConfigDict


class Principal(BaseModel):
    """A user, token or service on whose behalf an operation runs."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str = "user"


def local_principal() -> Principal:
    """The principal of an embedded session: the operating-system user."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return Principal(name=name or "local")
