"""The blob backend protocol: dumb byte storage under keys. Hashing lives above it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from dockyard.core.errors import InvalidInput

CHUNK = 4 << 20  # bytes per read/write when streaming; a whole RequestPipe block
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*\Z")


@dataclass(frozen=True)
class ObjectInfo:
    """A stored object: its key, size in bytes and last modification time (UTC)."""

    key: str
    size: int
    modified: dt.datetime


def check_key(key: str) -> str:
    """Reject keys that could escape the store (``..``, absolute paths, backslashes)."""
    if not isinstance(key, str) or len(key) > 512 or not _KEY.match(key) or ".." in key:
        raise InvalidInput(
            f"blob key {key!r} is not allowed: use relative segments of letters, digits, "
            "'.', '_' and '-' separated by '/', with no '..'"
        )
    return key


@runtime_checkable
class BlobBackend(Protocol):
    """Where bytes live. Implementations stay dumb: no hashing, no dedup.

    Writing is two steps: :meth:`put` stages bytes under a private key (fast, not
    necessarily durable), :meth:`move` publishes them (atomic and durable). Only moved
    keys are promised to survive a crash.
    """

    url: str

    def put(self, key: str, stream: BinaryIO) -> int:
        """Copy ``stream`` to ``key`` in chunks and return the number of bytes written.

        Readers must not rely on ``key`` until this returns; :meth:`move` publishes.
        ``put`` need not make the bytes durable (a local folder does not fsync here): a
        staged copy that is then deleted (a duplicate, a digest mismatch) costs no flush.
        Whatever must survive a crash goes through :meth:`move`.
        """
        ...

    def move(self, src: str, dst: str) -> None:
        """Atomically and durably publish ``src`` as ``dst``.

        A reader sees all of ``dst`` or nothing, and once this returns ``dst`` survives a
        crash with all of its bytes: the backend makes ``src``'s content durable before it
        becomes visible as ``dst`` (a local folder: fsync the file, rename, fsync the
        folder; an object store: the upload is durable when it completes).
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of ``key``; raises NotFound if it is absent."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` from the backing storage; a missing key is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every stored object whose key starts with the folder ``prefix``."""
        ...
