"""Bridges between the event loop and the services' blocking byte streams."""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable, Iterator
from typing import BinaryIO, TypeVar

import anyio
from starlette.requests import Request

from dockyard.blobs.backend import CHUNK as BACKEND_CHUNK
from dockyard.core.errors import DockyardError

T = TypeVar("T")
CHUNK = BACKEND_CHUNK  # what a download sends per piece, and what uploads are read in
BLOCK = BACKEND_CHUNK  # the request body crosses to the worker thread in blocks of at most this
_EOF = object()
log = logging.getLogger(__name__)


class RequestPipe:
    """A file-like reader, for a worker thread, of bytes the event loop pushes in.

    The body crosses in ~4 MiB blocks (one join per block); :meth:`read` hands a block
    over as it is when it fits, else a slice of it. At most ``depth`` blocks wait in the
    queue, so memory stays bounded (~``depth * BLOCK``) whatever the size of the upload.
    """

    def __init__(self, depth: int = 4) -> None:
        self._queue: queue.Queue[object] = queue.Queue(depth)
        self._block = b""
        self._offset = 0
        self._done = False
        self.closed = False

    def _next_block(self) -> bool:
        """Wait for the next block; False at the end of the body."""
        while not self._done:
            item = self._queue.get()
            if item is _EOF:
                self._done = True
            elif isinstance(item, BaseException):
                self._done = True
                raise item
            elif isinstance(item, bytes) and item:
                self._block, self._offset = item, 0
                return True
        return False

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all the rest if ``n`` < 0); ``b""`` only at the end."""
        if n is None or n < 0:
            parts = [self._block[self._offset :]] if self._offset < len(self._block) else []
            self._block, self._offset = b"", 0
            while self._next_block():
                parts.append(self._block)
            self._block = b""
            return b"".join(parts)
        if n == 0:
            return b""
        if self._offset >= len(self._block) and not self._next_block():
            return b""
        block, start = self._block, self._offset
        if start == 0 and len(block) <= n:  # the whole block: no copy
            self._block = b""
            return block
        end = min(start + n, len(block))
        self._offset = end
        return block[start:end]

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
        """Push the request body in ~4 MiB blocks, then the end (or the failure)."""
        pending: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                if self.closed:
                    return
                if not chunk:
                    continue
                if size + len(chunk) > BLOCK and pending:  # blocks stay <= BLOCK: a
                    block = b"".join(pending)  # CHUNK-sized read takes one whole
                    pending.clear()
                    size = 0
                    await self._put(block)
                pending.append(chunk if isinstance(chunk, bytes) else bytes(chunk))
                size += len(chunk)
        except Exception as exc:  # client went away: the reader must not wait forever
            await self._put(ConnectionError(f"upload interrupted: {exc!r}"))
            return
        if pending:
            await self._put(b"".join(pending))
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
    """Read a blocking stream in ``CHUNK``-sized pieces, closing it at the end.

    A stream that fails once the response has started (a remote blob found corrupt at its
    end) cannot change the status any more: the body ends there, short or with the bad
    bytes, and the client, which checks the ``X-Dockyard-Digest`` header, refuses it.
    """
    try:
        while chunk := stream.read(CHUNK):
            yield chunk
    except DockyardError as exc:
        log.error("download cut short: %s", exc.message)
    finally:
        stream.close()


def stream_size(stream: BinaryIO) -> int | None:
    """The size of a stream backed by a file, if it has one."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None
