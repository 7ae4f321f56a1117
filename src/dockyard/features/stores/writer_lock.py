"""One writer per feature view at a time, across processes.

A write of online values reads an entity's record, folds new events into it and writes it
back; two processes doing that to one view at once would lose one's events. Each store
therefore offers ``writing(view)``: the embedded store holds an exclusive ``flock`` on a
file per view beside its database, Redis a lock key that expires unless its holder keeps
renewing it (so a killed writer frees the view within a minute).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dockyard.core.errors import Conflict

WAIT_SECONDS = 120.0
"""How long a writer waits for another one to finish before it gives up."""


def _busy(view: str) -> Conflict:
    return Conflict(
        f"another process has been writing the online values of {view!r} for over "
        f"{WAIT_SECONDS:.0f} s (a materialization?); try again when it has finished"
    )


@contextlib.contextmanager
def file_lock(folder: Path, view: str, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold an exclusive lock on ``folder``/<digest of view>.lock while the block runs."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(view.encode()).hexdigest()[:32] + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise _busy(view) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def redis_lock(client: Any, key: str, view: str, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the Redis lock ``key`` while the block runs, renewing it every 10 s (it expires
    30 s after its holder stops renewing, e.g. when killed)."""
    lock = client.lock(key, timeout=30, blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise _busy(view)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(10):
            with contextlib.suppress(Exception):  # a failed renewal shows at release
                lock.reacquire()

    renewer = threading.Thread(target=renew, name="dockyard-features-lock", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        with contextlib.suppress(Exception):  # expired meanwhile: nothing left to free
            lock.release()
