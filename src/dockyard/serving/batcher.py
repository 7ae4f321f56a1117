"""Adaptive batching: the requests that arrive for one model while it is predicting are
predicted together next, up to a row limit.

An idle model predicts a request at once (no added wait); under load, requests queue while
the model works and the next call takes them all, so the batch size follows the load. An
optional wait (``max_wait``) holds a batch open a little longer to fill it. Predictions run
on the model's own thread, so one model's work never blocks the event loop or another
model. A bad request in a batch fails alone: the batch function returns one result or one
exception per request.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
BatchFn = Callable[[Sequence[T]], Sequence[Any]]


class Batcher(Generic[T]):
    """Groups concurrent calls of one predict function."""

    def __init__(
        self,
        fn: BatchFn[T],
        *,
        size_of: Callable[[T], int],
        max_rows: int = 256,
        max_wait: float = 0.0,
        name: str = "model",
    ) -> None:
        self._fn = fn
        self._size_of = size_of
        self.max_rows = max_rows
        self.max_wait = max_wait
        self._pending: deque[tuple[T, asyncio.Future[Any]]] = deque()
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._retired = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"predict-{name}")
        self.batches = 0
        self.rows = 0

    async def submit(self, item: T) -> Any:
        """The result for ``item`` (or its exception raised)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((item, future))
        if not self._running:
            self._running = True
            self._task = loop.create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[T, asyncio.Future[Any]]]:
        batch = [self._pending.popleft()]
        rows = self._size_of(batch[0][0])
        while self._pending and rows + self._size_of(self._pending[0][0]) <= self.max_rows:
            item = self._pending.popleft()
            rows += self._size_of(item[0])
            batch.append(item)
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                if (
                    self.max_wait > 0
                    and sum(self._size_of(i) for i, _ in self._pending) < self.max_rows
                ):
                    await asyncio.sleep(self.max_wait)
                batch = self._take()
                items = [item for item, _ in batch]
                try:
                    results = await loop.run_in_executor(self._thread, self._fn, items)
                except BaseException as exc:  # the whole call failed: every request hears it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.batches += 1
                self.rows += sum(self._size_of(i) for i in items)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._running = False
            if self._retired and not self._pending:
                self._thread.shutdown(wait=False)

    def retire(self) -> None:
        """Stop taking new work once what is queued is done (the version was swapped out:
        requests already given to it finish on it)."""
        self._retired = True
        if not self._running and not self._pending:
            self._thread.shutdown(wait=False)
