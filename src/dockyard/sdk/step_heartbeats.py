"""Heartbeats for the runs of running pipeline steps, sent by the orchestrator.

A step's run logs metrics in bursts if at all, and an in-process step holds the
orchestrator's loop while it runs, so a thread of its own keeps those runs from being reaped.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter

from dockyard.client.client import Client
from dockyard.core.errors import DockyardError

HEARTBEAT_S = 30.0


class StepHeartbeats:
    """Keeps the runs of running steps alive, from a thread of its own: an in-process step
    holds the orchestrator's loop while it runs, and steps log metrics in bursts if at all."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._live: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name="dockyard-step-heartbeats", daemon=True
        )
        self._thread.start()

    def enter(self, run_id: str | None) -> None:
        if run_id is not None:
            with self._lock:
                self._live[run_id] += 1

    def leave(self, run_id: str | None) -> None:
        if run_id is not None:
            with self._lock:
                self._live[run_id] -= 1
                if self._live[run_id] <= 0:
                    del self._live[run_id]

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with self._lock:
                live = list(self._live)
            for run_id in live:
                with contextlib.suppress(DockyardError):  # the next beat tries again
                    self._client.runs.heartbeat(run_id)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
