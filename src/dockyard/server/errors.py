"""Every failure leaves the server as a JSON error body with a stable code.

A crash (an exception no handler knows) is answered with a well-formed JSON 500 by
:class:`CrashBarrier` and goes no further: an exception that escapes the app after its
response was sent makes uvicorn drop the keep-alive connection, and the client's next
request on it fails as if the server were unreachable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.core.errors import (
    DockyardError,
    Forbidden,
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    TooLarge,
    Unauthorized,
)
from dockyard.core.operations import format_validation_error

log = logging.getLogger("dockyard.server")
_BY_STATUS: dict[int, type[DockyardError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    413: TooLarge,
}


def _respond(
    error: DockyardError, status: int | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=status or error.http_status, headers=headers)


def route_not_found(request: Request) -> JSONResponse:
    """The JSON 404 for a path no route serves."""
    return _respond(NotFound(f"no API route {request.method} {request.url.path}; see /docs"), 404)


def allowed_methods(app: ASGIApp, path: str) -> list[str]:
    """Every method the API serves at ``path``, from ``app.state.routes`` (method, pattern)
    pairs that ``create_app`` records (Starlette's 405 names only the first matching route)."""
    state = getattr(app, "state", None)
    routes: list[tuple[str, re.Pattern[str]]] = getattr(state, "routes", [])
    methods = {method for method, pattern in routes if pattern.match(path)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _method_not_allowed(request: Request) -> JSONResponse:
    allowed = allowed_methods(request.app, request.url.path)
    error = MethodNotAllowed(
        f"{request.url.path} does not take {request.method}; use {', '.join(allowed)}",
        details={"allowed": allowed},
    )
    return _respond(error, headers={"Allow": ", ".join(allowed)})


def install_error_handlers(app: FastAPI) -> None:
    """Map typed errors, validation errors, routing errors and crashes to JSON bodies."""

    @app.exception_handler(DockyardError)
    async def typed(_request: Request, exc: DockyardError) -> JSONResponse:
        return _respond(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _respond(InvalidInput(format_validation_error(list(exc.errors()))))

    @app.exception_handler(StarletteHTTPException)
    async def routing(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return route_not_found(request)
        if exc.status_code == 405:
            return _method_not_allowed(request)
        cls = _BY_STATUS.get(exc.status_code, InvalidInput)
        return _respond(
            cls(f"{request.method} {request.url.path}: {exc.detail}"),
            exc.status_code,
            headers=exc.headers,
        )

    app.add_middleware(CrashBarrier)


def crash_body(exc: BaseException) -> DockyardError:
    """The error a client sees for a crash: its type, and where to look."""
    return DockyardError(f"internal error: {type(exc).__name__}; see the server log")


class CrashBarrier:
    """Answers an unexpected exception with a JSON 500 and keeps the connection usable.

    Starlette's own last-resort handler re-raises after responding, and uvicorn then
    closes the keep-alive connection under the client; this one logs and stops there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:  # the response is half sent: only closing the connection is honest
                raise
            await _respond(crash_body(exc))(scope, receive, send)
