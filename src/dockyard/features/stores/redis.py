"""The team online store: Redis, read with one MGET per lookup and written in MULTI/EXEC."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import redis

from dockyard.features.stores.base import Change
from dockyard.features.stores.writer_lock import redis_lock

_MSET = 1_000  # keys per MSET of a bulk update


class RedisOnlineStore:
    """Records under ``<prefix><view>:<entity>``, the view state under ``<prefix><view>``.

    Built from a URL (``redis://host:port/db``) or a ready client. Nothing read is cached
    (``generation`` is None): another process may write at any time.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "dockyard:features:",
        client: Any = None,
    ) -> None:
        self.prefix = prefix
        self._redis = client if client is not None else redis.Redis.from_url(url)

    def _key(self, view: str, entity: str) -> str:
        return f"{self.prefix}{view}:{entity}"

    def read(self, view: str, keys: Sequence[str]) -> tuple[bytes | None, list[bytes | None]]:
        values: list[Any] = self._redis.mget(
            [f"{self.prefix}{view}", *(self._key(view, k) for k in keys)]
        )
        return values[0], values[1:]

    def read_state(self, view: str) -> bytes | None:
        value = self._redis.get(f"{self.prefix}{view}")
        return None if value is None else bytes(value)  # type: ignore[arg-type]

    def write(self, view: str, records: Mapping[str, bytes], state: bytes) -> None:
        pipe = self._redis.pipeline(transaction=True)
        if records:
            pipe.mset({self._key(view, k): v for k, v in records.items()})
        pipe.set(f"{self.prefix}{view}", state)
        pipe.execute()

    def update(
        self, view: str, chunks: Iterable[Sequence[str]], change: Change, state: bytes
    ) -> None:
        """One MULTI ... EXEC on a connection of its own, its MSETs sent chunk by chunk
        (the server queues them; nothing applies before EXEC, and a connection lost before
        it discards them all); the records are read over another connection."""
        pool = self._redis.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_command("MULTI")
            conn.read_response()
            for number, keys in enumerate(chunks):
                old: list[Any] = self._redis.mget([self._key(view, k) for k in keys])
                items = list(change(number, old).items())
                sent = 0
                for at in range(0, len(items), _MSET):
                    args = [x for k, v in items[at : at + _MSET] for x in (self._key(view, k), v)]
                    conn.send_packed_command(conn.pack_command("MSET", *args))
                    sent += 1
                for _ in range(sent):
                    conn.read_response()  # QUEUED
            conn.send_command("SET", f"{self.prefix}{view}", state)
            conn.read_response()
            conn.send_command("EXEC")
            replies = conn.read_response()
            for reply in replies or []:
                if isinstance(reply, Exception):
                    raise reply
        except BaseException:
            conn.disconnect()  # an unfinished transaction goes with its connection
            raise
        finally:
            pool.release(conn)

    def drop(self, view: str) -> None:
        pattern = self._key(view, "*").replace("[", "\\[").replace("]", "\\]")
        batch = []
        for key in self._redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self._redis.delete(*batch)
                batch = []
        if batch:
            self._redis.delete(*batch)
        self._redis.delete(f"{self.prefix}{view}")

    def writing(self, view: str) -> AbstractContextManager[None]:
        return redis_lock(self._redis, f"{self.prefix}{view}#writer", view)

    def generation(self) -> int | None:
        return None

    def close(self) -> None:
        self._redis.close()
