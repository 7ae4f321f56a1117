"""A project's secrets from the SDK: ``dy.connect().secrets``."""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.access.schemas import Secret, SecretPut
from dockyard.access.secrets import SecretService
from dockyard.client.inprocess import InProcessTransport
from dockyard.client.transport import Transport
from dockyard.core.errors import InvalidInput
from dockyard.core.operations import build, operations_by_name

_OPS = operations_by_name(SecretService)
REMOTE = (
    "{who} needs secret(s) {names}, and secrets are injected only where the server's key "
    "is, never sent over HTTP: run it on the server (a pipeline: as a schedule, `dockyard "
    "pipelines schedule create`, which the server's scheduler runs), or in a process opened "
    "on the metadata store (DOCKYARD_DB, without DOCKYARD_URL) with the key "
    "(DOCKYARD_SECRETS_KEY_FILE)"
)


class SecretsClient:
    """Set, list and delete a project's secrets (values go in, never come back out)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def set(self, project: str, name: str, value: str) -> Secret:
        """Set secret ``name`` of ``project`` to ``value`` (maintainers); it is stored
        encrypted and never shown again."""
        body = build(SecretPut, value=value)
        result: Secret = self._transport.call(
            _OPS["set"], {"project": project, "name": name, "body": body}
        )
        return result

    def list(self, project: str) -> list[Secret]:
        """The names of ``project``'s secrets, who set each and when (never the values)."""
        result: list[Secret] = self._transport.call(_OPS["list"], {"project": project})
        return result

    def delete(self, project: str, name: str) -> None:
        """Delete secret ``name`` of ``project`` (maintainers)."""
        self._transport.call(_OPS["delete"], {"project": project, "name": name})

    def environment(
        self, project: str, names: Sequence[str], *, needed_by: str = "this work"
    ) -> dict[str, str]:
        """The values of ``names`` as environment variables, for a pipeline step or a served
        model; only in a process that runs the services itself (embedded, a server's
        scheduler): over HTTP, InvalidInput says where to run instead."""
        if not names:
            return {}
        transport = self._transport
        if not isinstance(transport, InProcessTransport):
            raise InvalidInput(REMOTE.format(who=needed_by, names=", ".join(names)))
        return transport.services.secrets.environment(
            transport.principal, project, names, needed_by=needed_by
        )
