"""Helpers of the serving tests: models whose versions answer differently, and a model
server running in a thread of the test process (a real uvicorn on loopback)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeRegressor

import dockyard as dy
from dockyard.client.client import Client
from dockyard.server.runner import serve_in_thread
from dockyard.serving.app import create_app
from dockyard.serving.config import ServeConfig
from dockyard.serving.model_server import ModelServer


def frame(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame({"amount": np.arange(n, dtype=float), "reports": np.arange(n) % 4})


def register_constant(
    client: Client, name: str, value: float, alias: str | None = None, *, trusted: bool = False
) -> int:
    """Register a model that answers ``value`` for every row (so each version is told
    apart by its answers); point ``alias`` at it. Returns the version number."""
    x = frame()
    model = DecisionTreeRegressor().fit(x, np.full(len(x), value))
    with dy.start_run(project="shop", capture=dy.Capture.off(), client=client):
        logged = dy.log_model(model, "model", input_example=x, trusted=trusted)
    version = dy.register_model(logged, name=name, client=client).version
    if alias:
        client.models.set_alias(name, alias, version)
    return version


def register_classifier(client: Client, name: str, alias: str = "champion") -> int:
    x = frame()
    y = (x.amount > 20).astype(int)
    with dy.start_run(project="shop", capture=dy.Capture.off(), client=client):
        logged = dy.log_model(LogisticRegression().fit(x, y), "model", input_example=x)
    version = dy.register_model(logged, name=name, client=client).version
    client.models.set_alias(name, alias, version)
    return version


@contextmanager
def model_server(
    factory: Callable[[], Client], uris: list[str], *, settle_heap: bool = False, **options: Any
) -> Iterator[tuple[httpx.Client, ModelServer]]:
    """A model server for ``uris`` on a free loopback port, and an HTTP client to it."""
    config = ServeConfig(uris=uris, poll_seconds=0.1, log_flush_seconds=0.2, **options)
    app = create_app(config, factory, settle_heap=settle_heap)
    running = serve_in_thread(app)  # type: ignore[arg-type]
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            yield http, app.state.server
    finally:
        running.stop()


def wait_for(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        time.sleep(0.05)
