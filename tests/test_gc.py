"""Garbage collection removes unreferenced blobs from the backing store itself (S3 included)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import s3fs

from dockyard.client.client import Client
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput
from dockyard.core.principal import local_principal
from dockyard.gc.service import GcRequest
from dockyard.services import Services
from dockyard.store import blobrefs


def _reference(services: Services, digest: str, owner: str = "run-1") -> None:
    services.db.write(lambda s: blobrefs.add_refs(s, "test", owner, [digest]))


def test_gc_deletes_only_unreferenced_blobs(client: Client, services: Services) -> None:
    kept = client.blobs.put(b"referenced")
    doomed = client.blobs.put(b"garbage")
    _reference(services, kept.digest)

    dry = client.gc(dry_run=True, grace_seconds=0)
    assert (dry.blobs_deleted, dry.bytes_freed, dry.dry_run) == (1, len(b"garbage"), True)
    assert client.blobs.get(doomed.digest) == b"garbage"

    report = client.gc(grace_seconds=0)
    assert report.blobs_scanned == 2
    assert report.blobs_deleted == 1
    assert report.blobs_referenced == 1
    assert client.blobs.get(kept.digest) == b"referenced"
    assert not services.blob_store.exists(doomed.digest)


def test_gc_keeps_recent_uploads_within_the_grace_period(client: Client) -> None:
    fresh = client.blobs.put(b"just uploaded")
    report = client.gc(grace_seconds=3600)
    assert report.blobs_deleted == 0
    assert report.kept_recent == 1
    assert client.blobs.get(fresh.digest) == b"just uploaded"


def test_dropping_the_last_reference_makes_a_blob_collectable(
    client: Client, services: Services
) -> None:
    shared = client.blobs.put(b"shared")
    _reference(services, shared.digest, "a")
    _reference(services, shared.digest, "b")
    services.db.write(lambda s: blobrefs.drop_refs(s, "test", "a"))
    assert client.gc(grace_seconds=0).blobs_deleted == 0
    services.db.write(lambda s: blobrefs.drop_refs(s, "test", "b"))
    assert client.gc(grace_seconds=0).blobs_deleted == 1


@pytest.mark.s3
def test_gc_removes_blobs_from_s3(tmp_path: Path, s3_server: dict[str, Any]) -> None:
    prefix = f"s3://{s3_server['bucket']}/{uuid.uuid4().hex}"
    settings = Settings(home=tmp_path, db=f"sqlite:///{tmp_path / 'm.db'}", blobs=prefix)
    services = Services.open(settings, blob_options=s3_server["options"])
    try:
        kept = services.blob_store.put_bytes(b"keep me")
        doomed = services.blob_store.put_bytes(b"delete me")
        _reference(services, kept.digest)
        report = services.gc.collect(local_principal(), GcRequest(grace_seconds=0))
        assert report.blobs_deleted == 1
        fs = s3fs.S3FileSystem(**s3_server["options"], skip_instance_cache=True)
        stored = [path.rsplit("/", 1)[-1] for path in fs.find(prefix)]
        assert stored == [kept.digest]
        assert doomed.digest not in stored
    finally:
        services.close()


def test_gc_rejects_a_negative_grace(client: Client) -> None:
    with pytest.raises(InvalidInput, match="grace_seconds"):
        client.gc(grace_seconds=-1)
