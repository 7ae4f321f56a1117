"""The team online store: Redis, read with one MGET per lookup and written in MULTI/EXEC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis


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

    def generation(self) -> int | None:
        return None

    def close(self) -> None:
        self._redis.close()
