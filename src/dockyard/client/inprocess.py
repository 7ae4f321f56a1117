"""The in-process transport: calls the embedded services directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockyard.core.operations import Operation
from dockyard.core.principal import Principal
from dockyard.services import Services


class InProcessTransport:
    """Runs operations on embedded services as ``principal``, checking each operation's
    declared role as a server does (the embedded user is the admin: they open the database
    and blob store directly, so the check passes without a lookup)."""

    def __init__(self, services: Services, principal: Principal) -> None:
        self.services = services
        self.principal = principal

    def call(self, op: Operation, arguments: dict[str, Any]) -> Any:
        method = getattr(self.services.service(op.service), op.name)
        if not self.principal.is_admin:
            self.services.access.authorize(self.principal, op, arguments)
        return method(self.principal, **arguments)

    def local_blob_copy(self, digest: str, cache_dir: Path) -> Path:
        """The blob as a local file, without copying it when the store is a local folder."""
        return self.services.blob_store.local_copy(digest, cache_dir)

    def close(self) -> None:
        self.services.close()
