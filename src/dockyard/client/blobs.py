"""Raw content-addressed bytes from the SDK: ``dy.connect().blobs``."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import BinaryIO

from dockyard.blobs.service import BlobInfo, BlobService
from dockyard.client.transport import Transport
from dockyard.core.operations import operations_by_name

_OPS = operations_by_name(BlobService)


class BlobsClient:
    """Upload and download blobs by sha256 digest."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

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
        """A (small) blob's bytes in memory."""
        with self.open(digest) as stream:
            return stream.read()

    def download(self, digest: str, path: str | Path) -> Path:
        """Write a blob to ``path`` (atomically: a partial download never has that name)."""
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        with self.open(digest) as stream, open(partial, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        partial.replace(target)
        return target

    def info(self, digest: str) -> BlobInfo:
        """A blob's digest and size; raises NotFound."""
        result: BlobInfo = self._transport.call(_OPS["info"], {"digest": digest})
        return result
