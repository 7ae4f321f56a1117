"""Content addressing over any backend: sha256 keys, verified atomic writes, dedup."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.blobs.backend import CHUNK, BlobBackend, ObjectInfo
from dockyard.blobs.hashing import BackgroundSha256, VerifiedFiles, corrupt
from dockyard.core.errors import DigestMismatch, InvalidInput, NotFound

_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
BLOBS = "sha256"
STAGING = "staging"
DIGEST_HEADER = "X-Dockyard-Digest"  # an HTTP blob download's sha256, for the client to check


def check_digest(digest: str) -> str:
    """Accept ``<hex>`` or ``sha256:<hex>``; return the 64 hex characters."""
    value = digest.removeprefix("sha256:").lower() if isinstance(digest, str) else ""
    if not _DIGEST.match(value):
        raise InvalidInput(
            f"{digest!r} is not a sha256 digest: expected 64 hexadecimal characters, "
            "optionally prefixed with 'sha256:'"
        )
    return value


def blob_key(digest: str) -> str:
    return f"{BLOBS}/{digest[:2]}/{digest[2:4]}/{digest}"


@dataclass(frozen=True)
class StoredBlob:
    """The outcome of a put: the digest, the size, and whether the bytes were already there."""

    digest: str
    size: int
    deduplicated: bool


class _Hashing:
    """A read-through wrapper that counts what passes and hashes it (off the reading thread)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.sha = BackgroundSha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if data:
            self.size += len(data)
            self.sha.update(data)
        return data


class VerifiedReader:
    """A blob stream that raises :class:`CorruptBlob` at its end if the bytes were altered.

    ``digest`` is the blob's; with ``checked`` the bytes were verified before the stream
    was handed out (a local file hashed first), so nothing is hashed again.
    """

    def __init__(self, stream: BinaryIO, digest: str, *, checked: bool = False) -> None:
        self._stream = stream
        self.digest = digest
        self._sha = None if checked else hashlib.sha256()
        self._checked = checked

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if self._sha is not None:
            self._sha.update(data)
            if n is None or n < 0 or (not data and n != 0):
                self._check()
        return data

    def _check(self) -> None:
        if self._checked or self._sha is None:
            return
        self._checked = True
        actual = self._sha.hexdigest()
        if actual != self.digest:
            raise corrupt(self.digest, actual)

    def read_head(self, limit: int) -> bytes:
        """The first ``limit`` bytes; the rest is read too (and dropped) so that the whole
        blob is verified before the head is returned."""
        head = self.read(limit)
        while self.read(CHUNK):
            pass
        self._check()
        return head

    def fileno(self) -> int:
        """The file descriptor of a local blob file (lets the server send its size)."""
        return self._stream.fileno()

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(1 << 20):
            yield chunk

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> VerifiedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Lease = Callable[[list[str]], None]
"""Called with digests an upload is about to reuse or publish, before it checks whether
they are stored (see store/blobleases.py: how gc and uploads stay out of each other's way)."""


