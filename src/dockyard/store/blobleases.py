"""Blob leases: the handshake that keeps ``gc`` from deleting a blob an upload is reusing.

An upload writes (or refreshes) a lease on a digest *before* it checks whether the blob is
stored, and references it within the grace period. ``gc`` deletes a blob only inside a
write transaction that first shuts that blob's lease writers out, then finds no reference
and no lease younger than the grace period, and deletes the blob before it commits. So
either the lease commits first (gc sees it and keeps the blob) or gc's delete is done
first (the upload then finds the blob gone and publishes its own bytes).

The lock: on SQLite, write transactions are serialized (``BEGIN IMMEDIATE``), so a lease
write simply waits for gc's transaction. On PostgreSQL, a transaction-scoped advisory
lock per digest, shared for lease writers (uploads never wait for each other) and
exclusive for gc.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from dockyard.store.db import Database
from dockyard.store.tables import BlobLeaseRow, BlobRefRow, utcnow
from dockyard.store.upsert import upsert


def lock_key(digest: str) -> int:
    """The advisory lock key of a digest: its first 64 bits, as a signed bigint."""
    return int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)


def _lock(session: Session, digests: Iterable[str], *, exclusive: bool) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the write transaction already holds the only write lock
    keys = sorted({lock_key(d) for d in digests})  # one order for everyone: no deadlocks
    if not keys:
        return
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(
        text(
            f"SELECT count({fn}(k)) FROM "
            "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS sorted_keys"
        ),
        {"keys": keys},
    )


def hold(session: Session, digests: Iterable[str]) -> None:
    """Lease ``digests`` now (in a write transaction that commits before the caller checks
    whether the blobs are stored)."""
    wanted = sorted(set(digests))
    if not wanted:
        return
    _lock(session, wanted, exclusive=False)
    now = utcnow()
    upsert(session, BlobLeaseRow, [{"digest": d, "leased_at": now} for d in wanted], ["digest"])


class BlobLeases:
    """Leases written through a database: what :class:`~dockyard.blobs.store.BlobStore`
    calls before it reuses (or publishes) a blob."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, digests: Iterable[str]) -> None:
        wanted = sorted(set(digests))
        if wanted:
            self.db.write(lambda session: hold(session, wanted))


def collectable(session: Session, digests: Iterable[str], cutoff: dt.datetime) -> set[str]:
    """Of ``digests``, those nothing references and nobody leased after ``cutoff``.

    Call it in a write transaction and delete the blobs before that transaction commits:
    until then no upload can lease them (PostgreSQL: exclusive advisory locks taken here;
    SQLite: the write lock).
    """
    wanted = sorted(set(digests))
    if not wanted:
        return set()
    _lock(session, wanted, exclusive=True)
    referenced = session.scalars(select(BlobRefRow.digest).where(BlobRefRow.digest.in_(wanted)))
    leased = session.scalars(
        select(BlobLeaseRow.digest).where(
            BlobLeaseRow.digest.in_(wanted), BlobLeaseRow.leased_at > cutoff
        )
    )
    return set(wanted) - set(referenced) - set(leased)


def expire(session: Session, cutoff: dt.datetime) -> int:
    """Forget leases taken at or before ``cutoff``; returns how many."""
    result = session.execute(delete(BlobLeaseRow).where(BlobLeaseRow.leased_at <= cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
