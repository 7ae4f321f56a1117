"""The blob backend contract and content addressing, on a local folder and on S3 (moto)."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

import pytest

from dockyard.blobs.backend import BlobBackend
from dockyard.blobs.fsspec import FsspecBackend
from dockyard.blobs.local import LocalBackend
from dockyard.blobs.registry import open_backend
from dockyard.blobs.store import BlobStore
from dockyard.core.errors import DigestMismatch, InvalidInput, NotFound


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> BlobBackend:
    if request.param == "local":
        return LocalBackend(tmp_path / "blobs")
    s3: dict[str, Any] = request.getfixturevalue("s3_server")
    return FsspecBackend(f"s3://{s3['bucket']}/{uuid.uuid4().hex}", **s3["options"])


@pytest.fixture
def store(backend: BlobBackend) -> BlobStore:
    return BlobStore(backend)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Chunks(io.RawIOBase):
    """A stream of ``count`` pseudo-random chunks, generated as it is read (never in memory)."""

    def __init__(self, count: int, size: int = 1 << 20, on_chunk: Any = None) -> None:
        self.remaining = count
        self.size = size
        self.on_chunk = on_chunk
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.remaining == 0:
            return b""
        self.remaining -= 1
        chunk = hashlib.sha512(str(self.remaining).encode()).digest() * (self.size // 64)
        self.sha.update(chunk)
        if self.on_chunk:
            self.on_chunk(self.remaining)
        return chunk


# --- the backend protocol ---------------------------------------------------------------


def test_backend_put_open_exists_delete_list(backend: BlobBackend) -> None:
    assert backend.put("a/one", io.BytesIO(b"hello")) == 5
    assert backend.exists("a/one")
    assert not backend.exists("a/two")
    with backend.open("a/one") as stream:
        assert stream.read() == b"hello"
    backend.move("a/one", "b/moved")
    assert not backend.exists("a/one")
    assert backend.exists("b/moved")
    listed = {info.key: info.size for info in backend.list()}
    assert listed == {"b/moved": 5}
    assert [i.key for i in backend.list("b")] == ["b/moved"]
    assert list(backend.list("nothing-here")) == []
    backend.delete("b/moved")
    backend.delete("b/moved")  # deleting what is gone is fine
    assert not backend.exists("b/moved")
    with pytest.raises(NotFound):
        backend.open("b/moved")


@pytest.mark.parametrize(
    "key", ["../escape", "a/../../escape", "/abs/path", "a\\b", "", "a//b", "./a", "a/./b", "~x"]
)
def test_backend_rejects_keys_that_escape(backend: BlobBackend, key: str) -> None:
    for attempt in (
        lambda: backend.put(key, io.BytesIO(b"x")),
        lambda: backend.open(key),
        lambda: backend.exists(key),
        lambda: backend.delete(key),
    ):
        with pytest.raises(InvalidInput, match="not allowed"):
            attempt()
    assert list(backend.list()) == []


def test_local_backend_never_follows_a_symlink_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    backend = LocalBackend(tmp_path / "root")
    (tmp_path / "root" / "link").symlink_to(outside)
    with pytest.raises(NotFound):
        backend.open("link/secret")


# --- content addressing -------------------------------------------------------------------


def test_put_is_content_addressed_and_deduplicated(store: BlobStore) -> None:
    first = store.put(io.BytesIO(b"same bytes"))
    assert first.digest == sha(b"same bytes")
    assert first.size == 10 and not first.deduplicated
    again = store.put(io.BytesIO(b"same bytes"))
    assert again.digest == first.digest and again.deduplicated
    assert [b.key for b in store.list()] == [first.digest]
    assert list(store.staged()) == []
    assert store.read_bytes(first.digest) == b"same bytes"
    assert store.read_bytes("sha256:" + first.digest.upper()) == b"same bytes"


def test_empty_blob(store: BlobStore) -> None:
    stored = store.put(io.BytesIO(b""))
    assert stored.size == 0
    assert store.read_bytes(stored.digest) == b""


def test_digest_mismatch_stores_nothing(store: BlobStore) -> None:
    with pytest.raises(DigestMismatch, match="nothing was stored"):
        store.put(io.BytesIO(b"actual bytes"), digest=sha(b"other bytes"))
    assert list(store.list()) == []
    assert list(store.staged()) == []
    assert not store.exists(sha(b"actual bytes"))


def test_announced_digest_that_matches_is_accepted(store: BlobStore) -> None:
    stored = store.put(io.BytesIO(b"payload"), digest="sha256:" + sha(b"payload"))
    assert stored.digest == sha(b"payload")


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "sha1:" + "a" * 40, "../" + "a" * 61, ""])
def test_malformed_digests_are_invalid(store: BlobStore, digest: str) -> None:
    with pytest.raises(InvalidInput, match="not a sha256 digest"):
        store.open(digest)
    with pytest.raises(InvalidInput):
        store.put(io.BytesIO(b"x"), digest=digest)


def test_unknown_digest_is_not_found(store: BlobStore) -> None:
    with pytest.raises(NotFound, match="no blob"):
        store.open(sha(b"never stored"))


def test_a_reader_never_sees_a_partial_blob(store: BlobStore) -> None:
    seen: list[bool] = []
    stream = Chunks(6, size=256 * 1024, on_chunk=lambda left: seen.append(any(store.list())))
    stored = store.put(stream)  # type: ignore[arg-type]
    assert seen and not any(seen), "the blob was visible before its upload finished"
    assert stored.digest == stream.sha.hexdigest()
    assert store.exists(stored.digest)


def test_failed_upload_leaves_nothing(store: BlobStore) -> None:
    def explode(left: int) -> None:
        if left == 2:
            raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.put(Chunks(5, on_chunk=explode))  # type: ignore[arg-type]
    assert list(store.list()) == []
    assert list(store.staged()) == []


def test_tampered_blob_fails_verification(store: BlobStore) -> None:
    stored = store.put(io.BytesIO(b"original"))
    key = next(iter(store.backend.list("sha256"))).key
    store.backend.put(key, io.BytesIO(b"tampered"))
    with pytest.raises(DigestMismatch, match="corrupt"):
        store.read_bytes(stored.digest)


def test_large_stream_is_not_held_in_memory(tmp_path: Path) -> None:
    import tracemalloc

    store = BlobStore(LocalBackend(tmp_path / "blobs"))
    tracemalloc.start()
    stream = Chunks(128)  # 128 MiB
    stored = store.put(stream)  # type: ignore[arg-type]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert stored.size == 128 << 20
    # A few 4 MiB blocks in flight between the reader, the hashing thread and the file; the
    # bound has room for scheduling, and is far below the stream's size.
    assert peak < 32 << 20, f"peak {peak / 2**20:.1f} MiB while storing 128 MiB"
    digest = hashlib.sha256()
    with store.open(stored.digest) as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == stored.digest


# --- choosing a backend ---------------------------------------------------------------------


def test_open_backend_by_url(tmp_path: Path, s3_server: dict[str, Any]) -> None:
    assert isinstance(open_backend(str(tmp_path / "x")), LocalBackend)
    assert isinstance(open_backend((tmp_path / "y").as_uri()), LocalBackend)
    s3 = open_backend(f"s3://{s3_server['bucket']}/p", **s3_server["options"])
    assert isinstance(s3, FsspecBackend)
    with pytest.raises(InvalidInput, match="fsspec driver"):
        open_backend("nosuchscheme://bucket/x")


def test_mixed_small_and_large_reads_hash_in_order(store: BlobStore) -> None:
    sizes = [10, 3000, 2 << 20, 7, 1 << 20, 5 << 20, 1]
    pieces = [bytes([i]) * size for i, size in enumerate(sizes)]

    class Pieces(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return pieces.pop(0) if pieces else b""

    data = b"".join(pieces)
    stored = store.put(Pieces())  # type: ignore[arg-type]
    assert stored.digest == sha(data) and stored.size == len(data)
    assert store.read_bytes(stored.digest) == data


def test_local_publish_is_durable_and_a_duplicate_costs_no_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    store = BlobStore(LocalBackend(tmp_path / "blobs"))
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    first = store.put(io.BytesIO(b"durable bytes"))
    assert not first.deduplicated
    assert len(synced) >= 2, "publishing must fsync the file and its folder"
    synced.clear()
    again = store.put(io.BytesIO(b"durable bytes"))
    assert again.deduplicated and synced == []
    assert list(store.staged()) == []
