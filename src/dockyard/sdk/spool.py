"""A durable local spool of metric batches: written before sending, removed once stored.

A batch survives a lost server or a killed process as a file under
``$DOCKYARD_HOME/spool/<target>``, one folder per server URL or database, so that a batch is
only ever sent where its run lives; it is sent again at exit or on the next start, and its
``batch_id`` makes the resend idempotent. A file the server refuses (a 4xx: bad values, a
deleted run) or that cannot be read is moved to the spool's ``quarantine`` folder with a
warning naming it, so that it never blocks the other files.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

from dockyard.core.config import Settings
from dockyard.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
    Unavailable,
)
from dockyard.tracking.schemas import MetricBatch

_SUFFIX = ".batch.json"
QUARANTINE = "quarantine"

# Errors that say nothing about the batch itself: stop and try again later, keeping the file.
RETRY_LATER = (Unavailable, Unauthorized, Forbidden)
# The server refused this batch for good: retrying cannot help.
REFUSED = (InvalidInput, NotFound, Conflict)

Send = Callable[[str, MetricBatch], object]


class Spool:
    """Metric batches waiting to be delivered, one file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of(cls, settings: Settings) -> Spool:
        """The spool of ``settings``' home for its target (the server, else the database)."""
        target = (settings.url or settings.db).rstrip("/")
        return cls(settings.home / "spool" / hashlib.sha256(target.encode()).hexdigest()[:16])

    def write(self, run_id: str, batch: MetricBatch) -> Path:
        """Persist a batch (atomically, fsynced) before it is sent."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{run_id}.{batch.batch_id}{_SUFFIX}"
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        with open(partial, "wb") as out:
            out.write(batch.model_dump_json().encode())
            out.flush()
            os.fsync(out.fileno())
        partial.replace(path)
        return path

    def pending(self) -> list[Path]:
        """Files of batches not yet delivered, oldest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob(f"*{_SUFFIX}"):
            try:
                found.append((path.stat().st_mtime, path.name, path))
            except FileNotFoundError:  # delivered meanwhile by another process
                continue
        return [path for _, _, path in sorted(found)]

    def read(self, path: Path) -> MetricBatch | None:
        """The batch in ``path``; None if it is gone (delivered by another process) or
        unreadable (then quarantined)."""
        try:
            return MetricBatch.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # truncated by a full disk, edited, corrupt
            self.quarantine(path, f"it cannot be read ({str(exc)[:300]})")
            return None

    def quarantine(self, path: Path, reason: str) -> None:
        """Move ``path`` aside to ``spool/quarantine`` and warn, naming both."""
        target = self.folder / QUARANTINE / path.name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
        except FileNotFoundError:  # another process delivered or moved it meanwhile
            return
        warnings.warn(
            f"spooled metrics {path} were not delivered: {reason}. The file is moved to "
            f"{target}; fix and move it back to {self.folder} to retry, or delete it.",
            stacklevel=3,
        )

    def send(self, path: Path | None, run_id: str, batch: MetricBatch, send: Send) -> bool:
        """Send one batch and remove its file; True if the server has it.

        Raises the errors of :data:`RETRY_LATER` (the file stays for a later try). A batch
        the server refuses is quarantined; any other failure leaves the file for the next
        :meth:`deliver` and warns, so that one file never blocks the others.
        """
        try:
            send(run_id, batch)
        except RETRY_LATER:
            raise
        except REFUSED as exc:
            if path is None:
                warnings.warn(f"metrics of run {run_id} were refused: {exc}", stacklevel=2)
            else:
                self.quarantine(path, f"the server refused it ({exc})")
            return False
        except Exception as exc:  # e.g. a server error on this batch: later runs retry it
            kept = f"{path} stays in the spool" if path else "they are lost"
            warnings.warn(
                f"metrics of run {run_id} could not be delivered ({type(exc).__name__}: "
                f"{str(exc)[:300]}); {kept}",
                stacklevel=2,
            )
            return False
        if path is not None:
            path.unlink(missing_ok=True)
        return True

    def deliver(self, send: Send) -> int:
        """Send every pending batch; return how many were delivered.

        Stops at the first error of :data:`RETRY_LATER` (raised: the server is away or the
        credentials are wrong); a refused or unreadable file is quarantined, and the others
        go on.
        """
        delivered = 0
        for path in self.pending():
            batch = self.read(path)
            if batch is not None and self.send(path, run_of(path), batch, send):
                delivered += 1
        return delivered


def run_of(path: Path) -> str:
    """The run a spool file belongs to (its name is ``<run id>.<batch id>.batch.json``)."""
    return path.name.split(".", 1)[0]
