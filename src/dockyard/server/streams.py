"""Bridges between the event loop and the services' blocking byte streams."""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

import anyio
from starlette.requests import Request

T = TypeVar("T")
CHUNK = 1 << 20
_EOF = object()


class RequestPipe:
    """A file-like reader, for a worker thread, of bytes the event loop pushes in."""

    def __init__(self, depth: int = 8) -> None:
        self._queue: queue.Queue[object] = queue.Queue(depth)
        self._buffer = bytearray()
        self._done = False
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._buffer) < n):
            item = self._queue.get()
            if item is _EOF:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise item
            elif isinstance(item, bytes):
                self._buffer += item
        size = len(self._buffer) if n < 0 else min(n, len(self._buffer))
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _put_blocking(self, item: object) -> None:
        while not self.closed:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    async def _put(self, item: object) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            await anyio.to_thread.run_sync(self._put_blocking, item)

    async def fill_from(self, request: Request) -> None:
        """Push the request body in ~1 MiB pieces, then the end (or the failure)."""
        pending = bytearray()
        try:
            async for chunk in request.stream():
                if self.closed:
                    return
                pending += chunk
                if len(pending) >= CHUNK:
                    await self._put(bytes(pending))
                    pending.clear()
        except Exception as exc:  # client went away: the reader must not wait forever
            await self._put(ConnectionError(f"upload interrupted: {exc!r}"))
            return
        if pending:
            await self._put(bytes(pending))
        await self._put(_EOF)


async def call_with_request_body(request: Request, fn: Callable[[RequestPipe], T]) -> T:
    """Run blocking ``fn(reader)`` in a thread while the request body streams into it."""
    pipe = RequestPipe()
    result: list[T] = []

    def consume() -> None:
        try:
            result.append(fn(pipe))
        finally:
            pipe.closed = True

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, consume)
            await pipe.fill_from(request)
    except BaseExceptionGroup as group_error:
        first: BaseException = group_error
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return result[0]


def iter_stream(stream: BinaryIO) -> Iterator[bytes]:
    """Read a blocking stream in 1 MiB chunks, closing it at the end."""
    try:
        while chunk := stream.read(CHUNK):
            yield chunk
    finally:
        stream.close()


def stream_size(stream: BinaryIO) -> int | None:
    """The size of a stream backed by a file, if it has one."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None
