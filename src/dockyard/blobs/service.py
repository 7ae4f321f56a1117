"""Blob operations served to clients: upload a stream, download it, ask for its size."""

from __future__ import annotations

from typing import BinaryIO

from dockyard.blobs.store import BlobStore, StoredBlob, blob_key, check_digest
from dockyard.core.errors import NotFound
from dockyard.core.operations import ANYWHERE, operation
from dockyard.core.principal import Principal
from dockyard.core.schemas import Model


class BlobInfo(Model):
    digest: str
    size: int
    deduplicated: bool = False

    @classmethod
    def of(cls, stored: StoredBlob) -> BlobInfo:
        return cls(digest=stored.digest, size=stored.size, deduplicated=stored.deduplicated)


class BlobService:
    """Raw content-addressed bytes. An upload nothing references is collected by ``gc``
    after the grace period, so capabilities reference a blob right after uploading it."""

    service_name = "blobs"

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    @operation("POST", "/blobs", status=201, on=ANYWHERE, audit=False)
    def upload(self, principal: Principal, data: BinaryIO, digest: str | None = None) -> BlobInfo:
        """Upload bytes; with ``digest``, bytes that hash otherwise are rejected."""
        return BlobInfo.of(self.blobs.put(data, digest=digest))

    @operation("GET", "/blobs/{digest}", on=ANYWHERE)
    def download(self, principal: Principal, digest: str) -> BinaryIO:
        """Stream a blob's bytes, verified: a corrupt blob on a local disk is a 409 before
        any byte is sent; on remote storage it is found only once its bytes have streamed,
        so the response carries ``X-Dockyard-Digest`` and the client refuses them."""
        return self.blobs.open(digest)  # type: ignore[return-value]

    @operation("GET", "/blobs/{digest}/info", on=ANYWHERE)
    def info(self, principal: Principal, digest: str) -> BlobInfo:
        """A blob's digest and size; NotFound if it is not stored. A blob found is leased:
        ``gc`` keeps it through its grace period, so the caller can reference it instead
        of uploading it again."""
        digest = check_digest(digest)
        if self.blobs.claim([digest]):
            raise NotFound(f"no blob sha256:{digest} is stored")
        for obj in self.blobs.backend.list(blob_key(digest).rsplit("/", 1)[0]):
            if obj.key.endswith(digest):
                return BlobInfo(digest=digest, size=obj.size)
        raise NotFound(f"no blob sha256:{digest} is stored")
