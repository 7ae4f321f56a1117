"""Opening the configured online store, and one project's view of it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from dockyard.core.errors import InvalidInput
from dockyard.features.stores.base import Change, OnlineStore


def open_online_store(url: str) -> OnlineStore:
    """The online store at ``url``: ``redis://host:port/db`` (or ``rediss://``, ``unix://``)
    for Redis, else a file path (or ``file://`` path) for the embedded SQLite store."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from dockyard.features.stores.redis import RedisOnlineStore

        return RedisOnlineStore(url)
    if "://" in url and not url.startswith("file://"):
        raise InvalidInput(
            f"unknown online store {url!r}: give a file path (the embedded SQLite store) or "
            "redis://host:port/db (DOCKYARD_ONLINE, or `online` in config.toml)"
        )
    from dockyard.features.stores.sqlite import SQLiteOnlineStore

    return SQLiteOnlineStore(Path(url.removeprefix("file://")).expanduser())


class ScopedStore:
    """``store`` with every view name put under ``scope`` (a project's id), so the views of
    two projects never share records. Closing it leaves the shared store open."""

    def __init__(self, store: OnlineStore, scope: str) -> None:
        self.store = store
        self.scope = scope

    def _name(self, view: str) -> str:
        return f"{self.scope}/{view}"

    def read(self, view: str, keys: Sequence[str]) -> tuple[bytes | None, list[bytes | None]]:
        return self.store.read(self._name(view), keys)

    def read_state(self, view: str) -> bytes | None:
        return self.store.read_state(self._name(view))

    def write(self, view: str, records: Mapping[str, bytes], state: bytes) -> None:
        self.store.write(self._name(view), records, state)

    def update(
        self, view: str, chunks: Iterable[Sequence[str]], change: Change, state: bytes
    ) -> None:
        self.store.update(self._name(view), chunks, change, state)

    def drop(self, view: str) -> None:
        self.store.drop(self._name(view))

    def writing(self, view: str) -> AbstractContextManager[None]:
        return self.store.writing(self._name(view))

    def generation(self) -> int | None:
        return self.store.generation()

    def close(self) -> None:
        """Nothing: the shared store stays open for the other projects."""
