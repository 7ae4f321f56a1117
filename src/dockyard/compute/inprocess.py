"""The in-process executor: work runs in the calling process, one at a time, for debugging
(breakpoints and prints work as usual)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from dockyard.compute.executor import Resources, WorkTimedOut

T = TypeVar("T")


class InProcessExecutor:
    """Runs each unit of work at once in the caller's thread.

    A timeout is checked when the work returns (a Python thread cannot be stopped from
    outside): late work is reported as timed out, but it did run to its end.
    """

    name = "inprocess"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def submit(
        self,
        work: Callable[[], T],
        *,
        resources: Resources = Resources(),
        timeout: float | None = None,
        label: str = "",
    ) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            started = time.monotonic()
            try:
                result = work()
            except BaseException as exc:  # the future carries it to the caller
                future.set_exception(exc)
                return future
            elapsed = time.monotonic() - started
        if timeout is not None and elapsed > timeout:
            future.set_exception(
                WorkTimedOut(f"{label or 'work'} took {elapsed:.1f} s, over its {timeout:g} s")
            )
        else:
            future.set_result(result)
        return future

    def close(self) -> None:
        return None
