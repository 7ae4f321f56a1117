"""A local folder as blob storage."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.blobs.backend import CHUNK, ObjectInfo, check_key
from dockyard.core.errors import NotFound


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
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with open(path, "wb") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return written

    def move(self, src: str, dst: str) -> None:
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._path(src).replace(target)

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
