"""Who is calling and whether they may: the principal of an HTTP request, and the check of the
role every operation declares.

Identity comes only from the credential. The admin token (``--token`` / ``DOCKYARD_TOKEN``)
is the principal ``admin``; each user token of the server's settings is its named user with
its role in every project (see :mod:`dockyard.core.tokens`); an API token made by
``dockyard tokens create`` (or a password sign-in) is its user, with the roles granted to
them and their teams, narrowed to the token's project and role. A header naming a user
(``X-Dockyard-User``, which older clients send) is ignored. A server with no token and no
user at all is open, for loopback use: every caller is ``anonymous``, a maintainer of every
project (what one person does day to day: write, move aliases, freeze), so it administers,
grants, purges and deletes nothing over HTTP.

A token's principal is kept for :data:`REMEMBER_SECONDS` (so a request costs no lookup);
a refusal looks again first, so a role granted a moment ago is honoured at once, while a
revocation takes effect within that time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from starlette.requests import Request

from dockyard.access.check import needs_lookup, split_targets
from dockyard.access.principals import has_accounts, mark_used, token_principal
from dockyard.core.errors import Forbidden, InvalidInput, Unauthorized
from dockyard.core.operations import PUBLIC, Operation
from dockyard.core.principal import ANONYMOUS, Principal, Role
from dockyard.core.tokens import ADMIN, TokenGrant, token_digest
from dockyard.server.routes import client_address
from dockyard.services import Services
from dockyard.store.tables import utcnow

SESSION_COOKIE = "dockyard_session"
CSRF_COOKIE = "dockyard_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a session: a digest of it (it tells nothing about it)."""
    return hashlib.sha256(b"dockyard csrf\x00" + session_token.encode()).hexdigest()


Guard = Callable[[Request], Awaitable[Principal]]
Check = Callable[[Principal, dict[str, Any]], Principal]
OPEN = Principal(name=ANONYMOUS, kind=ANONYMOUS, role=Role.MAINTAINER, may_create_projects=True)
NOBODY = Principal(name=ANONYMOUS, kind=ANONYMOUS, role=None, may_create_projects=False)
REMEMBER_SECONDS = 2.0
_REMEMBERED = 10_000
"""At most this many tokens' principals are kept (all are forgotten when it is reached)."""


class _Fields:
    """A query string read as a query model: each field is the list of its values."""

    def __init__(self, params: Any) -> None:
        self._params = params

    def __getattr__(self, name: str) -> list[str]:
        values: list[str] = self._params.getlist(name)
        return values


