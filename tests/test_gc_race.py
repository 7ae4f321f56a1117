"""gc against uploads that reuse blobs already stored, on SQLite and PostgreSQL.

An upload whose bytes are already stored (unreferenced, older than the grace period)
leases the blob before it checks for it; gc deletes only unleased blobs, under a lock
that lease writes also take. These tests fail if either side can slip between the other's
check and act: a referenced blob must never be missing.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select, update

from dockyard.blobs.backend import BlobBackend, ObjectInfo
from dockyard.blobs.store import BlobStore
from dockyard.core.principal import local_principal
from dockyard.gc.service import GarbageCollector, GcRequest
from dockyard.projects.schemas import ProjectCreate
from dockyard.services import Services
from dockyard.store.blobleases import BlobLeases
from dockyard.store.tables import ArtifactRow, BlobLeaseRow, utcnow
from dockyard.tracking.schemas import RunCreate

HOUR = 3600


def _age(services: Services, digests: list[str]) -> None:
    """Make stored blobs look uploaded two hours ago, with their leases long expired."""
    past = time.time() - 2 * HOUR
    for digest in digests:
        path = services.blob_store.local_path(digest)
        assert path is not None
        os.utime(path, (past, past))
    old = utcnow() - dt.timedelta(seconds=2 * HOUR)
    services.db.write(lambda s: s.execute(update(BlobLeaseRow).values(leased_at=old)))


def _run(services: Services) -> str:
    services.projects.create(local_principal(), ProjectCreate(name="p"))
    return services.runs.create(local_principal(), RunCreate(project="p")).id


def _artifact_digests(services: Services) -> list[str]:
    return services.db.query(lambda s: list(s.scalars(select(ArtifactRow.digest))))


class _Pausing:
    """A real backend that, at one call, signals ``reached`` and waits for ``go``."""

    def __init__(self, inner: BlobBackend, at: str) -> None:
        self.inner = inner
        self.url = inner.url
        self.at = at
        self.reached = threading.Event()
        self.go = threading.Event()

    def _pause(self, call: str) -> None:
        if call == self.at and not self.reached.is_set():
            self.reached.set()
            self.go.wait(30)

    def put(self, key: str, stream: BinaryIO) -> int:
        return self.inner.put(key, stream)

    def move(self, src: str, dst: str) -> None:
        self.inner.move(src, dst)

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def exists(self, key: str) -> bool:
        found = self.inner.exists(key)
        if key.startswith("sha256/"):
            self._pause("exists")
        return found

    def delete(self, key: str) -> None:
        if key.startswith("sha256/"):
            self._pause("delete")
        self.inner.delete(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)


def test_gc_between_an_uploads_check_and_its_reference_keeps_the_blob(
    services: Services,
) -> None:
    run_id = _run(services)
    old = services.blob_store.put_bytes(b"model weights, uploaded long ago")
    _age(services, [old.digest])
    pausing = _Pausing(services.blob_store.backend, "exists")
    uploads = BlobStore(pausing, lease=BlobLeases(services.db))  # type: ignore[arg-type]
    artifacts = type(services.artifacts)(services.db, uploads)
    failures: list[BaseException] = []

    def upload() -> None:
        try:
            artifacts.upload(
                local_principal(), run_id, io.BytesIO(b"model weights, uploaded long ago"), "w.bin"
            )
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert pausing.reached.wait(30)  # the upload found the blob stored and has not referenced it
    report = services.gc.collect(local_principal(), GcRequest(grace_seconds=HOUR))
    pausing.go.set()
    uploader.join(30)
    assert not failures
    assert report.blobs_deleted == 0
    assert _artifact_digests(services) == [old.digest]
    assert services.blob_store.read_bytes(old.digest) == b"model weights, uploaded long ago"


def test_an_upload_during_gcs_delete_stores_the_bytes_again(services: Services) -> None:
    run_id = _run(services)
    old = services.blob_store.put_bytes(b"a dataset file, uploaded long ago")
    _age(services, [old.digest])
    pausing = _Pausing(services.blob_store.backend, "delete")
    collector = GarbageCollector(
        services.db,
        BlobStore(pausing, lease=BlobLeases(services.db)),  # type: ignore[arg-type]
    )
    reports = []
    gc = threading.Thread(
        target=lambda: reports.append(
            collector.collect(local_principal(), GcRequest(grace_seconds=HOUR))
        )
    )
    gc.start()
    assert pausing.reached.wait(30)  # gc decided to delete the blob and is about to
    failures: list[BaseException] = []

    def upload() -> None:
        try:
            services.artifacts.upload(
                local_principal(), run_id, io.BytesIO(b"a dataset file, uploaded long ago"), "d"
            )
        except BaseException as exc:
            failures.append(exc)

    uploader = threading.Thread(target=upload)
    uploader.start()
    # The upload cannot lease the blob while gc's transaction holds it: it must not have
    # finished (reused the doomed blob) before gc deletes it.
    uploader.join(1.0)
    finished_early = not uploader.is_alive()
    pausing.go.set()
    gc.join(30)
    uploader.join(30)
    assert not failures
    assert reports and reports[0].blobs_deleted == 1
    assert not finished_early
    assert _artifact_digests(services) == [old.digest]
    assert services.blob_store.read_bytes(old.digest) == b"a dataset file, uploaded long ago"


def _stress_round(services: Services, run_id: str, round_: int) -> list[str]:
    """One round: 4 threads upload 25 artifacts each, all with content already stored
    (unreferenced, older than the grace period), while gc runs in a loop."""
    threads, per_thread = 4, 25
    contents = [f"round {round_} artifact {i}".encode() * 50 for i in range(threads * per_thread)]
    _age(services, [services.blob_store.put_bytes(c).digest for c in contents])
    stop = threading.Event()
    failures: list[BaseException] = []

    def collect() -> None:
        try:
            while not stop.is_set():
                services.gc.collect(local_principal(), GcRequest(grace_seconds=HOUR))
        except BaseException as exc:
            failures.append(exc)

    def upload(first: int) -> None:
        try:
            for i in range(first, first + per_thread):
                data = io.BytesIO(contents[i])
                services.artifacts.upload(local_principal(), run_id, data, f"r{round_}/a{i}")
        except BaseException as exc:
            failures.append(exc)

    gc = threading.Thread(target=collect)
    gc.start()
    uploaders = [threading.Thread(target=upload, args=(t * per_thread,)) for t in range(threads)]
    for t in uploaders:
        t.start()
    for t in uploaders:
        t.join(300)
    stop.set()
    gc.join(300)
    assert not failures
    return [d for d in _artifact_digests(services) if not services.blob_store.exists(d)]


def test_stress_uploads_reusing_old_blobs_while_gc_runs(services: Services) -> None:
    """Many uploads of content already stored while gc runs in a loop: afterwards every
    artifact's blob is stored and intact."""
    run_id = _run(services)
    for round_ in range(3):
        missing = _stress_round(services, run_id, round_)
        assert missing == [], f"round {round_}: {len(missing)} artifacts lost their blobs"
    for digest in _artifact_digests(services):
        services.blob_store.read_bytes(digest)  # verified: present and intact


def test_gc_forgets_expired_leases(services: Services, tmp_path: Path) -> None:
    blob = services.blob_store.put_bytes(b"leased once")
    assert services.db.query(lambda s: s.get(BlobLeaseRow, blob.digest)) is not None
    _age(services, [blob.digest])
    report = services.gc.collect(local_principal(), GcRequest(grace_seconds=HOUR))
    assert report.blobs_deleted == 1
    assert services.db.query(lambda s: s.get(BlobLeaseRow, blob.digest)) is None
