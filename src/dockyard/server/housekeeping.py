"""Work a server does by itself: marking runs whose process died as failed, and (when told
how much to keep) pruning the prediction history.

Over HTTP reaping is administration (a short timeout would fail runs that are alive), so
clients of a server do not reap when they start a run as embedded ones do; the server does,
every ``interval`` seconds, with the standard timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from dockyard.core.errors import DockyardError
from dockyard.core.principal import Principal, Role
from dockyard.gc.predictions import PruneRequest
from dockyard.services import Services
from dockyard.tracking.schemas import ReapRequest

log = logging.getLogger("dockyard.server")
SERVER = Principal(name="server", kind="service", role=Role.ADMIN)


def start_reaper(
    services: Services, *, interval: float = 60.0, timeout_seconds: int = 300
) -> Callable[[], None]:
    """Reap runs silent for ``timeout_seconds`` every ``interval`` seconds in a daemon thread;
    returns the function that stops it."""
    request = ReapRequest(timeout_seconds=timeout_seconds)

    def reap() -> None:
        reaped = services.runs.reap(SERVER, request)
        if reaped.failed:
            log.info("marked %d runs whose process died as failed", len(reaped.failed))

    return _every(interval, "reaping runs", reap)


def start_pruner(
    services: Services, *, keep_seconds: int, interval: float = 3600.0
) -> Callable[[], None]:
    """Keep ``keep_seconds`` of the prediction history (``gc.prune_predictions``), pruning
    every ``interval`` seconds in a daemon thread; returns the function that stops it.
    ``dockyard gc`` then frees the pruned segments' blobs."""
    request = PruneRequest(older_than_seconds=keep_seconds)

    def prune() -> None:
        done = services.gc.prune_predictions(SERVER, request)
        if done.segments or done.windows or done.labels:
            log.info(
                "pruned the prediction history before %s: %d segments, %d windows, %d labels",
                done.before.isoformat(),
                done.segments,
                done.windows,
                done.labels,
            )

    return _every(interval, "pruning the prediction history", prune)


def _every(interval: float, what: str, task: Callable[[], None]) -> Callable[[], None]:
    """Run ``task`` now and then every ``interval`` seconds in a daemon thread, logging (not
    raising) its failures; returns the function that stops it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                task()
            except DockyardError as exc:  # the database went away: try again next time
                log.warning("%s failed: %s", what, exc.message)
            except Exception:
                log.exception("%s failed", what)
            stop.wait(interval)

    thread = threading.Thread(target=loop, name=f"dockyard-{what.split()[0]}", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=5)

    return halt
