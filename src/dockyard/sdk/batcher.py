"""Background batching of metric points: ``log_metrics`` returns at once, a thread sends."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from math import isfinite

from dockyard.client.tracking import RunsClient
from dockyard.core.errors import InvalidInput, Unavailable
from dockyard.sdk.spool import Spool
from dockyard.tracking.schemas import MetricBatch, MetricSeries, check_key

FLUSH_SECONDS = 1.0
FLUSH_POINTS = 20_000
HEARTBEAT_SECONDS = 30.0


class MetricBatcher:
    """Collects points in memory; a thread spools and sends them every second or 20k points.

    A batch is written to the spool before it is sent and removed once the server stored
    it, so a crash loses at most the points logged since the last flush.
    """

    def __init__(self, runs: RunsClient, run_id: str, spool: Spool) -> None:
        self._runs = runs
        self._run_id = run_id
        self._spool = spool
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[list[int], list[int], list[float]]] = {}
        self._count = 0
        self._known_keys: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_beat = time.monotonic()
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._loop, name=f"dockyard-metrics-{run_id[-6:]}", daemon=True
        )
        self._thread.start()

    def add(self, metrics: Mapping[str, float], step: int, timestamp_ms: int) -> None:
        """Queue one value per key at ``step`` (checked here, so errors reach the caller)."""
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
            full = self._count >= FLUSH_POINTS
        if full:
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

    def flush(self) -> None:
        """Spool what is queued, then deliver everything spooled for this process."""
        self._spool.deliver(self._runs.log_batch)  # older leftovers first, in order
        batch = self._take()
        if batch is not None:
            spooled = self._spool.write(self._run_id, batch)  # the crash copy
            self._runs.log_batch(self._run_id, batch)
            spooled.unlink(missing_ok=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
                if time.monotonic() - self._last_beat > HEARTBEAT_SECONDS:
                    self._runs.heartbeat(self._run_id)
                    self._last_beat = time.monotonic()
                self.error = None
            except Unavailable as exc:  # server away: the spool keeps the points; retry later
                self.error = exc
            except BaseException as exc:  # never kill training; report at close
                self.error = exc

    def close(self) -> None:
        """Stop the thread and deliver everything (what cannot be sent stays spooled)."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.flush()
