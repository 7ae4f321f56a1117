"""Work a server does by itself: marking runs whose process died as failed.

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
from dockyard.services import Services
from dockyard.tracking.schemas import ReapRequest

log = logging.getLogger("dockyard.server")
SERVER = Principal(name="server", kind="service", role=Role.ADMIN)


def start_reaper(
    services: Services, *, interval: float = 60.0, timeout_seconds: int = 300
) -> Callable[[], None]:
    """Reap runs silent for ``timeout_seconds`` every ``interval`` seconds in a daemon thread;
    returns the function that stops it."""
    stop = threading.Event()
    request = ReapRequest(timeout_seconds=timeout_seconds)

    def loop() -> None:
        while not stop.is_set():
            try:
                reaped = services.runs.reap(SERVER, request)
                if reaped.failed:
                    log.info("marked %d runs whose process died as failed", len(reaped.failed))
            except DockyardError as exc:  # the database went away: try again next time
                log.warning("reaping runs failed: %s", exc.message)
            except Exception:
                log.exception("reaping runs failed")
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="dockyard-reaper", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(timeout=5)

    return halt
