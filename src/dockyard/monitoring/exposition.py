"""Monitoring's figures in Prometheus' text format: per monitor and model version, the
latest window's drift (per column, and how many columns drifted), rows, label coverage and
performance (realised and estimated), and the alerts raised per rule."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from dockyard.monitoring.schemas import WindowResult


class Exposition(io.BytesIO):
    """The text a scrape receives, with its content type."""

    media_type = CONTENT_TYPE_LATEST


@dataclass(frozen=True)
class Latest:
    model: str
    monitor: str
    window: WindowResult


class _Collector:
    def __init__(self, latest: Sequence[Latest], alerts: Iterable[tuple[str, str, str, int]]):
        self.latest = latest
        self.alerts = list(alerts)

    def collect(self) -> Iterator[Metric]:
        keys = ["model", "monitor", "version"]
        rows = GaugeMetricFamily(
            "dockyard_monitor_window_rows", "Predictions in the latest window", labels=keys
        )
        drifted = GaugeMetricFamily(
            "dockyard_monitor_drifted_columns",
            "Columns that drifted in the latest window",
            labels=keys,
        )
        statistic = GaugeMetricFamily(
            "dockyard_monitor_drift_statistic",
            "Each column's drift statistic in the latest window (compare with its threshold)",
            labels=[*keys, "column", "method"],
        )
        threshold = GaugeMetricFamily(
            "dockyard_monitor_drift_threshold",
            "Each column's drift threshold",
            labels=[*keys, "column", "method"],
        )
        coverage = GaugeMetricFamily(
            "dockyard_monitor_label_coverage",
            "Share of the latest window's predictions with a label",
            labels=keys,
        )
        performance = GaugeMetricFamily(
            "dockyard_monitor_performance",
            "The latest window's performance: realised from labels, or estimated before them",
            labels=[*keys, "metric", "kind"],
        )
        quality = GaugeMetricFamily(
            "dockyard_monitor_quality_problems",
            "Data quality problems in the latest window",
            labels=keys,
        )
        for item in self.latest:
            w = item.window
            values = [item.model, item.monitor, str(w.version)]
            rows.add_metric(values, w.rows)
            drifted.add_metric(values, len(w.drifted))
            quality.add_metric(values, len(w.quality))
            coverage.add_metric(values, w.performance.coverage)
            for d in w.drift:
                statistic.add_metric([*values, d.column, d.method], d.statistic)
                threshold.add_metric([*values, d.column, d.method], d.threshold)
            for kind, found in (
                ("realised", w.performance.realised),
                ("estimated", w.performance.estimated),
            ):
                for metric, value in found.items():
                    if value is not None:
                        performance.add_metric([*values, metric, kind], value)
        alerts = CounterMetricFamily(
            "dockyard_monitor_alerts", "Alerts raised", labels=["model", "monitor", "rule"]
        )
        for model, monitor, rule, count in self.alerts:
            alerts.add_metric([model, monitor, rule], count)
        yield from (rows, drifted, statistic, threshold, coverage, performance, quality, alerts)


def exposition(latest: Sequence[Latest], alerts: Iterable[tuple[str, str, str, int]]) -> Exposition:
    """The scrape's text for these windows and alert counts."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(latest, alerts))
    return Exposition(generate_latest(registry))
