"""The executor seam: run a unit of work somewhere, with resources and a timeout.

An executor knows nothing about pipelines, steps or values: it gets a picklable
zero-argument callable and returns a future of its result. In-process, a local process
pool and Ray implement it; pipelines build the callables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, TypeVar

from dockyard.core.errors import DockyardError, InvalidInput

T = TypeVar("T")

_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B?|B)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_memory(value: str | int | None) -> int | None:
    """Bytes from ``4GiB``, ``512MB``, ``1.5G`` or an int (bytes)."""
    if value is None or isinstance(value, int):
        return value
    match = _MEMORY.match(value)
    if not match:
        raise InvalidInput(f"memory {value!r} is not a size: write e.g. '4GiB', '512MB' or bytes")
    number, unit = float(match.group(1)), (match.group(2) or "").upper()
    base = 1024 if "I" in unit else 1000
    power = " KMGT".index(unit[0]) if unit and unit[0] in "KMGT" else 0
    return int(number * base**power)


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds from ``30m``, ``2h``, ``45s``, ``250ms`` or a number of seconds."""
    if value is None or isinstance(value, int | float):
        if value is not None and value <= 0:
            raise InvalidInput(f"duration {value!r} must be positive")
        return None if value is None else float(value)
    match = _DURATION.match(value)
    if not match or float(match.group(1)) <= 0:
        raise InvalidInput(f"duration {value!r} is not valid: write e.g. '30m', '2h', '45s'")
    return float(match.group(1)) * _SECONDS[match.group(2) or "s"]


@dataclass(frozen=True)
class Resources:
    """What one unit of work needs: CPUs, GPUs and memory (``"4GiB"`` or bytes)."""

    cpu: float = 1.0
    gpu: float = 0.0
    memory: int | str | None = None

    def __post_init__(self) -> None:
        if self.cpu < 0 or self.gpu < 0:
            raise InvalidInput("resources cpu and gpu must not be negative")
        object.__setattr__(self, "memory", parse_memory(self.memory))

    @property
    def memory_bytes(self) -> int | None:
        return self.memory if isinstance(self.memory, int) else None


class WorkTimedOut(DockyardError):
    """The work ran longer than its timeout and was stopped."""

    code = "timeout"
    http_status = 504


class WorkerLost(DockyardError):
    """The process (or Ray worker) running the work died before returning."""

    code = "worker_lost"
    http_status = 500


class Executor(Protocol):
    """Runs picklable zero-argument callables; one small seam for every backend."""

    name: str

    def submit(
        self,
        work: Callable[[], T],
        *,
        resources: Resources = Resources(),
        timeout: float | None = None,
        label: str = "",
    ) -> Future[T]:
        """Start ``work``; the future gives its return value, or raises its exception,
        :class:`WorkTimedOut` after ``timeout`` seconds, or :class:`WorkerLost`.

        Work that needs more of a resource than the executor has at all is refused with
        InvalidInput at submit; work that needs more than is free now waits its turn.
        """
        ...

    def close(self) -> None:
        """Stop accepting work, stop the workers; running work is abandoned."""
        ...
