"""Every failure leaves the server as a JSON error body with a stable code."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dockyard.core.errors import (
    DockyardError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from dockyard.core.operations import format_validation_error

log = logging.getLogger("dockyard.server")
_BY_STATUS: dict[int, type[DockyardError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
}


def _respond(error: DockyardError, status: int | None = None) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=status or error.http_status)


def route_not_found(request: Request) -> JSONResponse:
    """The JSON 404 for a path no route serves."""
    return _respond(NotFound(f"no API route {request.method} {request.url.path}; see /docs"), 404)


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
        cls = _BY_STATUS.get(exc.status_code, InvalidInput)
        return _respond(cls(f"{request.method} {request.url.path}: {exc.detail}"), exc.status_code)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(DockyardError(f"internal error: {type(exc).__name__}; see the server log"))
