"""The in-process transport: calls the embedded services directly."""

from __future__ import annotations

from typing import Any

from dockyard.core.operations import Operation
from dockyard.core.principal import Principal
from dockyard.services import Services


class InProcessTransport:
    """Runs operations on embedded services as ``principal``."""

    def __init__(self, services: Services, principal: Principal) -> None:
        self.services = services
        self.principal = principal

    def call(self, op: Operation, arguments: dict[str, Any]) -> Any:
        method = getattr(self.services.service(op.service), op.name)
        return method(self.principal, **arguments)

    def close(self) -> None:
        self.services.close()
