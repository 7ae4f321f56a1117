"""The feature service with the team online store, a real Redis, through both transports on
both databases: materialize, look up, push, and the keys it leaves are the project's own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import dockyard as dy
from dockyard.client.client import Client
from dockyard.core.config import Settings
from features_stores import IN_CI, REDIS_URL

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Iterator[Settings]:
    """The usual settings, with the online store in Redis; its keys are deleted afterwards."""
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except redis.RedisError as exc:
        server.close()
        if IN_CI:
            pytest.fail(f"Redis is not available at {REDIS_URL}: {exc} (CI must run these tests)")
        pytest.skip(f"Redis is not available at {REDIS_URL}: {exc}")
    before = set(server.scan_iter(match="dockyard:features:*", count=1000))
    yield Settings(home=tmp_path, db=db_url, blobs=str(tmp_path / "blobs"), online=REDIS_URL)
    made = set(server.scan_iter(match="dockyard:features:*", count=1000)) - before
    if made:
        server.delete(*made)
    server.close()


def test_online_values_live_in_redis_under_the_project(client: Client) -> None:
    import redis

    project = client.projects.create("fraud")
    rows = {
        "card_hash": ["c1", "c1", "c2"],
        "ts": [T0, T0 + dt.timedelta(hours=1), T0],
        "amount": [10.0, 5.0, 7.0],
    }
    client.datasets.ingest(
        "fraud",
        "transactions",
        pa.table({**rows, "ts": pa.array(rows["ts"], pa.timestamp("us", tz="UTC"))}),
    )
    card = dy.Entity("card", keys=["card_hash"])
    view = dy.FeatureView(
        "card_activity",
        entities=[card],
        source="transactions",
        timestamp="ts",
        features=[dy.Aggregate("amount", "sum", window="24h")],
    )
    dy.features.apply([view], project="fraud", client=client)
    assert client.features.materialize("fraud", "card_activity").events == 3
    at = T0 + dt.timedelta(hours=2)
    got = client.features.online("fraud", {"card_hash": ["c1", "c2"]}, ["card_activity:*"], at=at)
    assert got.columns["amount_sum_24h"] == [15.0, 7.0]
    client.features.push(
        "fraud",
        "card_activity",
        {"card_hash": ["c2"], "ts": [(T0 + dt.timedelta(hours=1)).isoformat()], "amount": [1.0]},
    )
    got = client.features.online("fraud", {"card_hash": ["c2"]}, ["card_activity:*"], at=at)
    assert got.columns["amount_sum_24h"] == [8.0]
    server = redis.Redis.from_url(REDIS_URL)
    keys = {k.decode() for k in server.scan_iter(match=f"dockyard:features:{project.id}/*")}
    server.close()
    assert f"dockyard:features:{project.id}/card_activity" in keys  # the view's state
    assert len(keys) == 3  # and one record per card
