"""``create_app(settings)``: the FastAPI application over the services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from dockyard._version import __version__
from dockyard.catalog import SERVICE_CLASSES, all_operations
from dockyard.core.config import Settings
from dockyard.core.operations import operations_of
from dockyard.core.tokens import TokenGrant, parse_token_grants
from dockyard.server.auth import Authenticator
from dockyard.server.docs import install_api_docs
from dockyard.server.errors import install_error_handlers
from dockyard.server.limits import (
    DEFAULT_MAX_JSON_BODY,
    BodySizeLimit,
    path_pattern,
    streamed_routes,
)
from dockyard.server.routes import add_operation, error_schemas
from dockyard.server.sso import OidcSettings, install_sign_in
from dockyard.server.ui import install_ui
from dockyard.services import Services

API_PREFIX = "/api/v1"
Background = Callable[[Services], Callable[[], None]]
"""Work started with the server (given its services) that returns the function stopping it."""


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    token: str | None = None,
    user_tokens: Sequence[TokenGrant] | None = None,
    background: Sequence[Background] = (),
    max_json_body: int = DEFAULT_MAX_JSON_BODY,
    sso: OidcSettings | None = None,
) -> FastAPI:
    """The API app for ``services`` (or services opened from ``settings``, closed on shutdown).

    ``token`` (default: the settings' token) is the admin token; ``user_tokens`` (default:
    the settings' user_tokens) are the named users' tokens. With neither, the server is open
    and refuses administration. ``background`` work (e.g. the pipeline scheduler) starts when
    the server starts and is stopped before the services close.

    A request body larger than ``max_json_body`` bytes gets a 413, except the streamed
    uploads (artifacts, blobs), which have no limit. With ``sso``, the web UI also signs
    people in through that OpenID Connect provider (see :mod:`dockyard.server.sso`).
    """
    if services is not None:
        given = services.settings
    elif settings is not None:
        given = settings
    else:
        raise TypeError("create_app needs settings or services")
    if user_tokens is None:  # checked before the services open: a bad entry leaks nothing
        text = given.user_tokens or ""
        user_tokens = parse_token_grants(text, "DOCKYARD_USER_TOKENS") if text else []
    if services is None:
        services = Services.open(given)
        owned = True
    else:
        owned = False
    running = services
    running.served = True  # a server never makes up a secrets key (see dockyard.access.cipher)
    try:
        auth = Authenticator(running, token if token is not None else given.token, user_tokens)
    except BaseException:
        if owned:
            running.close()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stops = [start(running) for start in background]
        yield
        for stop in reversed(stops):
            stop()
        if owned:
            running.close()

    app = FastAPI(
        title="dockyard",
        version=__version__,
        description="The dockyard REST API. Errors are JSON: {error: {code, message, details}}.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # JSON pages (a page of runs is ~80 KB) shrink ~10x; blobs and artifacts stream as they are.
    # Level 1: nearly the size of level 5 on JSON (a 40 KB lookup of 100 x 50 features: 14.9
    # against 13.1 KB) in a third of the time (0.8 against 2.3 ms on a 2-core machine).
    app.add_middleware(
        GZipMiddleware,
        minimum_size=4096,
        compresslevel=1,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/octet-stream"),
    )
    app.add_middleware(
        BodySizeLimit,
        limit=max_json_body,
        exempt=streamed_routes(all_operations(), API_PREFIX),
    )

    # The routes go straight onto the app's router, with the prefix in their paths: an
    # included router is matched twice per request, route by route (with a hundred routes,
    # about half a millisecond of a lookup's time on a 2-core machine).
    @app.get(API_PREFIX + "/health", tags=["server"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__, "database": running.db.dialect}

    for cls in SERVICE_CLASSES:
        for op in operations_of(cls):
            add_operation(
                app.router,
                op,
                running.service(op.service),
                auth.guard(op),
                auth.checker(op),
                auth.audit,
                API_PREFIX,
            )
    install_sign_in(app, running, auth, sso, API_PREFIX)
    install_api_docs(app)
    install_ui(app)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = plain_openapi()
            document.setdefault("components", {}).setdefault("schemas", {}).update(error_schemas())
        return app.openapi_schema or plain_openapi()

    app.openapi = openapi  # type: ignore[method-assign]

    app.state.services = running
    app.state.routes = [
        (op.method, path_pattern(API_PREFIX + op.path)) for op in all_operations()
    ] + [
        ("GET", path_pattern(API_PREFIX + "/health")),
        ("GET", path_pattern(API_PREFIX + "/auth/methods")),
        ("POST", path_pattern(API_PREFIX + "/auth/logout")),
    ]
    return app
