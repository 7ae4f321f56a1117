"""Schema migrations: applied on first use, safely when many processes start at once.

The whole upgrade runs in one transaction that first takes a lock (``BEGIN IMMEDIATE``
on SQLite, an advisory transaction lock on PostgreSQL); both databases have
transactional DDL, so a schema is either fully upgraded or untouched, and a process
that waited on the lock finds the work done.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from dockyard.core.errors import Unavailable
from dockyard.store.db import Database

HEAD = "0020"
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x646F636B  # "dock"


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at, or None for an empty database."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database, revision: str = "head") -> str | None:
    """Upgrade the schema to ``revision`` under a lock; return the revision reached."""
    return upgrade_from(db, revision)[1]


def upgrade_from(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the schema to ``revision`` under a lock; return (from, to) revisions.

    ``from`` is read once the lock is held: a process that waited while another upgraded
    reports the revision it found, not the one before the other's upgrade."""
    # alembic costs ~0.2 s to import: load it only when a migration is due.
    from alembic import command
    from alembic.config import Config
    from alembic.util.exc import CommandError

    try:
        with db.write_connection() as conn:
            if db.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            before = current_revision(conn)
            try:
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
            except CommandError as exc:
                raise Unavailable(
                    f"the database at {db.safe_url} is at schema revision {before!r}, which this "
                    f"version of dockyard does not know ({exc}); upgrade dockyard"
                ) from exc
            return before, current_revision(conn)
    except DBAPIError as exc:
        if exc.connection_invalidated or "connect" in str(exc.orig).lower():
            raise db.unreachable(exc) from exc
        raise


def ensure_schema(db: Database) -> None:
    """Bring the schema to the head revision if it is not there yet (cheap when it is)."""
    try:
        with db.engine.connect() as conn:
            if current_revision(conn) == HEAD:
                return
    except DBAPIError as exc:
        raise db.unreachable(exc) from exc
    upgrade(db)
