"""Single sign-on for the web UI: OpenID Connect's authorization code flow, with PKCE.

``GET /api/v1/auth/oidc/login?next=/path`` sends the browser to the provider;
``/api/v1/auth/oidc/callback`` takes its answer back: Authlib checks the state, trades the
code (with the PKCE verifier and the client's secret) for tokens, and checks the ID token
(signature against the provider's keys, issuer, audience, expiry, nonce). The account it names
(see :mod:`dockyard.access.sso`) gets a session: an API token in an HttpOnly cookie
(``dockyard_session``, SameSite=Lax, Secure over HTTPS) that expires with the session.

A request that a session cookie authenticates and that may change something (any method but
GET, HEAD and OPTIONS) must also carry ``X-CSRF-Token``: the value of the ``dockyard_csrf``
cookie, which only pages of this origin can read (a digest of the session token, so it cannot
be made without it). ``POST /api/v1/auth/logout`` revokes the session and answers the
provider's logout address, for the browser to end its session there too.

The flow's own state (state, nonce, PKCE verifier, where to go back to) lives for ten minutes
in a cookie signed with a key derived from the client's secret, so any of a server's processes
can finish a sign-in another one started.
"""

from __future__ import annotations

import hashlib
import html
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Route

from dockyard.access import sso
from dockyard.core.errors import DockyardError, InvalidInput
from dockyard.core.principal import Principal
from dockyard.core.tokens import token_digest
from dockyard.server.auth import CSRF_COOKIE, SESSION_COOKIE, Authenticator, csrf_token
from dockyard.server.routes import client_address, route_error_responses
from dockyard.services import Services

with warnings.catch_warnings():  # Authlib 1.9 announces its move to httpx2 as it loads
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

log = logging.getLogger("dockyard.sso")
FLOW_COOKIE = "dockyard_oidc"
FLOW_SECONDS = 600


