"""The HTTP transport: the same operations against a dockyard server."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from dockyard.core.errors import DockyardError, Unavailable, error_from_body
from dockyard.core.operations import Operation
from dockyard.core.principal import Principal

API_PREFIX = "/api/v1"
CHUNK = 1 << 20


@functools.cache
def _adapter(tp: Any) -> TypeAdapter[Any]:
    return TypeAdapter(tp)


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


class ResponseStream:
    """A streamed response body read like a file; close it (or use ``with``) when done."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.iter_bytes(CHUNK)
        self._buffer = b""

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            data = self._buffer + b"".join(self._chunks)
            self._buffer = b""
            return data
        while len(self._buffer) < n:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def __iter__(self) -> Iterator[bytes]:
        if self._buffer:
            yield self._buffer
            self._buffer = b""
        yield from self._chunks

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ResponseStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class HttpTransport:
    """Sends operations to the server at ``url`` as ``principal``."""

    def __init__(
        self, url: str, principal: Principal, *, token: str | None = None, timeout: float = 60.0
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"X-Dockyard-User": principal.name}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(
            base_url=self.url + API_PREFIX,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    def _request(self, op: Operation, arguments: dict[str, Any]) -> httpx.Request:
        path = op.path.format(
            **{name: quote(str(arguments[name]), safe="") for name, _ in op.path_params}
        )
        params: dict[str, Any] = {}
        if op.query_model:
            params.update(arguments[op.query_model[0]].model_dump(mode="json", exclude_none=True))
        for name, _tp, default in op.query_params:
            value = arguments.get(name, default)
            if value is not None:
                params[name] = value
        kwargs: dict[str, Any] = {"params": params}
        if op.body:
            kwargs["json"] = arguments[op.body[0]].model_dump(mode="json", exclude_unset=True)
        if op.stream_in:
            kwargs["content"] = _chunks(arguments[op.stream_in])
            kwargs["headers"] = {"Content-Type": "application/octet-stream"}
        return self.http.build_request(op.method, path, **kwargs)

    def _raise_for(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        response.read()
        try:
            body = response.json()
        except ValueError:
            body = response.text
        raise error_from_body(response.status_code, body)

    def call(self, op: Operation, arguments: dict[str, Any]) -> Any:
        request = self._request(op, arguments)
        try:
            response = self.http.send(request, stream=op.stream_out)
        except httpx.TransportError as exc:
            raise Unavailable(
                f"cannot reach the dockyard server at {self.url}: {exc}. Is `dockyard server` "
                "running there? Check DOCKYARD_URL."
            ) from exc
        try:
            self._raise_for(response)
        except DockyardError:
            response.close()
            raise
        if op.stream_out:
            return ResponseStream(response)
        if response.status_code == 204 or op.returns is type(None):
            return None
        return _adapter(op.returns).validate_json(response.content)

    def close(self) -> None:
        self.http.close()
