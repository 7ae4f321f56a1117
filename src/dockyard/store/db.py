"""The metadata database: engines, short transactions, and retries that hide lock contention.

SQLite runs in WAL mode with a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of failing when a
reader upgrades to a writer. Transient lock errors that slip through are retried, so
"database is locked" never reaches a user.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import Executable

from dockyard.core.errors import InvalidInput, Unavailable

T = TypeVar("T")
SQLITE_BUSY_TIMEOUT_S = 60
_RETRIES = 12
_WRITE = "dockyard_write"


def normalize_url(url: str) -> URL:
    """Parse a database URL, choosing psycopg 3 for PostgreSQL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InvalidInput(
            f"database URL {url!r} is not valid; use sqlite:///path/to/file.db or "
            "postgresql://user@host:port/dbname"
        ) from exc
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("sqlite", "postgresql+psycopg"):
        raise InvalidInput(
            f"database URL scheme {parsed.drivername!r} is not supported; use sqlite or postgresql"
        )
    if parsed.drivername == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise InvalidInput("an in-memory SQLite database cannot be shared; give a file path")
    return parsed


def bad_value(exc: DataError | OverflowError) -> InvalidInput:
    """The error for a value the database cannot hold (a NUL character, an integer beyond
    64 bits): the request's fault, so a 422 that says which, never a 500.

    The schemas refuse such values first; this catches any that reach the database."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)
    return InvalidInput(
        f"a value cannot be stored: {reason}. Text must not contain NUL characters and "
        f"integers must lie between {-(2**63)} and {2**63 - 1}"
    )


def _is_transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return (
        "database is locked" in text
        or "database table is locked" in text
        or "deadlock detected" in text
        or "could not serialize access" in text
    )


class Database:
    """A metadata database: a read session for queries, :meth:`write` for short writes."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.dialect = "sqlite" if self.url.drivername == "sqlite" else "postgresql"
        self.engine = self._create_engine()
        self._writer = self.engine.execution_options(**{_WRITE: True})
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._writer, expire_on_commit=False)

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)

    def _create_engine(self) -> Engine:
        if self.dialect == "postgresql":
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise InvalidInput(
                    "PostgreSQL needs the psycopg driver: pip install 'dockyard[postgres]'"
                ) from None
            return create_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=10,
                connect_args={"connect_timeout": 5},
            )
        assert self.url.database is not None
        Path(self.url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            self.url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    def _retrying(self, fn: Callable[[], T]) -> T:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
        for attempt in range(_RETRIES):
            try:
                return fn()
            except (DataError, OverflowError) as exc:  # SQLite binds raise OverflowError
                raise bad_value(exc) from exc
            except DBAPIError as exc:
                if _is_transient(exc):
                    if attempt < _RETRIES - 1 and time.monotonic() < deadline:
                        time.sleep(min(2.0, 0.01 * 2**attempt) * (0.5 + random.random()))
                        continue
                    raise Unavailable(
                        f"the metadata database at {self.safe_url} stayed locked by another "
                        f"writer for over {SQLITE_BUSY_TIMEOUT_S} s; find the stuck process or "
                        "move a busy team to PostgreSQL"
                    ) from exc
                if isinstance(exc, OperationalError) and exc.connection_invalidated:
                    raise self.unreachable(exc) from exc
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def unreachable(self, exc: BaseException) -> Unavailable:
        """The error for a database that cannot be reached."""
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else repr(exc)
        return Unavailable(
            f"cannot reach the metadata database at {self.safe_url}: {reason}. "
            "Check DOCKYARD_DB (or --db) and that the database server is running."
        )

    def query(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a read session, retrying transient lock errors."""

        def attempt() -> T:
            with self._read_sessions() as session:
                return fn(session)

        return self._retrying(attempt)

    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in one short write transaction, committed on success, retried on locks.

        ``fn`` may run more than once, so it must not have side effects outside the session.
        """

        def attempt() -> T:
            with self._write_sessions() as session, session.begin():
                return fn(session)

        return self._retrying(attempt)

    def rows(self, stmt: Executable, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a Core statement run on a pooled connection, without an ORM session
        (for hot read paths: a fraction of a session's cost), retrying transient lock
        errors."""

        def attempt() -> list[tuple[Any, ...]]:
            with self.engine.connect() as conn:
                return [tuple(row) for row in conn.execute(stmt, params)]

        return self._retrying(attempt)

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A raw connection inside a write transaction (for migrations and bulk loads)."""
        try:
            with self._writer.begin() as conn:
                yield conn
        except (DataError, OverflowError) as exc:
            raise bad_value(exc) from exc

    def check_reachable(self) -> None:
        """Raise :class:`Unavailable` with a clear message if the database cannot be reached."""
        try:
            with self.engine.connect():
                pass
        except DBAPIError as exc:
            raise self.unreachable(exc) from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    for _ in range(_RETRIES):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            break
        except Exception as exc:  # first open of a fresh file by many processes at once
            if "locked" not in str(exc):
                raise
            time.sleep(0.05 * (0.5 + random.random()))
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA case_sensitive_like = ON")  # LIKE as on PostgreSQL; ILIKE ignores case
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
