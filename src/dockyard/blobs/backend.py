"""The blob backend protocol: dumb byte storage under keys. Hashing lives above it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from dockyard.core.errors import InvalidInput

CHUNK = 1 << 20
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")


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
    """Where bytes live. Implementations stay dumb: no hashing, no dedup."""

    url: str

    def put(self, key: str, stream: BinaryIO) -> int:
        """Copy ``stream`` to ``key`` in chunks and return the number of bytes written.

        Readers must not rely on ``key`` until this returns; :meth:`move` publishes.
        """
        ...

    def move(self, src: str, dst: str) -> None:
        """Atomically publish ``src`` as ``dst``: a reader sees all of ``dst`` or nothing."""
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
