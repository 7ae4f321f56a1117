"""The embedded online store: one SQLite file in WAL mode on the local machine."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from dockyard.features.stores.base import Change
from dockyard.features.stores.writer_lock import file_lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_records (
    id INTEGER PRIMARY KEY, view TEXT NOT NULL, entity TEXT NOT NULL, record BLOB NOT NULL,
    UNIQUE (view, entity)
);
CREATE TABLE IF NOT EXISTS online_views (view TEXT PRIMARY KEY, state BLOB NOT NULL);
DROP TABLE IF EXISTS feature_records;
DROP TABLE IF EXISTS feature_views;
"""
# Records are kilobytes (a state of buckets per feature): a rowid table keeps them in its
# leaves, beside a small index of (view, entity); a WITHOUT ROWID table would carry them
# through its B-tree and was 2-5x slower to write. Large pages suit large records.
# feature_records / feature_views held the records of an older format that no lookup can
# read any more (their values are rebuilt by materializing again): they are dropped.
_PAGE_SIZE = 16384
_CACHE_KIB = 65536
_CHUNK = 500  # keys per SELECT ... IN (...), under SQLite's variable limit


class SQLiteOnlineStore:
    """Records in a SQLite file (WAL, busy timeout, short write transactions).

    One connection per store object, guarded by a lock, so it can be shared by threads.
    ``generation`` combines SQLite's ``data_version`` (which moves when another connection
    commits) with this connection's own writes.
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA page_size={_PAGE_SIZE}")  # applies to a new file only
        self._db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._writes = 0

    def read(self, view: str, keys: Sequence[str]) -> tuple[bytes | None, list[bytes | None]]:
        found: dict[str, bytes] = {}
        with self._lock:
            self._db.execute("BEGIN")  # one snapshot for the state and the records
            try:
                state = self._db.execute(
                    "SELECT state FROM online_views WHERE view = ?", (view,)
                ).fetchone()
                found = self._records(view, keys)
            finally:
                self._db.execute("COMMIT")
        return (None if state is None else bytes(state[0])), [found.get(k) for k in keys]

    def _records(self, view: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored records of ``keys`` (under the lock, inside a transaction)."""
        found: dict[str, bytes] = {}
        for at in range(0, len(keys), _CHUNK):
            part = list(keys[at : at + _CHUNK])
            marks = ",".join("?" * len(part))
            found.update(
                self._db.execute(
                    "SELECT entity, record FROM online_records "
                    f"WHERE view = ? AND entity IN ({marks})",
                    [view, *part],
                )
            )
        return found

    def read_state(self, view: str) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM online_views WHERE view = ?", (view,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def write(self, view: str, records: Mapping[str, bytes], state: bytes) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO online_records (view, entity, record) VALUES (?, ?, ?)",
                    [(view, k, v) for k, v in records.items()],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO online_views (view, state) VALUES (?, ?)",
                    (view, state),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._writes += 1

    def update(
        self, view: str, chunks: Iterable[Sequence[str]], change: Change, state: bytes
    ) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # reads and writes in one transaction
            try:
                for number, keys in enumerate(chunks):
                    found = self._records(view, keys)
                    records = change(number, [found.get(k) for k in keys])
                    self._db.executemany(
                        "INSERT OR REPLACE INTO online_records (view, entity, record) "
                        "VALUES (?, ?, ?)",
                        ((view, k, v) for k, v in records.items()),
                    )
                self._db.execute(
                    "INSERT OR REPLACE INTO online_views (view, state) VALUES (?, ?)",
                    (view, state),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._writes += 1

    def drop(self, view: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM online_records WHERE view = ?", (view,))
            self._db.execute("DELETE FROM online_views WHERE view = ?", (view,))
            self._db.execute("COMMIT")
            self._writes += 1

    def writing(self, view: str) -> AbstractContextManager[None]:
        return file_lock(self.path.with_name(self.path.name + ".locks"), view)

    def generation(self) -> int | None:
        with self._lock:
            (version,) = self._db.execute("PRAGMA data_version").fetchone()
            return (int(version) << 32) + self._writes

    def close(self) -> None:
        with self._lock:
            self._db.close()
