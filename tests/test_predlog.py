"""The prediction log's writer on its own: rows split by hour, a full queue counts drops
without blocking, a store that fails keeps the rows for the next flush, and what is written
reads back row for row. A real embedded home on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest

from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.ids import new_id
from dockyard.serving.predlog import Entry, PredictionLog
from serving_support import register_constant, wait_for

HOUR_MS = 3_600_000


@pytest.fixture
def registry(settings: Settings) -> Iterator[Client]:
    client = connect_with(settings)
    register_constant(client, "pricer", 1.0, alias="champion")
    yield client
    client.close()


def _id_at(millis: int) -> str:
    """An id like :func:`new_id`'s, made at ``millis`` since the epoch."""
    return f"{millis:012x}" + os.urandom(10).hex()


def _entry(ids: list[str], amounts: list[float], *, version: int = 1) -> Entry:
    return Entry(
        ids=ids,
        at=dt.datetime.now(dt.UTC),
        model="pricer",
        version=version,
        alias="champion",
        shadow=False,
        latency_ms=0.5,
        inputs={"amount": amounts, "reports": [1] * len(ids)},
        outputs=[a * 2 for a in amounts],
    )


def test_a_request_across_an_hour_is_written_as_two_segments_and_reads_back(
    registry: Client,
) -> None:
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    boundary = now - now % HOUR_MS  # the start of this hour
    before, after = _id_at(boundary - 1), _id_at(boundary + 1)
    plain = [new_id() for _ in range(3)]
    log = PredictionLog(registry, new_id(), flush_seconds=0.05)
    log.start()
    assert log.offer(_entry([before, after], [1.0, 2.0]))
    assert log.offer(_entry(plain, [3.0, 4.0, 5.0], version=2))
    log.close()
    assert (log.accepted, log.logged, log.dropped, log.waiting) == (5, 5, 0, 0)

    segments = registry.serving.segments(
        "pricer", since=dt.datetime.fromtimestamp((boundary - HOUR_MS) / 1000, dt.UTC)
    )
    hours = sorted({s.hour for s in segments})
    assert [int(h.timestamp() * 1000) for h in hours] == [boundary - HOUR_MS, boundary]
    assert sum(s.rows for s in segments) == 5
    found = registry.serving.predictions(
        "pricer", since=dt.datetime.fromtimestamp((boundary - HOUR_MS) / 1000, dt.UTC)
    )
    by_id = {p.prediction_id: p for p in found.predictions}
    assert set(by_id) == {before, after, *plain}
    assert by_id[before].inputs == {"amount": 1.0, "reports": 1} and by_id[before].output == 2.0
    assert by_id[after].inputs == {"amount": 2.0, "reports": 1} and by_id[after].output == 4.0
    assert by_id[plain[2]].inputs["amount"] == 5.0 and by_id[plain[2]].version == 2


def test_a_full_queue_counts_drops_and_never_blocks(registry: Client) -> None:
    log = PredictionLog(registry, new_id(), max_rows=4, flush_seconds=3600)
    assert log.offer(_entry([new_id() for _ in range(3)], [1.0, 2.0, 3.0]))
    assert not log.offer(_entry([new_id() for _ in range(2)], [4.0, 5.0]))  # 3 + 2 > 4
    assert log.offer(_entry([new_id()], [6.0]))
    assert (log.accepted, log.dropped, log.waiting) == (4, 2, 4)
    log.start()
    log.close()  # a graceful stop writes what was accepted
    assert (log.logged, log.waiting) == (4, 0)
    assert len(registry.serving.predictions("pricer").predictions) == 4


def test_a_store_that_fails_keeps_the_rows_for_the_next_flush(
    registry: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    put = registry.blobs.put
    failures = {"left": 2}

    def flaky_put(data: bytes):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("the blob store is unreachable")
        return put(data)

    monkeypatch.setattr(registry.blobs, "put", flaky_put)
    log = PredictionLog(registry, new_id(), flush_seconds=0.05)
    log.start()
    ids = [new_id() for _ in range(3)]
    assert log.offer(_entry(ids[:2], [1.0, 2.0]))
    wait_for(lambda: failures["left"] == 0)
    assert log.offer(_entry(ids[2:], [3.0]))
    wait_for(lambda: log.logged == 3)
    log.close()
    assert (log.dropped, log.waiting) == (0, 0)
    logged = registry.serving.predictions("pricer").predictions
    assert sorted(p.prediction_id for p in logged) == sorted(ids)  # each once


def test_a_request_the_log_cannot_encode_is_counted_as_dropped_and_the_log_goes_on(
    registry: Client,
) -> None:
    log = PredictionLog(registry, new_id(), flush_seconds=0.05)
    log.start()
    bad = _entry([new_id(), new_id()], [1.0, 2.0])
    bad.outputs = [1.0, object()]  # no JSON for it
    good = [new_id()]
    assert log.offer(bad)
    assert log.offer(_entry(good, [3.0]))
    log.close()
    assert (log.accepted, log.logged, log.dropped, log.waiting) == (3, 1, 2, 0)
    logged = registry.serving.predictions("pricer").predictions
    assert [p.prediction_id for p in logged] == good
