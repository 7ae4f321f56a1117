"""Two processes writing one view's online values at once lose nothing: each write holds the
view's writer lock (a file lock beside the embedded store, a lock key in Redis)."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from dockyard.core.errors import Conflict
from dockyard.features.definitions import Aggregate, Entity, FeatureView
from dockyard.features.online_values import OnlineFeatures
from dockyard.features.stores.base import OnlineStore
from dockyard.features.stores.redis import RedisOnlineStore
from dockyard.features.stores.sqlite import SQLiteOnlineStore
from dockyard.features.stores.writer_lock import file_lock
from features_stores import REDIS_URL, redis_store

BASE = 1_800_000_000_000_000  # microseconds since the epoch
PUSHES = 150

VIEW = FeatureView(
    "card_activity",
    entities=[Entity("card", keys=["card_hash"])],
    source="transactions",
    timestamp="ts",
    features=[Aggregate("amount", "count", name="purchases"), Aggregate("amount", "sum")],
    lateness="1d",
)


def _open(where: str) -> OnlineStore:
    kind, _, target = where.partition(":")
    if kind == "sqlite":
        return SQLiteOnlineStore(target)
    return RedisOnlineStore(REDIS_URL, prefix=target)


def _push_many(where: str, worker: int, start: Any) -> None:
    """One writer: PUSHES single-event pushes on the same card, between the other's."""
    import pyarrow as pa

    store = _open(where)
    online = OnlineFeatures(store, [VIEW])
    start.wait(60)  # both writers begin together
    for i in range(PUSHES):
        ts = BASE + (2 * i + worker) * 1_000_000
        online.push(
            VIEW.name,
            pa.table(
                {
                    "card_hash": ["c1"],
                    "ts": pa.array([ts], pa.int64()).cast(pa.timestamp("us")),
                    "amount": [1.0],
                }
            ),
        )
    store.close()


@pytest.fixture(params=["sqlite", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'online.sqlite'}"
    store = next(redis_store())  # skips (or fails in CI) without Redis; cleaned up below
    prefix = f"dockyard-test:{uuid.uuid4().hex[:12]}:"
    request.addfinalizer(lambda: _drop_prefix(prefix))
    store.close()
    return f"redis:{prefix}"


def _drop_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def test_two_processes_pushing_to_one_view_lose_nothing(where: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    writers = [spawn.Process(target=_push_many, args=(where, w, start)) for w in (0, 1)]
    for process in writers:
        process.start()
    time.sleep(2)  # both interpreters up and waiting
    start.set()
    for process in writers:
        process.join(120)
        assert process.exitcode == 0
    store = _open(where)
    online = OnlineFeatures(store, [VIEW])
    got = online.get({"card_hash": ["c1"]}, ["card_activity:*"], at=BASE + 3600 * 1_000_000)
    store.close()
    assert got["purchases"] == [2 * PUSHES]
    assert got["amount_sum_all"] == [2.0 * PUSHES]


class SlowWrites:
    """A store whose writes wait a moment first: the window in which another writer, without
    the lock, would read the old record and then overwrite this one's events."""

    def __init__(self, store: OnlineStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def write(self, *args: Any) -> None:
        time.sleep(0.3)
        self.store.write(*args)


def _event(i: int) -> Any:
    import pyarrow as pa

    ts = pa.array([BASE + i * 1_000_000], pa.int64()).cast(pa.timestamp("us"))
    return pa.table({"card_hash": ["c1"], "ts": ts, "amount": [1.0]})


def test_a_second_writer_waits_for_the_first(where: str) -> None:
    """Two writers with their own connections (and lock handles), the first one slow to
    write: the second one waits for it, so both events count."""
    first, second = _open(where), _open(where)
    slow = OnlineFeatures(SlowWrites(first), [VIEW])  # type: ignore[arg-type]
    quick = OnlineFeatures(second, [VIEW])
    quick.push(VIEW.name, _event(0))
    background = threading.Thread(target=slow.push, args=(VIEW.name, _event(1)))
    background.start()
    time.sleep(0.1)  # the slow writer has read the record and holds the lock
    quick.push(VIEW.name, _event(2))
    background.join()
    got = quick.get({"card_hash": ["c1"]}, ["card_activity:purchases"], at=BASE + 10**9)
    first.close()
    second.close()
    assert got["purchases"] == [3]


def test_a_writer_that_waits_too_long_is_told_why(tmp_path: Path) -> None:
    folder = tmp_path / "locks"
    with (
        file_lock(folder, "card_activity"),
        pytest.raises(Conflict, match="another process"),
        file_lock(folder, "card_activity", wait=0.2),
    ):
        pass
    with file_lock(folder, "card_activity", wait=0.2):  # free again
        pass
