"""The demo serves: a model server on the champion (the same app ``dockyard serve`` runs,
on a free loopback port), live traffic of holdout purchases, one row per request from a
few concurrent clients, and what the prediction log then holds, down to the trace of one
answer back to the run, code and data that made the model."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import httpx
import pandas as pd

from dockyard.client.client import Client, connect_with
from dockyard.demo.features import FEATURES
from dockyard.demo.pipeline import ALIAS, MODEL
from dockyard.server.runner import serve_in_thread
from dockyard.serving.app import create_app
from dockyard.serving.config import ServeConfig

REQUESTS = 2000
"""Requests the demo sends (one holdout purchase each)."""
CLIENTS = 8


def serve_champion(client: Client, features: pd.DataFrame) -> dict[str, Any]:
    """Serve ``MODEL@ALIAS``, send it ``REQUESTS`` purchases, read the log back."""
    uri = f"models:/{MODEL}@{ALIAS}"
    config = ServeConfig(uris=[uri], log_flush_seconds=0.5)
    app = create_app(config, lambda: connect_with(client.settings))
    started = time.perf_counter()
    running = serve_in_thread(app)  # type: ignore[arg-type]
    ready = time.perf_counter() - started
    recent = features[FEATURES].tail(REQUESTS)
    # JSON has no NaN: a missing feature value travels as null
    rows = recent.astype(object).where(recent.notna(), None).to_dict(orient="records")
    latencies: list[float] = []
    failures: list[str] = []
    ids: list[str] = []
    versions: set[int] = set()
    lock = threading.Lock()

    def send(share: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            for row in share:
                t0 = time.perf_counter()
                try:
                    answer = http.post(f"/v1/models/{MODEL}/predict", json={"inputs": row})
                except (httpx.HTTPError, ValueError) as exc:
                    with lock:
                        failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                took = time.perf_counter() - t0
                with lock:
                    if answer.status_code != 200:
                        failures.append(answer.text[:300])
                        continue
                    body = answer.json()
                    latencies.append(took * 1000)
                    ids.extend(body["prediction_ids"])
                    versions.add(body["version"])

    try:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=send, args=(rows[i::CLIENTS],)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - t0
    finally:
        running.stop()  # a graceful stop writes the whole prediction log
    latencies.sort()
    logged = client.serving.predictions(MODEL, limit=10_000).predictions
    mine = {p.prediction_id for p in logged} & set(ids)
    trace = client.serving.trace(ids[-1]) if ids else None
    return {
        "uri": uri,
        "versions": sorted(versions),
        "start_seconds": round(ready, 2),
        "requests": len(latencies),
        "failed": len(failures),
        "first_failure": failures[0] if failures else None,
        "clients": CLIENTS,
        "requests_per_second": round(len(latencies) / took, 1) if took else None,
        "latency_ms_p50": round(statistics.median(latencies), 2) if latencies else None,
        "latency_ms_p99": (
            round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2)
            if latencies
            else None
        ),
        "logged": len(mine),
        "traced_prediction": ids[-1] if ids else None,
        "traced_run": trace.lineage.run.id if trace and trace.lineage.run else None,
        "traced_inputs": [i.dataset for i in trace.lineage.inputs] if trace else [],
    }
