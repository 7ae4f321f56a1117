"""The online store protocol: a small, dumb key-value seam below the online engine.

The engine (:mod:`dockyard.features.online_values`) decides what to store; a store only keeps
opaque bytes per (view, entity key) and one state per view, and writes a batch atomically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

Change = Callable[[int, list[bytes | None]], Mapping[str, bytes]]
"""Given a chunk's number and the records of its keys (None where none), the records to
write."""


class OnlineStore(Protocol):
    """Bytes per (view, entity) and per view, written in atomic batches."""

    def read(self, view: str, keys: Sequence[str]) -> tuple[bytes | None, list[bytes | None]]:
        """The view's state and the records of ``keys`` (None where there is none), read
        together in one round trip, from one consistent snapshot."""
        ...

    def read_state(self, view: str) -> bytes | None:
        """The view's state (watermark, arrival counter, definition), None before any write."""
        ...

    def write(self, view: str, records: Mapping[str, bytes], state: bytes) -> None:
        """Replace ``records`` and the view's state together: all of it lands or none."""
        ...

    def update(
        self, view: str, chunks: Iterable[Sequence[str]], change: Change, state: bytes
    ) -> None:
        """For each chunk of keys in turn, read their records and write what ``change``
        makes of them; then write the view's state. All of it lands or none, and only one
        chunk's records are in this process at a time (a bulk write of millions of keys)."""
        ...

    def drop(self, view: str) -> None:
        """Remove every record and the state of ``view``."""
        ...

    def writing(self, view: str) -> AbstractContextManager[None]:
        """Hold the view's writer lock while the block runs: one writer per view at a time,
        across processes (see :mod:`dockyard.features.stores.writer_lock`)."""
        ...

    def generation(self) -> int | None:
        """A number that changes whenever any writer (this process or another) wrote;
        None when the store cannot tell cheaply (then nothing read may be cached)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
