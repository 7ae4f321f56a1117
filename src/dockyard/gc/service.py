"""The garbage collector: purge the bin (rows deleted longer ago than the retention
period), then mark (referenced digests in the DB) and sweep the backend.

Uploads and ``gc`` stay out of each other's way through blob leases
(store/blobleases.py): a blob is deleted only in a write transaction that finds it
unreferenced and unleased while lease writers of that blob are shut out.
"""

from __future__ import annotations

import datetime as dt
import functools
import time

from pydantic import Field
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dockyard.blobs.store import BlobStore
from dockyard.core.operations import SERVER, operation
from dockyard.core.principal import Principal, Role
from dockyard.core.schemas import Model, Seconds
from dockyard.gc.predictions import PruneReport, PruneRequest, prune
from dockyard.store import blobleases, blobrefs
from dockyard.store.db import Database
from dockyard.store.tables import (
    BlobRefRow,
    DatasetVersionRow,
    ExperimentRow,
    ModelVersionRow,
    PredictionSegmentRow,
    RunRow,
    StepCacheRow,
    utcnow,
)

_BATCH = 500
_HOLD_SECONDS = 0.5  # longest a sweep transaction deletes (uploads of those blobs wait)
RETENTION_SECONDS = 30 * 86400

# The row that keeps each kind of blob owner alive: a reference whose owner row is gone
# (a purged run's child runs, a deleted project's everything) is dropped by ``purge``.
# Owner types not listed here are never dropped.
_OWNER_ROWS: dict[str, InstrumentedAttribute[str]] = {
    "run": RunRow.id,
    "dataset_version": DatasetVersionRow.id,
    "model_version": ModelVersionRow.id,
    "step_cache": StepCacheRow.key,
    "prediction_segment": PredictionSegmentRow.id,
}


class GcRequest(Model):
    dry_run: bool = False
    grace_seconds: Seconds = Field(
        3600,
        description="blobs younger than this, or leased by an upload within it, are kept "
        "(uploads in flight); it must exceed the time between an upload and its reference",
    )


class GcReport(Model):
    dry_run: bool
    blobs_scanned: int
    blobs_referenced: int
    blobs_deleted: int
    bytes_freed: int
    kept_recent: int
    staging_deleted: int


class PurgeRequest(Model):
    dry_run: bool = False
    older_than_seconds: int = Field(
        RETENTION_SECONDS,
        ge=0,
        description="the retention period of the bin: runs and experiments deleted longer "
        "ago than this are erased for good (0: everything deleted)",
    )


class PurgeReport(Model):
    dry_run: bool
    runs_purged: int = Field(description="deleted runs erased, with their child runs")
    experiments_purged: int = Field(description="deleted experiments erased, with their runs")
    refs_dropped: int = Field(
        description="blob references whose owner is gone (a purged run's, a deleted "
        "project's); ``gc`` then frees the blobs nothing else needs"
    )


def _orphan_refs(owner_type: str, column: InstrumentedAttribute[str]) -> object:
    return (BlobRefRow.owner_type == owner_type) & ~exists().where(column == BlobRefRow.owner_id)


class GarbageCollector:
    """Erases what was deleted long enough ago, and deletes unreferenced blobs older than
    the grace period and abandoned uploads."""

    service_name = "gc"

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    @operation("POST", "/gc/purge", on=SERVER, role=Role.ADMIN)
    def purge(self, principal: Principal, body: PurgeRequest) -> PurgeReport:
        """Empty the bin: erase runs and experiments deleted more than ``older_than_seconds``
        ago (until then ``restore`` brings them back), and drop the blob references of
        owners that are gone. Run ``gc`` afterwards to free the blobs. Destructive
        administration, like ``gc``."""
        cutoff = utcnow() - dt.timedelta(seconds=body.older_than_seconds)

        def erase(session: Session) -> PurgeReport:
            experiments = list(
                session.scalars(
                    select(ExperimentRow.id).where(
                        ExperimentRow.deleted_at.is_not(None), ExperimentRow.deleted_at <= cutoff
                    )
                )
            )
            runs = list(
                session.scalars(
                    select(RunRow.id).where(
                        RunRow.deleted_at.is_not(None),
                        RunRow.deleted_at <= cutoff,
                        RunRow.experiment_id.not_in(experiments),
                    )
                )
            )
            dropped = 0
            if not body.dry_run:
                # Child runs and an experiment's runs go by ON DELETE CASCADE.
                session.execute(delete(RunRow).where(RunRow.id.in_(runs)))
                session.execute(delete(ExperimentRow).where(ExperimentRow.id.in_(experiments)))
                for owner_type, column in _OWNER_ROWS.items():
                    result = session.execute(
                        delete(BlobRefRow).where(_orphan_refs(owner_type, column))  # type: ignore[arg-type]
                    )
                    dropped += int(getattr(result, "rowcount", 0) or 0)
            return PurgeReport(
                dry_run=body.dry_run,
                runs_purged=len(runs),
                experiments_purged=len(experiments),
                refs_dropped=dropped,
            )

        return self.db.write(erase)

    @operation("POST", "/gc/predictions", on=SERVER, role=Role.ADMIN)
    def prune_predictions(self, principal: Principal, body: PruneRequest) -> PruneReport:
        """Keep ``older_than_seconds`` of the prediction history: delete older segments of
        every model's prediction log, the monitor windows that ended before, and the labels
        of predictions made before (whole hours). Alerts stay. Run ``gc`` afterwards to
        free the segments' blobs. Destructive administration, like ``gc``."""
        return prune(self.db, body)

    def _delete_some(
        self, session: Session, digests: list[str], cutoff: dt.datetime
    ) -> tuple[list[str], list[str]]:
        """In one write transaction: delete those of ``digests`` still unreferenced and
        unleased, for at most ``_HOLD_SECONDS``; returns (deleted, left to re-check)."""
        doomed = sorted(blobleases.collectable(session, digests, cutoff))
        done: list[str] = []
        deadline = time.monotonic() + _HOLD_SECONDS
        # Deleted before the transaction ends: no upload can lease these meanwhile.
        for digest in doomed:
            self.blobs.delete(digest)
            done.append(digest)
            if time.monotonic() > deadline:
                break
        return done, doomed[len(done) :]

    def _sweep(self, digests: list[str], cutoff: dt.datetime, dry_run: bool) -> list[str]:
        """Delete those of ``digests`` still unreferenced and unleased; returns them."""
        if dry_run:
            return sorted(self.db.query(lambda s: blobleases.collectable(s, digests, cutoff)))
        gone: list[str] = []
        pending = digests
        while pending:
            done, pending = self.db.write(
                functools.partial(self._delete_some, digests=pending, cutoff=cutoff)
            )
            gone.extend(done)
        return gone

    @operation("POST", "/gc", on=SERVER, role=Role.ADMIN)
    def collect(self, principal: Principal, body: GcRequest) -> GcReport:
        """Collect garbage: unreferenced, unleased blobs and abandoned uploads older than
        the grace period."""
        cutoff = utcnow() - dt.timedelta(seconds=body.grace_seconds)
        referenced = self.db.query(lambda s: set(blobrefs.referenced(s)))
        scanned = kept_recent = deleted = freed = 0
        candidates: dict[str, int] = {}

        def sweep() -> None:
            nonlocal deleted, freed
            for digest in self._sweep(list(candidates), cutoff, body.dry_run):
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
        if not body.dry_run:
            self.db.write(lambda s: blobleases.expire(s, cutoff))

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
