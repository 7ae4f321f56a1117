"""Background batching of metric points: ``log_metrics`` returns at once, threads spool and send.

Two threads per run, so that delivery never holds up spooling: the *spooler* writes the
points logged in the last ``flush_interval`` seconds (or 20k points, whichever comes first)
to a spool file, fsynced; the *sender* delivers those files in order and removes each once
the server stored it. When the server is away the sender waits and retries while new points
keep reaching the disk, so memory stays bounded and a killed server loses nothing. A killed
process loses only the points not yet spooled: those of the last ``flush_interval`` seconds
(at most 20k points while the disk keeps up; when a slow disk holds the spooler back,
``log_metrics`` spools itself past :data:`MAX_PENDING_POINTS`, so at most that many pending
plus the batch being written). With ``flush_interval=0`` every ``log_metrics`` call writes
its points to the spool before it returns, and a kill loses nothing logged.
"""

from __future__ import annotations

import operator
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from math import isfinite
from pathlib import Path

from dockyard.client.tracking import RunsClient
from dockyard.core.errors import InvalidInput
from dockyard.sdk.spool import RETRY_LATER, Spool
from dockyard.tracking.metrics import INT64_MAX, INT64_MIN
from dockyard.tracking.schemas import MetricBatch, MetricSeries, check_key

FLUSH_SECONDS = 1.0
FLUSH_POINTS = 20_000
# The caller spools itself past this many points in memory (a spooler slowed by the disk).
MAX_PENDING_POINTS = 5 * FLUSH_POINTS
HEARTBEAT_SECONDS = 30.0
RETRY_SECONDS = 1.0  # wait between attempts while the server is away
# Spooled batches also kept in memory for their first send (no re-read from disk); beyond
# that (the server is away or slow) only their file names wait in memory.
IN_MEMORY_BATCHES = 2


@dataclass
class _Spooled:
    path: Path | None  # None: the spool could not be written; the batch lives in memory only
    batch: MetricBatch | None  # None: read it back from ``path`` when sending


def checked_flush_interval(value: float | str) -> float:
    """A flush interval in seconds (0: write-through), or InvalidInput saying what to fix."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"flush_interval must be a number of seconds, not {value!r}") from None
    if not isfinite(seconds) or not 0 <= seconds <= 3600:
        raise InvalidInput(
            f"flush_interval must be between 0 (write-through) and 3600 seconds, not {value!r}"
        )
    return seconds


def checked_int64(name: str, value: object) -> int:
    """A step or timestamp as a Python int in the 64-bit range the database stores."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)  # type: ignore[arg-type]  # ints, numpy's ints
    except TypeError:
        raise InvalidInput(
            f"{name} must be an integer, not {value!r} ({type(value).__name__})"
        ) from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInput(f"{name} {number} is outside the 64-bit integer range [-2**63, 2**63)")
    return number