class BlobStore:
    """Bytes addressed by their sha256, on top of a dumb :class:`BlobBackend`."""

    def __init__(self, backend: BlobBackend, *, lease: Lease | None = None) -> None:
        self.backend = backend
        self._lease = lease
        self.verified = VerifiedFiles()

    def _hold(self, digests: list[str]) -> None:
        if self._lease is not None and digests:
            self._lease(digests)

    def claim(self, digests: list[str]) -> list[str]:
        """Lease ``digests`` for reuse (``gc`` keeps them through its grace period), then
        return those that are not stored. The lease comes first: a blob found here stays
        until the caller references it."""
        wanted = [check_digest(d) for d in digests]
        self._hold(wanted)
        return [d for d in wanted if not self.backend.exists(blob_key(d))]

    def put(self, stream: BinaryIO, *, digest: str | None = None) -> StoredBlob:
        """Store a stream; a reader never sees the blob before all of it is verified.

        With ``digest`` given, bytes that hash to anything else are rejected and nothing
        is kept.
        """
        expected = check_digest(digest) if digest is not None else None
        staging = f"{STAGING}/{uuid.uuid4().hex}"
        hashing = _Hashing(stream)
        try:
            try:
                self.backend.put(staging, hashing)  # type: ignore[arg-type]
            finally:
                hashing.sha.close()
            actual = hashing.sha.hexdigest()
            if expected is not None and actual != expected:
                raise DigestMismatch(
                    f"the bytes sent hash to sha256:{actual}, not the announced "
                    f"sha256:{expected}; nothing was stored"
                )
            self._hold([actual])  # before the existence check: gc cannot take it from now on
            if self.backend.exists(blob_key(actual)):
                # put() did not make the staged copy durable (move() does): dropping a
                # duplicate costs no fsync.
                self.backend.delete(staging)
                return StoredBlob(actual, hashing.size, deduplicated=True)
            self.backend.move(staging, blob_key(actual))
        except BaseException:
            self.backend.delete(staging)
            raise
        path = self._disk_path(actual)
        if path is not None:
            self.verified.remember(path, actual)  # hashed as written: reading it is free
        return StoredBlob(actual, hashing.size, deduplicated=False)

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store a small in-memory value."""
        return self.put(io.BytesIO(data))

    def open(self, digest: str) -> VerifiedReader:
        """Read a blob, verified: altered bytes raise :class:`CorruptBlob`, never pass.

        A blob on a local disk is hashed before its first byte is handed out (once per
        process while the file stays unchanged, see :class:`VerifiedFiles`), so a server
        refuses it before it starts a response. A remote blob is hashed as it streams and
        its end raises instead: callers write to a temporary name and drop it then.
        """
        digest = check_digest(digest)
        path = self._disk_path(digest)
        if path is not None:
            try:
                self.verified.check(path, digest)
                return VerifiedReader(open(path, "rb"), digest, checked=True)
            except FileNotFoundError:
                raise NotFound(f"no blob sha256:{digest} is stored") from None
        try:
            stream = self.backend.open(blob_key(digest))
        except NotFound:
            raise NotFound(f"no blob sha256:{digest} is stored") from None
        return VerifiedReader(stream, digest)

    def open_seekable(self, digest: str) -> BinaryIO:
        """A verified, seekable stream of a blob (for readers that seek, like Parquet's).

        A local file is verified first and opened as it is; a remote blob is copied to a
        temporary file (in memory up to 64 MiB) while it is hashed, and handed out only if
        it matches: a full read even where the reader would read less, the price of never
        using unverified bytes.
        """
        digest = check_digest(digest)
        path = self._disk_path(digest)
        if path is not None:
            try:
                return open(self.verified.check(path, digest), "rb")
            except FileNotFoundError:
                raise NotFound(f"no blob sha256:{digest} is stored") from None
        spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115
        try:
            with self.open(digest) as stream:
                shutil.copyfileobj(stream, spool, CHUNK)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool  # type: ignore[return-value]

    def read_bytes(self, digest: str) -> bytes:
        """A small blob, verified, in memory."""
        with self.open(digest) as stream:
            return stream.read()

    def exists(self, digest: str) -> bool:
        return self.backend.exists(blob_key(check_digest(digest)))

    def _disk_path(self, digest: str) -> Path | None:
        disk_path = getattr(self.backend, "disk_path", None)
        if disk_path is None:
            return None
        path: Path = disk_path(blob_key(digest))
        return path

    def local_path(self, digest: str) -> Path | None:
        """The file holding a blob when the backend keeps it on a local disk, else None.

        The file is verified against the digest first (once per process while it stays
        unchanged; :class:`CorruptBlob` if it was altered). Read it, never write it: it is
        the stored blob itself.
        """
        digest = check_digest(digest)
        path = self._disk_path(digest)
        if path is None:
            return None
        if not path.is_file():
            raise NotFound(f"no blob sha256:{digest} is stored")
        return self.verified.check(path, digest)

    def local_copy(self, digest: str, cache_dir: Path) -> Path:
        """A local file with a blob's bytes, verified: the stored file itself on a local
        disk, else a verified copy kept in ``cache_dir`` (blobs never change, so the copy
        stays valid; it is verified again, once per process, before each use)."""
        digest = check_digest(digest)
        direct = self.local_path(digest)
        if direct is not None:
            return direct
        target = cache_dir / digest[:2] / digest
        if target.is_file():
            try:
                return self.verified.check(target, digest)
            except DigestMismatch:
                target.unlink(missing_ok=True)  # a damaged cache copy: fetch it again
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{digest}.{uuid.uuid4().hex}.part")
        try:
            with self.open(digest) as stream, open(partial, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target

    def delete(self, digest: str) -> None:
        self.backend.delete(blob_key(check_digest(digest)))

    def list(self) -> Iterator[ObjectInfo]:
        """Every published blob, keyed by its digest."""
        for info in self.backend.list(BLOBS):
            name = info.key.rsplit("/", 1)[-1]
            if _DIGEST.match(name):
                yield ObjectInfo(key=name, size=info.size, modified=info.modified)

    def staged(self) -> Iterator[ObjectInfo]:
        """Uploads in progress or abandoned (GC removes the old ones)."""
        yield from self.backend.list(STAGING)
