"""Who is calling: the principal of an HTTP request."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from dockyard.core.errors import InvalidInput, Unauthorized
from dockyard.core.principal import Principal

USER_HEADER = "x-dockyard-user"


def make_authenticator(token: str | None) -> Callable[[Request], Awaitable[Principal]]:
    """With a server token, every request must carry it as a bearer token. The user name
    comes from the client (as MLflow's does) until per-user tokens arrive with access control."""

    async def authenticate(request: Request) -> Principal:
        if token:
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
                raise Unauthorized(
                    "this server needs a token: set DOCKYARD_TOKEN (or --token) to its token"
                )
        name = request.headers.get(USER_HEADER, "").strip() or "anonymous"
        if len(name) > 128 or not name.isprintable():
            raise InvalidInput(
                "header X-Dockyard-User must be a printable name of at most 128 characters"
            )
        return Principal(name=name)

    return authenticate