class MetricBatcher:
    """Collects points in memory; threads spool them every ``flush_interval`` seconds (or 20k
    points) and send what is spooled. See the module's docstring for the loss bound."""

    def __init__(
        self,
        runs: RunsClient,
        run_id: str,
        spool: Spool,
        flush_interval: float = FLUSH_SECONDS,
    ) -> None:
        self._runs = runs
        self._run_id = run_id
        self._spool = spool
        self._interval = checked_flush_interval(flush_interval)
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[list[int], list[int], list[float]]] = {}
        self._count = 0
        self._known_keys: set[str] = set()
        self._queue: deque[_Spooled] = deque()
        self._queued = threading.Condition()
        self._sending = threading.Lock()  # one sender at a time: the thread or flush()
        # One spooler at a time: flush() waits for a batch the spool thread has taken but
        # not yet written, so what was logged before flush() is on disk when it returns.
        self._spooling = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_beat = time.monotonic()
        self._spool_failed = False
        self.error: BaseException | None = None
        name = f"dockyard-metrics-{run_id[-6:]}"
        self._threads = [threading.Thread(target=self._send_loop, name=name, daemon=True)]
        if self._interval > 0:
            loop = threading.Thread(target=self._spool_loop, name=f"{name}-spool", daemon=True)
            self._threads.append(loop)
        for thread in self._threads:
            thread.start()

    def add(self, metrics: Mapping[str, float], step: int, timestamp_ms: int) -> None:
        """Queue one value per key at ``step`` (checked here, so errors reach the caller)."""
        if type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
            step = checked_int64("step", step)
        if type(timestamp_ms) is not int or not INT64_MIN <= timestamp_ms <= INT64_MAX:
            timestamp_ms = checked_int64("timestamp_ms", timestamp_ms)
        checked = []
        known = self._known_keys
        for key, value in metrics.items():
            try:
                if key not in known:  # a training loop logs the same few keys again and again
                    check_key(key)
                    known.add(key)
                number = float(value)
            except (ValueError, TypeError) as exc:
                raise InvalidInput(f"metric {key!r}: {exc}") from None
            if not isfinite(number):
                raise InvalidInput(
                    f"metric {key!r} at step {step} is {number}: values must be finite"
                )
            checked.append((key, number))
        with self._lock:
            for key, number in checked:
                steps, stamps, values = self._pending.setdefault(key, ([], [], []))
                steps.append(step)
                stamps.append(timestamp_ms)
                values.append(number)
            self._count += len(checked)
            count = self._count
        if not self._interval or count >= MAX_PENDING_POINTS:
            self._spool_pending()  # write-through, or a spooler that cannot keep up
        elif count >= FLUSH_POINTS:
            self._wake.set()

    def _take(self) -> MetricBatch | None:
        with self._lock:
            if not self._count:
                return None
            pending, self._pending, self._count = self._pending, {}, 0
        series = {
            key: MetricSeries.model_construct(steps=s, timestamps=t, values=v)
            for key, (s, t, v) in pending.items()
        }
        return MetricBatch.model_construct(batch_id=uuid.uuid4().hex, series=series)

    def _spool_pending(self) -> None:
        """Write what is queued in memory to a spool file and hand it to the sender."""
        with self._spooling:
            self._spool_taken()

    def _spool_taken(self) -> None:
        batch = self._take()
        if batch is None:
            return
        try:
            path: Path | None = self._spool.write(self._run_id, batch)
        except OSError as exc:  # a full or read-only disk: send from memory instead
            path = None
            if not self._spool_failed:
                self._spool_failed = True
                warnings.warn(
                    f"cannot write the metric spool in {self._spool.folder} ({exc}); metrics "
                    "of this run are kept in memory until sent, and lost if the process dies",
                    stacklevel=2,
                )
        with self._queued:
            keep = path is None or len(self._queue) < IN_MEMORY_BATCHES
            self._queue.append(_Spooled(path, batch if keep else None))
            self._queued.notify()

    def _send_queue(self) -> None:
        """Deliver the spooled batches in order. Raises the errors of :data:`RETRY_LATER`
        (the server is away: the rest stays queued and spooled); any other failure of a
        batch is handled by the spool (quarantine or warning) and the next one goes on."""
        with self._sending:
            while True:
                with self._queued:
                    if not self._queue:
                        return
                    item = self._queue[0]
                batch = item.batch
                if batch is None and item.path is not None:
                    batch = self._spool.read(item.path)
                if batch is not None:
                    self._spool.send(item.path, self._run_id, batch, self._runs.log_batch)
                with self._queued:
                    self._queue.popleft()

    def flush(self) -> None:
        """Spool what is queued, then deliver everything this batcher spooled."""
        self._spool_pending()
        self._send_queue()

    def _spool_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._spool_pending()
            except BaseException as exc:  # never kill training; close() spools again
                self.error = exc

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            with self._queued:
                if not self._queue:
                    self._queued.wait(HEARTBEAT_SECONDS)
            if self._stop.is_set():
                return
            try:
                self._send_queue()
                if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
                    self._last_beat = time.monotonic()  # a failed beat waits for the next
                    self._runs.heartbeat(self._run_id)
                self.error = None
            except RETRY_LATER as exc:  # the server is away: the spool keeps the points
                self.error = exc
                self._stop.wait(RETRY_SECONDS)
            except BaseException as exc:  # never kill training
                self.error = exc
                self._stop.wait(RETRY_SECONDS)

    def close(self) -> None:
        """Stop the threads and deliver everything (what cannot be sent stays spooled)."""
        self._stop.set()
        self._wake.set()
        with self._queued:
            self._queued.notify_all()
        for thread in self._threads:
            thread.join()
        self.flush()
