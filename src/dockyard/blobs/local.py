"""A local folder as blob storage."""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.blobs.backend import CHUNK, ObjectInfo, check_key
from dockyard.core.errors import NotFound

FLUSH_EVERY = 64 << 20


def _fsync_dir(path: Path) -> None:
    """Make the entries of folder ``path`` (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(path: Path, root: Path) -> None:
    """``mkdir -p`` below ``root``, fsyncing the parent of each folder it creates."""
    if path.is_dir():
        return
    missing: list[Path] = []
    while not path.is_dir() and path != root and path.is_relative_to(root):
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:  # created meanwhile by a concurrent put
            continue
        _fsync_dir(folder.parent)


class _Flusher:
    """A thread that fdatasyncs ``fd`` whenever asked, while the writer goes on writing."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._wake = threading.Condition()
        self._pending = False
        self._stop = False
        self._error: OSError | None = None
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        if self._error is not None:
            raise self._error
        with self._wake:
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="blob-flush", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stop:
                    self._wake.wait()
                if not self._pending:
                    return
                self._pending = False
            try:
                os.fdatasync(self._fd)
            except OSError as exc:
                self._error = exc
                return

    def __enter__(self) -> _Flusher:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        with self._wake:
            self._stop = True
            self._pending = False  # the final fsync (in move) covers what is left
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None and exc_type is None:
            raise self._error


class LocalBackend:
    """Objects as files under a root folder; publishing is an atomic rename."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # symlinks pointing outside
            raise NotFound(f"blob key {key!r} is outside the store")
        return path

    def put(self, key: str, stream: BinaryIO) -> int:
        """Write ``stream`` to ``key``; the bytes reach the disk while they arrive.

        A background thread flushes every :data:`FLUSH_EVERY` bytes, so :meth:`move`'s
        fsync (the durability point) only waits for the tail. ``put`` itself does not
        fsync: a staged copy that turns out to be a duplicate is deleted without paying it.
        """
        path = self._path(key)
        _makedirs(path.parent, self.root)
        written = 0
        with open(path, "wb") as out, _Flusher(out.fileno()) as flusher:
            flushed = 0
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
                if written - flushed >= FLUSH_EVERY:
                    out.flush()
                    flusher.request()
                    flushed = written
            out.flush()
        return written

    def move(self, src: str, dst: str) -> None:
        """fsync ``src``, rename it over ``dst``, then fsync the folder: a durable publish."""
        source, target = self._path(src), self._path(dst)
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _makedirs(target.parent, self.root)
        source.replace(target)
        _fsync_dir(target.parent)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"no blob stored under {key!r}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                path = Path(dirpath) / name
                try:
                    st = path.stat()
                except FileNotFoundError:  # removed while listing
                    continue
                yield ObjectInfo(
                    key=path.relative_to(self.root).as_posix(),
                    size=st.st_size,
                    modified=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC),
                )

    def disk_path(self, key: str) -> Path:
        """The file holding ``key`` (lets the server hand files to the OS directly)."""
        return self._path(key)
