"""A durable local spool of metric batches: written before sending, removed once stored.

A batch survives a lost server or a killed process as a file under ``$DOCKYARD_HOME/spool``;
it is sent again at exit or on the next start, and its ``batch_id`` makes the resend
idempotent.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.core.errors import InvalidInput, NotFound
from dockyard.tracking.schemas import MetricBatch

_SUFFIX = ".batch.json"


@dataclass(frozen=True)
class Spooled:
    path: Path
    run_id: str
    batch: MetricBatch


class Spool:
    """Metric batches waiting to be delivered, one file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

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

    def pending(self) -> Iterator[Spooled]:
        """Batches not yet delivered, oldest first."""
        if not self.folder.is_dir():
            return
        found = []
        for path in self.folder.glob(f"*{_SUFFIX}"):
            try:
                found.append((path.stat().st_mtime, path))
            except FileNotFoundError:  # delivered meanwhile by another process
                continue
        for _, path in sorted(found):
            run_id = path.name.split(".", 1)[0]
            try:
                batch = MetricBatch.model_validate_json(path.read_bytes())
            except FileNotFoundError:  # delivered meanwhile by another process
                continue
            except ValueError:  # a torn write cannot happen (atomic rename); keep it visible
                continue
            yield Spooled(path, run_id, batch)

    def deliver(self, send: Callable[[str, MetricBatch], object]) -> int:
        """Send every pending batch; return how many were delivered. Stops at the first failure."""
        delivered = 0
        for item in self.pending():
            try:
                send(item.run_id, item.batch)
            except (NotFound, InvalidInput) as exc:  # the run is gone: it can never be stored
                warnings.warn(f"dropping spooled metrics of run {item.run_id}: {exc}", stacklevel=2)
            item.path.unlink(missing_ok=True)
            delivered += 1
        return delivered
