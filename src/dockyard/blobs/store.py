"""Content addressing over any backend: sha256 keys, verified atomic writes, dedup."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.blobs.backend import CHUNK, BlobBackend, ObjectInfo
from dockyard.blobs.hashing import BackgroundSha256
from dockyard.core.errors import DigestMismatch, InvalidInput, NotFound

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
BLOBS = "sha256"
STAGING = "staging"


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
    """A blob stream that raises :class:`DigestMismatch` at its end if the bytes were altered."""

    def __init__(self, stream: BinaryIO, digest: str) -> None:
        self._stream = stream
        self._digest = digest
        self._sha = hashlib.sha256()
        self._checked = False

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._sha.update(data)
        if n is None or n < 0 or (not data and n != 0):
            self._check()
        return data

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._sha.hexdigest() != self._digest:
            raise DigestMismatch(
                f"blob {self._digest} is corrupt: its stored bytes hash to {self._sha.hexdigest()}"
            )

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(1 << 20):
            yield chunk

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> VerifiedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlobStore:
    """Bytes addressed by their sha256, on top of a dumb :class:`BlobBackend`."""

    def __init__(self, backend: BlobBackend) -> None:
        self.backend = backend

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
            if self.backend.exists(blob_key(actual)):
                # put() did not make the staged copy durable (move() does): dropping a
                # duplicate costs no fsync.
                self.backend.delete(staging)
                return StoredBlob(actual, hashing.size, deduplicated=True)
            self.backend.move(staging, blob_key(actual))
        except BaseException:
            self.backend.delete(staging)
            raise
        return StoredBlob(actual, hashing.size, deduplicated=False)

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store a small in-memory value."""
        return self.put(io.BytesIO(data))

    def open(self, digest: str, *, verify: bool = False) -> BinaryIO:
        """Read a blob; with ``verify`` the stream checks the digest when it reaches the end."""
        digest = check_digest(digest)
        try:
            stream = self.backend.open(blob_key(digest))
        except NotFound:
            raise NotFound(f"no blob sha256:{digest} is stored") from None
        return VerifiedReader(stream, digest) if verify else stream  # type: ignore[return-value]

    def read_bytes(self, digest: str) -> bytes:
        """A small blob, verified, in memory."""
        with self.open(digest, verify=True) as stream:
            return stream.read()

    def exists(self, digest: str) -> bool:
        return self.backend.exists(blob_key(check_digest(digest)))

    def local_path(self, digest: str) -> Path | None:
        """The file holding a blob when the backend keeps it on a local disk, else None.

        Read it, never write it: it is the stored blob itself.
        """
        disk_path = getattr(self.backend, "disk_path", None)
        if disk_path is None:
            return None
        path: Path = disk_path(blob_key(check_digest(digest)))
        if not path.is_file():
            raise NotFound(f"no blob sha256:{digest} is stored")
        return path

    def local_copy(self, digest: str, cache_dir: Path) -> Path:
        """A local file with a blob's bytes: the stored file itself on a local disk, else a
        verified copy kept in ``cache_dir`` (blobs never change, so the copy stays valid)."""
        direct = self.local_path(digest)
        if direct is not None:
            return direct
        target = cache_dir / digest[:2] / digest
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{digest}.{uuid.uuid4().hex}.part")
        try:
            with self.open(digest, verify=True) as stream, open(partial, "wb") as out:
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
