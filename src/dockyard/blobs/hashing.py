"""sha256 that overlaps I/O: large inputs are hashed in a helper thread (hashlib releases
the GIL), so hashing one block runs while the next is read or written."""

from __future__ import annotations

import hashlib
import queue
import threading
from pathlib import Path

from dockyard.blobs.backend import CHUNK
from dockyard.core.errors import CorruptBlob


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, hex."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def corrupt(digest: str, actual: str) -> CorruptBlob:
    """The error for a stored blob whose bytes hash to ``actual``."""
    return CorruptBlob(
        f"blob sha256:{digest} is corrupt: its stored bytes hash to sha256:{actual}, so they "
        "were refused; restore the blob from a backup or delete what uses it"
    )


class VerifiedFiles:
    """Files already hashed to their digest by this process, so that reading a blob file
    many times (DuckDB queries, Parquet reads) hashes it once.

    A file counts as verified while its device, inode, size, mtime and ctime (ns) are the
    ones it had when it was hashed: writing to a file or replacing it changes its ctime,
    which no user can set back, so a file altered since is hashed again. One instance per
    blob store or client; it never holds more than ``limit`` entries.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._seen: dict[tuple[str, int, int, int, int, int], str] = {}
        self._limit = limit
        self._lock = threading.Lock()

    @staticmethod
    def _key(path: Path) -> tuple[str, int, int, int, int, int]:
        st = path.stat()
        return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def check(self, path: Path, digest: str) -> Path:
        """Return ``path`` if its bytes hash to ``digest``; else raise :class:`CorruptBlob`."""
        before = self._key(path)
        with self._lock:
            if self._seen.get(before) == digest:
                return path
        actual = file_sha256(path)
        if actual != digest:
            raise corrupt(digest, actual)
        if self._key(path) == before:  # unchanged while it was hashed
            self._add(before, digest)
        return path

    def remember(self, path: Path, digest: str) -> None:
        """Record that ``path`` holds ``digest``'s bytes because this process just wrote
        them, hashing them on the way (a blob it stored): its first read is free too."""
        self._add(self._key(path), digest)

    def _add(self, key: tuple[str, int, int, int, int, int], digest: str) -> None:
        with self._lock:
            if len(self._seen) >= self._limit:
                self._seen.clear()
            self._seen[key] = digest


class BackgroundSha256:
    """Feed bytes with :meth:`update`; :meth:`hexdigest` waits for the hasher and answers.

    Pieces are handed over in batches of about ``CHUNK`` bytes through a bounded queue
    (bounded memory); input smaller than one batch never starts a thread.
    """

    def __init__(self, depth: int = 4) -> None:
        self._sha = hashlib.sha256()
        self._queue: queue.Queue[list[bytes] | None] = queue.Queue(depth)
        self._thread: threading.Thread | None = None
        self._batch: list[bytes] = []
        self._batched = 0

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            for piece in batch:
                self._sha.update(piece)

    def update(self, data: bytes) -> None:
        self._batch.append(data)
        self._batched += len(data)
        if self._batched >= CHUNK:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="blob-hash", daemon=True)
                self._thread.start()
            self._queue.put(self._batch)
            self._batch, self._batched = [], 0

    def close(self) -> None:
        """Hash what is left and stop the helper thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            if self._batch:
                self._queue.put(self._batch)
            self._queue.put(None)
            self._thread.join()
        elif self._thread is None:
            for piece in self._batch:
                self._sha.update(piece)
        self._batch, self._batched = [], 0

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()

    def __enter__(self) -> BackgroundSha256:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
