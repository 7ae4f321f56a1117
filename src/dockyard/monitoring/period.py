"""A monitor over a whole period, per model version: the windows' stored summaries merged
(never the predictions rescanned) and compared with the reference, and performance from
every label of the period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from dockyard.monitoring.binning import Binning
from dockyard.monitoring.codec import merge_bytes
from dockyard.monitoring.evaluate import drift_of, realised
from dockyard.monitoring.profile import Summary
from dockyard.monitoring.schemas import ColumnResult, MonitorConfig, Performance, VersionReport


def version_report(
    config: MonitorConfig,
    version: int,
    source: str,
    binning: Binning,
    reference: Summary,
    windows: Sequence[Any],
    labels: tuple[np.ndarray, np.ndarray],
) -> VersionReport:
    """``windows``: rows of (start, end, rows, summary bytes, drift JSON, quality JSON,
    performance JSON) of one version; ``labels``: the labels and scores (NaN: none) of its
    labelled predictions in the period."""
    rows = sum(w.rows for w in windows)
    merged = merge_bytes([w.summary for w in windows])
    drift = []
    if config.drift is not None:
        drift = [
            ColumnResult(
                column=d.column,
                kind=d.kind,
                method=d.method,
                statistic=d.statistic,
                p_value=d.p_value,
                threshold=d.threshold,
                drifted=d.drifted,
            )
            for d in drift_of(config, reference, merged, binning)
        ]
    truth, scores = labels
    performance = Performance(labelled=len(truth), coverage=len(truth) / rows if rows else 0.0)
    if config.performance is not None:
        if len(truth):
            performance = realised(config.performance, truth, scores, performance)
        estimates = [
            (w.rows, Performance.model_validate_json(w.performance).estimated) for w in windows
        ]
        weight = sum(n for n, e in estimates if e)
        if weight:
            keys = {k for _, e in estimates for k in e}
            performance.estimated = {
                k: sum(n * (e.get(k) or 0.0) for n, e in estimates if e.get(k) is not None)
                / max(1, sum(n for n, e in estimates if e.get(k) is not None))
                for k in sorted(keys)
            }
    return VersionReport(
        version=version,
        reference=source,
        windows=len(windows),
        rows=rows,
        first=min(w.start for w in windows),
        last=max(w.end for w in windows),
        drift=drift,
        drifted=[d.column for d in drift if d.drifted],
        windows_drifted=sum(
            1 for w in windows if any(d.get("drifted") for d in orjson.loads(w.drift))
        ),
        quality_problems=sum(len(orjson.loads(w.quality)) for w in windows),
        performance=performance,
    )