@dataclass(frozen=True)
class OidcSettings:
    """A server's OpenID Connect client (from ``DOCKYARD_OIDC_*``; see :meth:`from_environment`)."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str = "openid email profile"
    groups_claim: str = "groups"
    admin_group: str | None = None
    label: str = "single sign-on"
    public_url: str | None = None
    session_hours: float = 12.0

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> OidcSettings | None:
        """The settings in ``env`` (default: the process's environment), or None when
        ``DOCKYARD_OIDC_ISSUER`` is not set. A client secret may come from a file
        (``DOCKYARD_OIDC_CLIENT_SECRET_FILE``), which keeps it out of the process list."""
        env = os.environ if env is None else env
        issuer = env.get("DOCKYARD_OIDC_ISSUER", "").strip()
        if not issuer:
            return None
        secret = env.get("DOCKYARD_OIDC_CLIENT_SECRET", "")
        secret_file = env.get("DOCKYARD_OIDC_CLIENT_SECRET_FILE")
        if secret_file:
            try:
                secret = Path(secret_file).read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read DOCKYARD_OIDC_CLIENT_SECRET_FILE: {exc}") from None
        client_id = env.get("DOCKYARD_OIDC_CLIENT_ID", "").strip()
        if not client_id or not secret:
            raise InvalidInput(
                "DOCKYARD_OIDC_ISSUER is set: also set DOCKYARD_OIDC_CLIENT_ID and "
                "DOCKYARD_OIDC_CLIENT_SECRET (or _FILE), the client registered at the provider"
            )
        if not issuer.startswith(("https://", "http://")):
            raise InvalidInput(f"DOCKYARD_OIDC_ISSUER must be an http(s) URL, not {issuer!r}")
        try:
            hours = float(env.get("DOCKYARD_SESSION_HOURS", "12"))
        except ValueError:
            hours = -1.0
        if not 0 < hours <= 24 * 90:
            raise InvalidInput("DOCKYARD_SESSION_HOURS must be a number of hours, up to 2160")
        public = env.get("DOCKYARD_PUBLIC_URL", "").strip().rstrip("/") or None
        return cls(
            issuer=issuer.rstrip("/"),
            client_id=client_id,
            client_secret=secret,
            scopes=env.get("DOCKYARD_OIDC_SCOPES", "").strip() or cls.scopes,
            groups_claim=env.get("DOCKYARD_OIDC_GROUPS_CLAIM", "").strip() or cls.groups_claim,
            admin_group=env.get("DOCKYARD_OIDC_ADMIN_GROUP", "").strip() or None,
            label=env.get("DOCKYARD_OIDC_LABEL", "").strip()[:64] or cls.label,
            public_url=public,
            session_hours=hours,
        )


class SsoMethod(BaseModel):
    label: str
    login: str


class SignInMethods(BaseModel):
    """How people sign in to this server."""

    password: bool = True
    sso: SsoMethod | None = None


class SignedOut(BaseModel):
    logout_url: str | None = None
    """Where the browser ends its session at the identity provider too (None: nowhere)."""


def safe_next(value: str | None) -> str:
    """A path of this server to go back to after signing in ('/' for anything else: never
    another site, so the sign-in cannot be used to send people elsewhere)."""
    if (
        not value
        or len(value) > 2000
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or any(ord(c) < 0x20 or c == "\\" for c in value)
    ):
        return "/"
    return value


def _problem(status: int, message: str) -> HTMLResponse:
    """A plain page that says why signing in failed, with the way back."""
    body = (
        "<!doctype html><meta charset=utf-8><title>Sign-in failed · dockyard</title>"
        "<main style='font-family:sans-serif;max-width:40rem;margin:4rem auto'>"
        f"<h1>Sign-in failed</h1><p role=alert>{html.escape(message)}</p>"
        "<p><a href='/'>Back to dockyard</a></p></main>"
    )
    return HTMLResponse(body, status_code=status)


class SingleSignOn:
    """The sign-in routes of one server (see the module's doc)."""

    def __init__(self, services: Services, settings: OidcSettings, api_prefix: str) -> None:
        self.services = services
        self.settings = settings
        self.prefix = api_prefix
        self.oauth = OAuth()
        self.client = self.oauth.register(
            "dockyard",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            server_metadata_url=settings.issuer + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.scopes, "code_challenge_method": "S256"},
        )
        self.secure = bool(settings.public_url and settings.public_url.startswith("https://"))

    def _base(self, request: Request) -> str:
        return self.settings.public_url or f"{request.url.scheme}://{request.url.netloc}"

    def _secure(self, request: Request) -> bool:
        return self.secure or request.url.scheme == "https"

    async def login(self, request: Request) -> Response:
        request.session.clear()
        request.session["next"] = safe_next(request.query_params.get("next"))
        redirect_uri = self._base(request) + self.prefix + "/auth/oidc/callback"
        try:
            response: Response = await self.client.authorize_redirect(request, redirect_uri)
        except Exception as exc:  # the provider could not be reached or answered nonsense
            log.warning("single sign-on: the provider's metadata failed: %s", exc)
            return _problem(503, f"the identity provider could not be reached ({exc})")
        return response

    async def callback(self, request: Request) -> Response:
        address = client_address(request)
        go_to = safe_next(request.session.get("next"))
        try:
            token = await self.client.authorize_access_token(request)
            claims = dict(token.get("userinfo") or {})
            metadata = await self.client.load_server_metadata()
            if metadata.get("userinfo_endpoint"):
                info = dict(await self.client.userinfo(token=token))
                if info.get("sub") == claims.get("sub"):  # else it is about someone else
                    claims = {**info, **claims}
        except OAuthError as exc:
            self._audit(None, 401, f"{exc.error}: {exc.description or ''}", address)
            return _problem(401, f"the identity provider refused: {exc.description or exc.error}")
        except Exception as exc:
            log.warning("single sign-on failed: %s", exc)
            self._audit(None, 502, str(exc), address)
            return _problem(502, f"the identity provider's answer could not be used ({exc})")
        finally:
            request.session.clear()
        try:
            who = sso.identity(self.settings.issuer, claims, self.settings.groups_claim)
        except DockyardError as exc:
            self._audit(None, exc.http_status, str(exc), address)
            return _problem(exc.http_status, str(exc))
        try:
            secret, name = await anyio.to_thread.run_sync(
                lambda: self.services.identity.sso_session(
                    who,
                    admin_group=self.settings.admin_group,
                    seconds=int(self.settings.session_hours * 3600),
                )
            )
        except DockyardError as exc:
            self._audit(who, exc.http_status, str(exc), address)
            return _problem(exc.http_status, str(exc))
        self._audit(who, 303, "", address, name)
        response = RedirectResponse(go_to, status_code=303)
        age = int(self.settings.session_hours * 3600)
        secure = self._secure(request)
        response.set_cookie(
            SESSION_COOKIE, secret, max_age=age, httponly=True, samesite="lax", secure=secure
        )
        response.set_cookie(
            CSRF_COOKIE, csrf_token(secret), max_age=age, samesite="lax", secure=secure
        )
        return response

    def _audit(
        self,
        who: sso.Identity | None,
        status: int,
        detail: str,
        address: str,
        name: str | None = None,
    ) -> None:
        actor = name or (who.name if who else "?")
        target = {"issuer": self.settings.issuer, **({"subject": who.subject} if who else {})}
        self.services.auditor.event(
            actor, "user", "auth.sso", target, status=status, detail=detail, address=address
        )

    async def logout_url(self, request: Request) -> str | None:
        """The provider's logout address for this client (None if it has none)."""
        try:
            metadata = await self.client.load_server_metadata()
        except Exception:
            return None
        end = metadata.get("end_session_endpoint")
        if not isinstance(end, str) or not end.startswith(("https://", "http://")):
            return None
        query = urlencode(
            {
                "client_id": self.settings.client_id,
                "post_logout_redirect_uri": self._base(request) + "/",
            }
        )
        return f"{end}{'&' if '?' in end else '?'}{query}"

    def flow_app(self) -> Starlette:
        """The login and callback routes, with the flow's signed cookie."""
        key = hashlib.sha256(b"dockyard oidc flow\x00" + self.settings.client_secret.encode())
        return Starlette(
            routes=[Route("/login", self.login), Route("/callback", self.callback)],
            middleware=[
                Middleware(
                    SessionMiddleware,
                    secret_key=key.hexdigest(),
                    session_cookie=FLOW_COOKIE,
                    max_age=FLOW_SECONDS,
                    same_site="lax",
                    https_only=self.secure,
                )
            ],
        )


def install_sign_in(
    app: FastAPI,
    services: Services,
    authenticator: Authenticator,
    settings: OidcSettings | None,
    api_prefix: str,
) -> None:
    """The routes that sign people in and out of the web UI (single sign-on only with
    ``settings``)."""
    sign_on = SingleSignOn(services, settings, api_prefix) if settings else None
    methods = SignInMethods(
        sso=SsoMethod(label=settings.label, login=api_prefix + "/auth/oidc/login")
        if settings
        else None
    )

    @app.get(api_prefix + "/auth/methods", tags=["identity"], responses=route_error_responses())
    def sign_in_methods() -> SignInMethods:
        """How people sign in to this server: a password, and single sign-on if it has it."""
        return methods

    @app.post(api_prefix + "/auth/logout", tags=["identity"], responses=route_error_responses())
    async def sign_out(request: Request) -> Response:
        """Sign out: revoke the session (or the bearer token) the request came with, forget
        the session's cookies, and say where to end the session at the provider."""
        principal: Principal = await authenticator.principal(request)
        credential = authenticator.credential(request)
        if credential and principal.user_id is not None:
            digest = token_digest(credential)
            await anyio.to_thread.run_sync(services.identity.end_session, digest)
            authenticator.forget(digest)
        via_cookie = not request.headers.get("authorization") and SESSION_COOKIE in request.cookies
        url = await sign_on.logout_url(request) if sign_on and via_cookie else None
        response = JSONResponse(SignedOut(logout_url=url).model_dump())
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, samesite="lax")
        return response

    if sign_on is not None:
        app.mount(api_prefix + "/auth/oidc", sign_on.flow_app())