class Authenticator:
    """Maps a request's bearer token to its principal, and checks operations' roles."""

    def __init__(
        self, services: Services, admin_token: str | None, user_tokens: Sequence[TokenGrant] = ()
    ) -> None:
        self._services = services
        self._fixed: dict[str, Principal] = {}
        if admin_token:
            self._fixed[token_digest(admin_token)] = Principal(
                name=ADMIN, kind="token", role=Role.ADMIN
            )
        for grant in user_tokens:
            if grant.digest in self._fixed:
                raise InvalidInput(
                    f"the token of user {grant.name!r} is the same as "
                    f"{self._fixed[grant.digest].name!r}'s: give each its own token"
                )
            self._fixed[grant.digest] = Principal(name=grant.name, kind="token", role=grant.role)
        self._remembered = services.access.remembered_tokens
        self._users_checked = 0.0
        self._has_users = False

    async def is_open(self) -> bool:
        """Whether the server accepts requests without a token: it has no token configured
        and no user account (checked again at most once a second while it is open)."""
        if self._fixed or self._has_users:
            return False
        if time.monotonic() - self._users_checked > 1.0:
            await anyio.to_thread.run_sync(self._check_users)
        return not self._has_users

    def _check_users(self) -> None:
        self._has_users = self._services.db.query(has_accounts)
        self._users_checked = time.monotonic()

    def _lookup(self, digest: str) -> Principal | None:
        """The principal of an API token from the metadata (None: no live token)."""
        now = utcnow()
        looked_up = self._services.db.query(lambda s: token_principal(s, digest, now))
        found = None
        if looked_up is not None:
            found, used = looked_up
            if used is not None:
                self._services.db.write(lambda s: mark_used(s, used, now))
            if len(self._remembered) >= _REMEMBERED:
                self._remembered.clear()
            self._remembered[digest] = (time.monotonic() + REMEMBER_SECONDS, found)
        if found is None:
            self._remembered.pop(digest, None)
        return found

    @staticmethod
    def credential(request: Request) -> str | None:
        """The token a request came with: its bearer token, else its session cookie."""
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return request.cookies.get(SESSION_COOKIE) or None

    def forget(self, digest: str) -> None:
        """Stop using the kept principal of a token (it was just revoked)."""
        self._remembered.pop(digest, None)

    async def principal(self, request: Request, *, required: bool = True) -> Principal:
        """The caller: the principal of its bearer token or session cookie (401 without a
        known one), or ``anonymous`` on an open server (or where no credential is needed).
        A session cookie alone does not carry a call that may change something: that call
        also needs the session's CSRF token in its ``X-CSRF-Token`` header (403 without)."""
        if await self.is_open():
            return OPEN
        token = self.credential(request)
        by_cookie = token is not None and token == request.cookies.get(SESSION_COOKIE)
        if (
            by_cookie
            and token is not None
            and request.method not in SAFE_METHODS
            and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), csrf_token(token).encode()
            )
        ):
            raise Forbidden(
                "this call comes with a session cookie but without its CSRF token: send the "
                f"{CSRF_COOKIE} cookie's value in the X-CSRF-Token header"
            )
        digest = token_digest(token) if token else None
        found = self._fixed.get(digest) if digest else None
        if found is None and digest is not None:
            kept = self._remembered.get(digest)
            if kept is not None and kept[0] > time.monotonic():
                found = kept[1]
            else:
                found = await anyio.to_thread.run_sync(self._lookup, digest)
        if found is None:
            if not required:
                return NOBODY
            raise Unauthorized(
                "this server needs a token: set DOCKYARD_TOKEN to an API token (`dockyard "
                "login`, or `dockyard tokens create` by your admin), or to a token the server "
                "was started with"
            )
        return found

    def audit(
        self,
        principal: Principal,
        op: Operation,
        arguments: dict[str, Any],
        status: int,
        detail: str,
        address: str,
    ) -> None:
        """Write the audit event of one call (see :mod:`dockyard.access.audit`)."""
        self._services.auditor.record(
            principal, op, arguments, status=status, detail=detail, address=address
        )

    def guard(self, op: Operation) -> Guard:
        """The dependency of ``op``'s route: the caller, authenticated, and refused at once
        when they hold the role ``op`` needs nowhere (each call's projects are checked by
        :meth:`checker`, once its arguments are read)."""
        required = op.on != PUBLIC
        access = self._services.access
        early, _ = split_targets(op)
        query_model = op.query_model[0] if op.query_model else None

        plain = tuple(name for name, _, _ in op.query_params)

        def check(caller: Principal, request: Request) -> None:
            access.precheck(caller, op)
            if needs_lookup(caller, op, early):
                # each name where the route reads it: a query parameter never stands in for a
                # path parameter of the same name (the call would act on another object)
                arguments: dict[str, Any] = {
                    name: request.query_params.getlist(name) for name in plain
                }
                arguments.update(request.path_params)
                if query_model:
                    arguments[query_model] = _Fields(request.query_params)
                access.authorize(caller, op, arguments, early)

        async def checked(caller: Principal, request: Request) -> None:
            if needs_lookup(caller, op, early):
                await anyio.to_thread.run_sync(check, caller, request)
            else:
                check(caller, request)

        async def authenticated(request: Request) -> Principal:
            caller = await self.principal(request, required=required)
            try:
                try:
                    await checked(caller, request)
                except Forbidden:
                    fresh = await anyio.to_thread.run_sync(self._fresh, caller)
                    if fresh is None:
                        raise
                    await checked(fresh, request)
                    return fresh
            except Forbidden as refused:
                arguments = dict(request.path_params)
                address = client_address(request)
                message = str(refused)
                await anyio.to_thread.run_sync(
                    lambda: self.audit(caller, op, arguments, 403, message, address)
                )
                raise
            return caller

        return authenticated

    def checker(self, op: Operation) -> Check:
        """The check of the targets of ``op`` inside the request's body, once it is read:
        the principal to run the call as (looked up again once before a refusal)."""
        access = self._services.access
        _, inside = split_targets(op)

        def check(principal: Principal, arguments: dict[str, Any]) -> Principal:
            if not needs_lookup(principal, op, inside):
                return principal
            try:
                access.authorize(principal, op, arguments, inside)
                return principal
            except Forbidden:
                fresh = self._fresh(principal)
                if fresh is None:
                    raise
                access.authorize(fresh, op, arguments, inside)
                return fresh

        return check

    def _fresh(self, principal: Principal) -> Principal | None:
        """The principal looked up again from the metadata, if it came from an API token."""
        if principal.user_id is None:
            return None
        for digest, (_, kept) in list(self._remembered.items()):
            if kept is principal:
                return self._lookup(digest)
        return None
