"""Prometheus metrics of a model server, per model and version: requests by outcome,
latency and batch-size histograms, the prediction log's drops. One registry per app (no
process-global state); with several worker processes, prometheus_client's multiprocess
mode (``PROMETHEUS_MULTIPROC_DIR``, set by ``dockyard serve``) adds up every worker."""

from __future__ import annotations

import os
from collections import deque

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    """The counters a server keeps, and recent latencies per model for its heartbeat."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dockyard_serve_requests",
            "Prediction requests answered, by model, version and outcome",
            ["model", "version", "outcome"],
            registry=self.registry,
        )
        self.rows = Counter(
            "dockyard_serve_rows",
            "Rows predicted, by model and version (shadow predictions included)",
            ["model", "version", "shadow"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dockyard_serve_request_seconds",
            "Time from a request's arrival to its answer",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch = Histogram(
            "dockyard_serve_batch_rows",
            "Rows in each batch a request joined",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.dropped = Counter(
            "dockyard_serve_log_dropped",
            "Predictions not logged because the log queue was full",
            registry=self.registry,
        )
        self.version = Gauge(
            "dockyard_serve_version",
            "The version each served alias answers with",
            ["model", "alias"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.recent: dict[str, deque[float]] = {}
        self.counts: dict[str, list[int]] = {}  # model -> [requests, errors, rows]

    def answered(self, model: str, version: int, rows: int, seconds: float) -> None:
        self.requests.labels(model, str(version), "ok").inc()
        self.rows.labels(model, str(version), "false").inc(rows)
        self.latency.labels(model).observe(seconds)
        self.recent.setdefault(model, deque(maxlen=4096)).append(seconds * 1000)
        counts = self.counts.setdefault(model, [0, 0, 0])
        counts[0] += 1
        counts[2] += rows

    def failed(self, model: str, version: int | None, outcome: str) -> None:
        self.requests.labels(model, "" if version is None else str(version), outcome).inc()
        counts = self.counts.setdefault(model, [0, 0, 0])
        counts[0] += 1
        counts[1] += 1

    def percentiles(self, model: str) -> tuple[float | None, float | None]:
        recent = sorted(self.recent.get(model, ()))
        if not recent:
            return None, None
        return recent[len(recent) // 2], recent[min(len(recent) - 1, int(len(recent) * 0.99))]

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
