"""What one window shows (drift, quality, estimated performance), performance from the
labels known now, and which rules a set of windows breaks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from dockyard.core.errors import InvalidInput
from dockyard.data.schemas import Column, Rule
from dockyard.monitoring.binning import Binning
from dockyard.monitoring.drift import compare
from dockyard.monitoring.performance import classification, estimate_classification, regression
from dockyard.monitoring.profile import Summary, summarize
from dockyard.monitoring.quality import rule_problems, summary_problems
from dockyard.monitoring.schemas import (
    ColumnResult,
    MonitorConfig,
    Performance,
    PerformanceConfig,
    QualityProblem,
    WindowResult,
)
from dockyard.monitoring.traffic import OUTPUT


@dataclass
class Computed:
    summary: Summary
    drift: list[ColumnResult]
    quality: list[QualityProblem]
    performance: Performance


@dataclass
class Candidate:
    """An alert a rule would raise (the service deduplicates and records it)."""

    rule: str
    version: int
    window_start: dt.datetime
    message: str
    details: dict[str, Any] = field(default_factory=dict)


_NOT_METRICS = {"n", "dropped", "threshold", "positives", "expected_positives"}


def _metrics(values: Any) -> dict[str, float | None]:
    return {
        k: (float(v) if v is not None else None)
        for k, v in values.model_dump().items()
        if k not in _NOT_METRICS and (v is None or isinstance(v, int | float))
    }


def drift_of(
    config: MonitorConfig, reference: Summary, current: Summary, binning: Binning
) -> list[Any]:
    """Each column's drift from ``reference`` to ``current`` under the monitor's settings
    (a setting that names a column the reference lacks is refused with what to fix)."""
    assert config.drift is not None
    try:
        return compare(
            reference,
            current,
            binning,
            method=config.drift.method,
            threshold=config.drift.threshold,
            thresholds=config.drift.thresholds,
            methods=config.drift.methods,
        )
    except ValueError as exc:
        raise InvalidInput(
            f"the monitor's drift settings do not fit the reference: {exc} (the reference has "
            f"{', '.join(sorted(binning.columns)[:30])})"
        ) from None


def evaluate_window(
    config: MonitorConfig,
    rows: pa.Table,
    binning: Binning,
    reference: Summary,
    rules: Sequence[Rule],
    columns: list[Column],
    calibration: tuple[np.ndarray, np.ndarray] | None,
    end: dt.datetime,
) -> Computed:
    """Drift, quality and (estimated) performance of one version's rows of one window."""
    summary = summarize(rows, binning)
    drift: list[ColumnResult] = []
    if config.drift is not None and rows.num_rows >= config.drift.min_rows:
        found = drift_of(config, reference, summary, binning)
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
            for d in found
        ]
    quality: list[QualityProblem] = []
    if config.quality is not None:
        quality = summary_problems(reference, summary, config.quality)
        if config.quality.rules:
            inputs = [c for c in rows.column_names if c in binning.columns]
            quality += rule_problems(rows.select(inputs), rules, columns, end)
    performance = Performance()
    perf = config.performance
    if perf is not None and perf.task == "classification" and perf.estimate and calibration:
        scores = rows[OUTPUT].to_numpy(zero_copy_only=False).astype(float)
        scores = scores[~np.isnan(scores)]
        ref_scores, ref_labels = calibration
        if len(scores) and len(np.unique(ref_labels)) == 2:
            try:
                estimated = estimate_classification(
                    ref_scores, ref_labels, scores, threshold=perf.threshold
                )
            except ValueError as exc:  # labels of the calibration set other than 0 and 1
                performance.error = str(exc)[:500]
            else:
                performance.estimated = _metrics(estimated)
    return Computed(summary=summary, drift=drift, quality=quality, performance=performance)


def realised(
    perf: PerformanceConfig, truth: np.ndarray, scores: np.ndarray, into: Performance
) -> Performance:
    """``into`` with the metrics of ``scores`` against the labels ``truth``."""
    try:
        if perf.task == "classification":
            into.realised = _metrics(classification(truth, scores, threshold=perf.threshold))
        else:
            into.realised = _metrics(regression(truth, scores))
    except ValueError as exc:  # e.g. labels other than 0 and 1 for a classifier
        into.error = str(exc)[:500]
    return into


def utc(at: dt.datetime) -> dt.datetime:
    """``at`` in UTC (a time read back from SQLite has no zone: it is UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def rule_alerts(
    config: MonitorConfig, new: Sequence[WindowResult], recent: Sequence[WindowResult]
) -> list[Candidate]:
    """The alerts the new windows (drift, quality, estimated performance) and the recent
    windows with labels (realised performance) call for."""
    found: list[Candidate] = []
    for w in new:
        if config.drift is not None and len(w.drifted) >= config.drift.min_drifted:
            found.append(
                Candidate(
                    "drift",
                    w.version,
                    w.start,
                    f"{len(w.drifted)} of {len(w.drift)} columns drifted in the window of "
                    f"{w.start:%Y-%m-%d %H:%M} UTC: {', '.join(w.drifted[:10])}",
                    {"drifted": w.drifted, "window_id": w.id},
                )
            )
        if w.quality:
            found.append(
                Candidate(
                    "quality",
                    w.version,
                    w.start,
                    f"{len(w.quality)} data quality problems in the window of "
                    f"{w.start:%Y-%m-%d %H:%M} UTC: {w.quality[0].message}",
                    {"problems": [q.model_dump() for q in w.quality[:20]], "window_id": w.id},
                )
            )
    perf = config.performance
    if perf is None:
        return found
    for kind, windows in (("estimated_performance", new), ("performance", recent)):
        for w in windows:
            values = (
                w.performance.estimated
                if kind == "estimated_performance"
                else w.performance.realised
            )
            value = values.get(perf.metric)
            if value is None:
                continue
            if kind == "performance" and w.performance.labelled < perf.min_labels:
                continue
            low = perf.min is not None and value < perf.min
            high = perf.max is not None and value > perf.max
            if low or high:
                bound = f"below {perf.min}" if low else f"above {perf.max}"
                what = "estimated " if kind == "estimated_performance" else ""
                found.append(
                    Candidate(
                        kind,
                        w.version,
                        w.start,
                        f"{what}{perf.metric} {value:.4f} is {bound} in the window of "
                        f"{w.start:%Y-%m-%d %H:%M} UTC (v{w.version}, "
                        f"{w.performance.labelled} labels)",
                        {"metric": perf.metric, "value": value, "window_id": w.id},
                    )
                )
    return found
