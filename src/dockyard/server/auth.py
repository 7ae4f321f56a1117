"""Who is calling and whether they may: the principal of an HTTP request, and the one check of
the role every operation declares.

Identity comes only from the credential. The admin token (``--token`` / ``DOCKYARD_TOKEN``)
is the principal ``admin`` with every role; each user token is its named user with its role
(see :mod:`dockyard.core.tokens`). A header naming a user (``X-Dockyard-User``, which older
clients send) is ignored. A server with no token at all is open, for loopback use: every
caller is ``anonymous`` with the write role, so it reads and writes but administers nothing
over HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request

from dockyard.core.errors import InvalidInput, Unauthorized
from dockyard.core.operations import Operation
from dockyard.core.principal import ANONYMOUS, Principal, Role
from dockyard.core.tokens import ADMIN, TokenGrant, token_digest

Guard = Callable[[Request], Awaitable[Principal]]
OPEN = Principal(name=ANONYMOUS, kind=ANONYMOUS, role=Role.WRITE)


class Authenticator:
    """Maps a request's bearer token to its principal, and checks operations' roles."""

    def __init__(self, admin_token: str | None, user_tokens: Sequence[TokenGrant] = ()) -> None:
        self._principals: dict[str, Principal] = {}
        if admin_token:
            self._principals[token_digest(admin_token)] = Principal(
                name=ADMIN, kind="token", role=Role.ADMIN
            )
        for grant in user_tokens:
            if grant.digest in self._principals:
                raise InvalidInput(
                    f"the token of user {grant.name!r} is the same as "
                    f"{self._principals[grant.digest].name!r}'s: give each its own token"
                )
            self._principals[grant.digest] = Principal(
                name=grant.name, kind="token", role=grant.role
            )

    @property
    def is_open(self) -> bool:
        """Whether the server accepts requests without a token (it has none configured)."""
        return not self._principals

    def principal(self, request: Request) -> Principal:
        """The caller: the principal of its bearer token (401 without a known one), or
        ``anonymous`` on an open server."""
        if self.is_open:
            return OPEN
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        found = (
            self._principals.get(token_digest(token.strip()))
            if scheme.lower() == "bearer"
            else None
        )
        if found is None:
            raise Unauthorized(
                "this server needs a token: set DOCKYARD_TOKEN (or --token) to a token it was "
                "started with"
            )
        return found

    def guard(self, op: Operation) -> Guard:
        """The dependency of ``op``'s route: the caller, if their role allows ``op``."""
        action = f"{op.method} {op.path} ({op.key})"

        async def authorized(request: Request) -> Principal:
            caller = self.principal(request)
            caller.require(op.role, action)
            return caller

        return authorized
