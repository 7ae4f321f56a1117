"""Raw content-addressed bytes from the SDK: ``dy.connect().blobs``."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.blobs.backend import CHUNK
from dockyard.blobs.hashing import BackgroundSha256, VerifiedFiles, corrupt
from dockyard.blobs.service import BlobInfo, BlobService
from dockyard.blobs.store import check_digest
from dockyard.client.transport import Transport
from dockyard.core.errors import DigestMismatch
from dockyard.core.operations import operations_by_name

_OPS = operations_by_name(BlobService)


def _chunks_of(stream: BinaryIO) -> Iterator[bytes]:
    """A stream's bytes as they come: a response's own chunks, else ``CHUNK``-sized reads."""
    chunks = getattr(stream, "chunks", None)
    if callable(chunks):
        yield from chunks()
        return
    while chunk := stream.read(CHUNK):
        yield chunk


def write_verified(
    stream: BinaryIO,
    target: Path,
    *,
    expected: str | None = None,
    on_chunk: Callable[[int], object] | None = None,
) -> Path:
    """Write a blob stream to ``target`` through ``<target>.part``, hashing it on the way.

    ``expected`` defaults to the digest the stream carries (a server's
    ``X-Dockyard-Digest`` header, or an in-process blob reader's own). Bytes that hash to
    anything else raise :class:`~dockyard.core.errors.CorruptBlob` and, like any failure
    (a stream that breaks off, a full disk), leave nothing behind: neither ``target`` nor
    the ``.part`` file.
    """
    digest = expected or getattr(stream, "digest", None)
    partial = target.with_name(target.name + ".part")
    try:
        with BackgroundSha256() as sha, open(partial, "wb") as out:
            for chunk in _chunks_of(stream):
                sha.update(chunk)
                out.write(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))
            actual = sha.hexdigest()
        if digest is not None and actual != digest:
            raise corrupt(digest, actual)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


class BlobsClient:
    """Upload and download blobs by sha256 digest."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._verified = VerifiedFiles()

    def put(self, data: bytes | BinaryIO, *, digest: str | None = None) -> BlobInfo:
        """Store bytes or a binary stream; returns its digest and size."""
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        result: BlobInfo = self._transport.call(_OPS["upload"], {"data": stream, "digest": digest})
        return result

    def put_file(self, path: str | Path, *, digest: str | None = None) -> BlobInfo:
        """Store a file, streamed."""
        with open(path, "rb") as stream:
            return self.put(stream, digest=digest)

    def open(self, digest: str) -> BinaryIO:
        """A stream of a blob's bytes; close it when done."""
        stream: BinaryIO = self._transport.call(_OPS["download"], {"digest": digest})
        return stream

    def get(self, digest: str) -> bytes:
        """A (small) blob's bytes in memory, verified against ``digest``."""
        expected = check_digest(digest)
        with self.open(expected) as stream:
            data = stream.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise corrupt(expected, actual)
        return data

    def download(self, digest: str, path: str | Path) -> Path:
        """Write a blob to ``path``, verified and atomically.

        The bytes go to ``<path>.part`` as they arrive and are hashed on the way; only if
        they hash to ``digest`` is the file renamed to ``path``. Otherwise
        :class:`~dockyard.core.errors.CorruptBlob` (a :class:`DigestMismatch`) is raised
        and nothing is left behind.
        """
        expected = check_digest(digest)
        with self.open(expected) as stream:
            return write_verified(stream, Path(path), expected=expected)

    def local_copy(self, digest: str, cache_dir: Path) -> Path:
        """A local file with a blob's bytes, for tools that read files (DuckDB, pyarrow).

        Embedded on a local disk this is the stored file itself (read it, never write it);
        otherwise a verified copy in ``cache_dir``, downloaded once: blobs never change.
        """
        expected = check_digest(digest)
        in_process = getattr(self._transport, "local_blob_copy", None)
        if in_process is not None:
            path: Path = in_process(expected, cache_dir)
            return path
        target = cache_dir / expected[:2] / expected
        if target.is_file():
            try:
                return self._verified.check(target, expected)
            except DigestMismatch:
                target.unlink(missing_ok=True)  # a damaged cache copy: fetch it again
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            # A private name first: other processes may be fetching the same blob.
            private = target.with_name(f"{expected}.{uuid.uuid4().hex}")
            self.download(expected, private)
            private.replace(target)
        return target

    def verify_file(self, path: Path, digest: str) -> Path:
        """``path`` if its bytes hash to ``digest`` (hashed once per process while the file
        stays unchanged); else :class:`~dockyard.core.errors.CorruptBlob`."""
        return self._verified.check(path, check_digest(digest))

    def info(self, digest: str) -> BlobInfo:
        """A blob's digest and size; raises NotFound."""
        result: BlobInfo = self._transport.call(_OPS["info"], {"digest": digest})
        return result
