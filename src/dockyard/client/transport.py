"""The one seam between the SDK and the services: call an operation with its arguments."""

from __future__ import annotations

from typing import Any, Protocol

from dockyard.core.operations import Operation


class Transport(Protocol):
    """Carries operation calls to the services, in this process or over HTTP."""

    def call(self, op: Operation, arguments: dict[str, Any]) -> Any:
        """Run ``op`` with ``arguments`` (keyed by parameter name) and return its result.

        Raises the same :class:`~dockyard.core.errors.DockyardError` subclass whichever the
        transport.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...
