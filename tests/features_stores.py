"""Online stores for the feature tests: a real Redis on 127.0.0.1:6379 under a fresh prefix."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis

from dockyard.features.stores.redis import RedisOnlineStore

REDIS_URL = os.environ.get("DOCKYARD_TEST_REDIS", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def redis_store() -> Iterator[RedisOnlineStore]:
    """A Redis store with its own key prefix, whose keys are deleted afterwards. Outside CI
    a missing Redis skips the test; in CI it fails it."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if IN_CI:
            pytest.fail(f"Redis is not available at {REDIS_URL}: {exc} (CI must run these tests)")
        pytest.skip(f"Redis is not available at {REDIS_URL}: {exc}")
    prefix = f"dockyard-test:{uuid.uuid4().hex[:12]}:"
    store = RedisOnlineStore(prefix=prefix, client=client)
    try:
        yield store
    finally:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
