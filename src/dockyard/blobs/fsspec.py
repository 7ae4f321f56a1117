"""Any fsspec filesystem (s3://, gs://, az://, memory://, ...) as blob storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, BinaryIO

import fsspec
from fsspec.core import url_to_fs

from dockyard.blobs.backend import CHUNK, ObjectInfo, check_key
from dockyard.core.errors import InvalidInput, NotFound, Unavailable

_UPLOAD_BLOCK = 64 << 20


def _modified(info: dict[str, Any]) -> dt.datetime:
    value = info.get("LastModified") or info.get("mtime") or info.get("last_modified")
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return dt.datetime.now(dt.UTC)


class FsspecBackend:
    """Objects under a URL prefix of an fsspec filesystem.

    On object stores an upload becomes visible only when it completes, and a copy is
    atomic, so :meth:`move` (copy, then delete the source) publishes atomically.
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        self.url = url.rstrip("/")
        options = {"skip_instance_cache": True, "use_listings_cache": False, **storage_options}
        try:
            self.fs, root = url_to_fs(self.url, **options)
        except (ImportError, ValueError) as exc:
            protocol = url.split("://", 1)[0]
            hint = " (pip install 'dockyard[s3]')" if protocol in ("s3", "s3a") else ""
            raise InvalidInput(
                f"blob storage URL {url!r} needs the fsspec driver for {protocol!r}{hint}: {exc}"
            ) from exc
        self.root = root.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def _guard(self, exc: Exception, what: str) -> Exception:
        if isinstance(exc, FileNotFoundError):
            return NotFound(f"no blob stored under {what!r}")
        if isinstance(exc, (PermissionError, ConnectionError, TimeoutError, OSError)):
            return Unavailable(f"blob storage at {self.url} failed on {what!r}: {exc}")
        return exc

    def put(self, key: str, stream: BinaryIO) -> int:
        written = 0
        try:
            out = self.fs.open(self._path(key), "wb", block_size=_UPLOAD_BLOCK)
        except OSError as exc:
            raise self._guard(exc, key) from exc
        try:
            while chunk := stream.read(CHUNK):  # errors of the source propagate as they are
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise self._guard(exc, key) from exc
                written += len(chunk)
            try:
                out.close()
            except OSError as exc:
                raise self._guard(exc, key) from exc
        except BaseException:
            discard = getattr(out, "discard", None)  # abort a multipart upload, if any
            if callable(discard):
                discard()
                out.closed = True  # nothing left to flush; keep __del__ from committing
            raise
        return written

    def move(self, src: str, dst: str) -> None:
        try:
            self.fs.mv(self._path(src), self._path(dst))
        except OSError as exc:
            raise self._guard(exc, src) from exc

    def open(self, key: str) -> BinaryIO:
        try:
            stream: BinaryIO = self.fs.open(self._path(key), "rb", block_size=CHUNK * 8)
        except OSError as exc:
            raise self._guard(exc, key) from exc
        return stream

    def exists(self, key: str) -> bool:
        try:
            return bool(self.fs.isfile(self._path(key)))
        except OSError as exc:
            raise self._guard(exc, key) from exc

    def delete(self, key: str) -> None:
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._guard(exc, key) from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = f"{self.root}/{prefix.strip('/')}" if prefix else self.root
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._guard(exc, prefix or "/") from exc
        strip = len(self.root) + 1
        for path, info in found.items():
            if info.get("type", "file") != "file":
                continue
            yield ObjectInfo(
                key=path[strip:], size=int(info.get("size") or 0), modified=_modified(info)
            )


def is_fsspec_url(url: str) -> bool:
    """Whether ``url`` names a registered fsspec protocol."""
    protocol = url.split("://", 1)[0] if "://" in url else ""
    return bool(protocol) and protocol in fsspec.available_protocols()
