"""The garbage collector: mark (referenced digests in the DB), then sweep the backend."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.operations import operation
from dockyard.core.principal import Principal
from dockyard.core.schemas import Model, Seconds
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.tables import BlobRefRow, utcnow

_BATCH = 500


class GcRequest(Model):
    dry_run: bool = False
    grace_seconds: Seconds = Field(
        3600, description="blobs and uploads younger than this are kept (uploads in flight)"
    )


class GcReport(Model):
    dry_run: bool
    blobs_scanned: int
    blobs_referenced: int
    blobs_deleted: int
    bytes_freed: int
    kept_recent: int
    staging_deleted: int


class GarbageCollector:
    """Deletes unreferenced blobs older than the grace period, and abandoned uploads."""

    service_name = "gc"

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def _still_unreferenced(self, digests: list[str]) -> set[str]:
        def check(session: Session) -> set[str]:
            stmt = select(BlobRefRow.digest).where(BlobRefRow.digest.in_(digests))
            return set(digests) - set(session.scalars(stmt))

        return self.db.query(check)

    @operation("POST", "/gc")
    def collect(self, principal: Principal, body: GcRequest) -> GcReport:
        """Collect garbage: unreferenced blobs and abandoned uploads older than the grace."""
        cutoff = utcnow() - dt.timedelta(seconds=body.grace_seconds)
        referenced = self.db.query(lambda s: set(blobrefs.referenced(s)))
        scanned = kept_recent = deleted = freed = 0
        candidates: dict[str, int] = {}

        def sweep() -> None:
            nonlocal deleted, freed
            # A reference may have been added since the mark phase: check again.
            for digest in self._still_unreferenced(list(candidates)):
                if not body.dry_run:
                    self.blobs.delete(digest)
                deleted += 1
                freed += candidates[digest]
            candidates.clear()

        for info in self.blobs.list():
            scanned += 1
            if info.key in referenced:
                continue
            if info.modified > cutoff:
                kept_recent += 1
                continue
            candidates[info.key] = info.size
            if len(candidates) >= _BATCH:
                sweep()
        sweep()

        staging_deleted = 0
        for info in self.blobs.staged():
            if info.modified <= cutoff:
                if not body.dry_run:
                    self.blobs.backend.delete(info.key)
                staging_deleted += 1
        return GcReport(
            dry_run=body.dry_run,
            blobs_scanned=scanned,
            blobs_referenced=len(referenced),
            blobs_deleted=deleted,
            bytes_freed=freed,
            kept_recent=kept_recent,
            staging_deleted=staging_deleted,
        )
