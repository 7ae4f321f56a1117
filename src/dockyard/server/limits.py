"""A size limit on request bodies that are read whole (JSON); streamed uploads are exempt.

A JSON body is parsed in memory, several times its size: without a limit one large request
can take the server's memory. The limit is checked against ``Content-Length`` before any
byte is read, and counted as the body arrives for chunked requests. Operations that take a
streamed body (``BinaryIO`` parameters: blobs, artifacts) stream to storage in bounded
memory and have no limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dockyard.core.errors import TooLarge
from dockyard.core.operations import Operation

DEFAULT_MAX_JSON_BODY = 32 << 20  # 32 MiB: ~1.5 million metric points in one batch


class _Exceeded(HTTPException):
    """Raised from ``receive`` when a chunked body passes the limit: an HTTPException, so
    FastAPI's body reading passes it on and the error handlers answer 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large(limit).message)


def path_pattern(path: str) -> re.Pattern[str]:
    """The regular expression of a route path such as ``/runs/{run_id}/artifacts``."""
    return re.compile("^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)) + "$")


def streamed_routes(
    operations: Iterable[Operation], prefix: str
) -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every operation that streams its request body."""
    return [(op.method, path_pattern(prefix + op.path)) for op in operations if op.stream_in]


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"the request body is larger than the server's limit of {limit} bytes; send less "
        "per request (e.g. split a metric batch), or stream files as artifacts or blobs",
        details={"limit": limit},
    )


class BodySizeLimit:
    """Answers 413 (our JSON error shape) to a request body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int, exempt: list[tuple[str, re.Pattern[str]]]) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    def _is_exempt(self, scope: Scope) -> bool:
        method, path = scope.get("method", ""), scope.get("path", "")
        return any(method == m and pattern.match(path) for m, pattern in self.exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_exempt(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _Exceeded(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _Exceeded:
            if started:
                raise
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the rest of the body is not read: the connection closes after the answer
        body = too_large(self.limit).to_body()
        response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)
