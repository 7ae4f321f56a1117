"""Blob references: what keeps a blob alive. Garbage collection deletes blobs with none."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dockyard.store.tables import BlobRefRow, utcnow


def add_refs(session: Session, owner_type: str, owner_id: str, digests: Iterable[str]) -> None:
    """Record that ``owner`` needs each of ``digests`` (idempotent)."""
    now = utcnow()
    rows = [
        {"digest": d, "owner_type": owner_type, "owner_id": owner_id, "created_at": now}
        for d in set(digests)
    ]
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        # The PostgreSQL dialect package costs ~0.1 s to import; load it only when used.
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(BlobRefRow).on_conflict_do_nothing(), rows)
    else:
        session.execute(sqlite_insert(BlobRefRow).on_conflict_do_nothing(), rows)


def drop_refs(session: Session, owner_type: str, owner_id: str) -> None:
    """Forget everything ``owner`` referenced (its blobs become collectable if unshared)."""
    session.execute(
        delete(BlobRefRow).where(
            BlobRefRow.owner_type == owner_type, BlobRefRow.owner_id == owner_id
        )
    )


def referenced(session: Session) -> Iterator[str]:
    """Every referenced digest (streamed)."""
    yield from session.scalars(select(BlobRefRow.digest).distinct()).yield_per(10_000)


def drop_ref(session: Session, owner_type: str, owner_id: str, digest: str) -> None:
    """Forget that ``owner`` needs one blob."""
    session.execute(
        delete(BlobRefRow).where(
            BlobRefRow.owner_type == owner_type,
            BlobRefRow.owner_id == owner_id,
            BlobRefRow.digest == digest,
        )
    )
