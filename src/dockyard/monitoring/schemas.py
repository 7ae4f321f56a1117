"""Request and response models of monitoring: monitors, their windows, labels and alerts."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from dockyard.core.schemas import Count, Limit, Model, Name, Text, UtcTime
from dockyard.pipelines.schedule_schemas import Cron

DriftMethod = Literal["auto", "psi", "ks", "chi2", "js", "wasserstein"]
HigherIsBetter = ("auc", "precision", "recall", "f1", "accuracy", "r2")
LowerIsBetter = ("log_loss", "brier", "ece", "mae", "rmse")
Metric = Literal[
    "auc", "precision", "recall", "f1", "accuracy", "r2", "log_loss", "brier", "ece", "mae", "rmse"
]
Rule = Literal["drift", "quality", "performance", "estimated_performance"]
RULES: tuple[Rule, ...] = ("drift", "quality", "performance", "estimated_performance")
_SECONDS = {"m": 60, "h": 3600, "d": 86_400}
_MAX_WINDOW = 7 * 86_400
_ID = r"^[0-9a-f]{32}$"


def window_seconds(text: str) -> int:
    """The seconds of a window written as ``1m``, ``15m``, ``1h``, ``6h`` or ``1d``: a whole
    number of minutes, hours or days from 1 minute to 7 days that divides a day or is whole
    days, so every window starts at the same times each day (UTC)."""
    unit = text[-1:] if isinstance(text, str) else ""
    number = text[:-1] if isinstance(text, str) else ""
    if unit not in _SECONDS or not number.isdigit() or number.startswith("0"):
        raise ValueError(f"{text!r} is not a window: write e.g. '15m', '1h', '6h' or '1d'")
    seconds = int(number) * _SECONDS[unit]
    if not 60 <= seconds <= _MAX_WINDOW:
        raise ValueError(f"window {text!r}: a window lasts from 1 minute to 7 days")
    if (seconds < 86_400 and 86_400 % seconds) or (seconds >= 86_400 and seconds % 86_400):
        raise ValueError(
            f"window {text!r} does not divide a day into equal windows: use e.g. 1m, 5m, 15m, 30m, "
            "1h, 2h, 6h, 12h, 1d or whole days"
        )
    return seconds


def period_seconds(text: str) -> int:
    """The seconds of a period written as ``30m``, ``6h``, ``7d`` or ``2w``, up to a year."""
    unit = text[-1:] if isinstance(text, str) else ""
    number = text[:-1] if isinstance(text, str) else ""
    sizes = {**_SECONDS, "w": 7 * 86_400}
    if unit not in sizes or not number.isdigit() or number.startswith("0") or len(number) > 6:
        raise ValueError(f"{text!r} is not a period: write e.g. '30m', '6h', '7d' or '2w'")
    seconds = int(number) * sizes[unit]
    if seconds > 366 * 86_400:
        raise ValueError(f"period {text!r}: at most a year")
    return seconds


def _check_period(value: str) -> str:
    period_seconds(value)
    return value


def _check_window(value: str) -> str:
    window_seconds(value)
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Window = Annotated[str, AfterValidator(_check_window), Field(max_length=8)]
Period = Annotated[str, AfterValidator(_check_period), Field(max_length=8)]
Finite = Annotated[float, AfterValidator(_finite)]
Column = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\x00]*$")]


class DriftConfig(Model):
    """Which columns are compared with the reference, how, and when drift alerts."""

    method: DriftMethod = Field(
        "auto",
        description="auto: Wasserstein (numbers) or Jensen-Shannon (categories) over 1000 rows, "
        "else Kolmogorov-Smirnov or chi-squared",
    )
    threshold: Finite | None = Field(None, ge=0, description="default: the method's own")
    thresholds: dict[Column, Finite] = Field(default_factory=dict, max_length=1000)
    methods: dict[Column, DriftMethod] = Field(default_factory=dict, max_length=1000)
    columns: list[Column] | None = Field(
        None, max_length=1000, description="default: every input column of the reference"
    )
    min_drifted: int = Field(1, ge=1, le=1000, description="drifted columns that raise an alert")
    min_rows: int = Field(100, ge=1, le=10**9, description="fewer rows in a window: no drift check")


class QualityConfig(Model):
    """Data quality of live traffic: the reference dataset's column rules (types, nulls,
    ranges, allowed values) and values the reference never had."""

    rules: bool = Field(True, description="apply the reference dataset's validation rules")
    new_categories: bool = Field(True, description="alert on categories the reference lacks")
    max_null_increase: Finite = Field(
        0.1, ge=0, le=1, description="alert when a column's null share rises by more than this"
    )


class PerformanceConfig(Model):
    """Performance from labels that arrive later, and estimated before they do."""

    metric: Metric = "auc"
    min: Finite | None = Field(
        None, description="alert below this (metrics where higher is better)"
    )
    max: Finite | None = Field(None, description="alert above this (error metrics)")
    threshold: Finite = Field(0.5, ge=0, le=1, description="the serving threshold of a classifier")
    task: Literal["classification", "regression"] = "classification"
    min_labels: int = Field(30, ge=1, le=10**9, description="fewer labels: no verdict")
    estimate: bool = Field(True, description="estimate classifier performance before labels")

    @model_validator(mode="after")
    def _consistent(self) -> PerformanceConfig:
        if self.task == "regression" and self.metric not in ("mae", "rmse", "r2"):
            raise ValueError(f"metric {self.metric!r} is for classifiers: use mae, rmse or r2")
        if self.task == "classification" and self.metric in ("mae", "rmse", "r2"):
            raise ValueError(f"metric {self.metric!r} is for regression: set task='regression'")
        if self.min is not None and self.metric in LowerIsBetter:
            raise ValueError(f"{self.metric} is lower-is-better: give max, not min")
        if self.max is not None and self.metric in HigherIsBetter:
            raise ValueError(f"{self.metric} is higher-is-better: give min, not max")
        return self


class _Action(Model):
    rules: list[Rule] | None = Field(None, description="the rules that fire it (default: all)")


class WebhookAction(_Action):
    """POST the alert as JSON to ``url`` (retried with backoff; never blocks the monitor)."""

    kind: Literal["webhook"] = "webhook"
    url: str = Field(
        min_length=8, max_length=2048, pattern=r"^https?://[^\s\x00]+$", description="http(s) URL"
    )


class RetrainAction(_Action):
    """Fire a pipeline schedule of the model's project now (continuous training)."""

    kind: Literal["retrain"] = "retrain"
    schedule: Name


class RollbackAction(_Action):
    """Point the alias back at the version it had before its last move."""

    kind: Literal["rollback"] = "rollback"
    alias: Name = "champion"


class FreezeAction(_Action):
    """Pull the Andon cord: freeze the model (no alias moves until someone unfreezes it)."""

    kind: Literal["freeze"] = "freeze"


Action = Annotated[
    WebhookAction | RetrainAction | RollbackAction | FreezeAction, Field(discriminator="kind")
]


class MonitorConfig(Model):
    """What a monitor checks in each window and what an alert does."""

    drift: DriftConfig | None = Field(default_factory=DriftConfig)
    quality: QualityConfig | None = Field(default_factory=QualityConfig)
    performance: PerformanceConfig | None = None
    reference: Text | None = Field(
        None,
        max_length=300,
        description="project/dataset@version to compare with; default: the dataset version "
        "the model version's training run read",
    )
    on_alert: list[Action] = Field(default_factory=list, max_length=20)
    cooldown: Period = Field("1h", description="no second alert of one rule within this")
    backfill: Period = Field("1d", description="how far back the first run starts")


class MonitorCreate(MonitorConfig):
    model: Name
    name: Name = "default"
    window: Window = "1h"
    schedule: Cron | None = Field(
        None, description="when runners compute it (default: each window)"
    )


class Monitor(Model):
    id: str
    model: str
    project: str
    name: str
    window: str
    schedule: str | None
    config: MonitorConfig
    enabled: bool
    next_run_at: dt.datetime | None
    computed_until: dt.datetime | None
    last_run_at: dt.datetime | None
    last_error: str
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class MonitorQuery(Model):
    model: Name | None = None
    project: Name | None = None


class ColumnResult(Model):
    """One column's drift in one window."""

    column: str
    kind: str
    method: str
    statistic: float
    p_value: float | None = None
    threshold: float
    drifted: bool


class QualityProblem(Model):
    column: str
    check: str
    message: str
    count: int = 0


class Performance(Model):
    """Realised metrics from the labels known so far, and estimated ones."""

    labelled: Count = 0
    coverage: float = 0.0
    realised: dict[str, float | None] = Field(default_factory=dict)
    estimated: dict[str, float | None] = Field(default_factory=dict)
    error: str = Field("", description="why a metric could not be computed (e.g. labels not 0/1)")


class WindowResult(Model):
    id: str
    monitor: str
    model: str
    version: int
    start: dt.datetime
    end: dt.datetime
    rows: int
    drift: list[ColumnResult]
    drifted: list[str]
    quality: list[QualityProblem]
    performance: Performance
    computed_at: dt.datetime


class WindowQuery(Model):
    model: Name
    monitor: Name = "default"
    since: UtcTime | None = None
    until: UtcTime | None = None
    version: Count | None = None
    limit: int = Field(1000, ge=1, le=10_000)
    newest: bool = Field(
        False,
        description="when the period holds more than ``limit`` windows: the newest ones "
        "(default: the oldest); either way they come oldest first",
    )


class RunRequest(Model):
    until: UtcTime | None = Field(
        None,
        description="compute the windows that ended 30 s (the log's grace) before then; "
        "default now. A later time says the log of those windows is complete: each window "
        "is computed once, so predictions logged into it afterwards are not counted.",
    )
    deliver: bool = True


class ActionOutcome(Model):
    kind: str
    target: str
    status: Literal["done", "failed", "pending", "skipped"]
    detail: str = ""
    attempts: int = 0


class Alert(Model):
    id: str
    monitor: str
    model: str
    rule: Rule
    version: int
    window_start: dt.datetime
    message: str
    details: dict[str, Any]
    actions: list[ActionOutcome]
    raised_at: dt.datetime


class AlertQuery(Model):
    model: Name | None = None
    project: Name | None = None
    since: UtcTime | None = None
    limit: Limit = 100


class RunResult(Model):
    monitor: str
    model: str
    windows: list[WindowResult]
    alerts: list[Alert]


class DueRequest(Model):
    limit: int = Field(10, ge=1, le=100)
    skip: list[Annotated[str, Field(pattern=_ID)]] = Field(default_factory=list, max_length=1000)


class LabelBatch(Model):
    """True outcomes of logged predictions, by prediction id."""

    labels: dict[Annotated[str, Field(pattern=_ID)], Finite] = Field(
        min_length=1, max_length=100_000, description="prediction id -> label (0/1, or a number)"
    )


class EntityLabel(Model):
    """The outcome of what happened to an entity at a time (a chargeback of a card's
    purchase): it labels the model's prediction for the same key values nearest that time."""

    keys: dict[Column, str | int | float | bool] = Field(min_length=1, max_length=10)
    at: UtcTime
    label: Finite


class EntityLabelBatch(Model):
    labels: list[EntityLabel] = Field(min_length=1, max_length=100_000)
    tolerance: Period = Field(
        "5m", description="how far from ``at`` the prediction may be (either side)"
    )

    @model_validator(mode="after")
    def _same_keys(self) -> EntityLabelBatch:
        names = set(self.labels[0].keys)
        for i, item in enumerate(self.labels):
            if set(item.keys) != names:
                raise ValueError(
                    f"labels[{i}] has keys {sorted(item.keys)}, labels[0] {sorted(names)}: "
                    "every label of a batch names the same key columns"
                )
        return self


class LabelResult(Model):
    stored: int
    replaced: int
    matched: dict[str, str] = Field(
        default_factory=dict, description="by entity: label index -> the prediction id it labels"
    )


class Delivery(Model):
    """What delivering one action of an alert did (webhooks are delivered by runners)."""

    index: int = Field(ge=0, le=100)
    status: Literal["done", "failed"]
    detail: Text = Field("", max_length=2000)
    attempts: int = Field(0, ge=0, le=1000)


class ReportQuery(Model):
    model: Name
    monitor: Name = "default"
    since: UtcTime | None = None
    until: UtcTime | None = None


class VersionReport(Model):
    """One model version over a whole period: drift from the merged window summaries,
    performance from every label of the period."""

    version: int
    reference: str
    windows: int
    rows: int
    first: dt.datetime
    last: dt.datetime
    drift: list[ColumnResult]
    drifted: list[str]
    windows_drifted: int
    quality_problems: int
    performance: Performance


class Report(Model):
    model: str
    monitor: str
    since: dt.datetime
    until: dt.datetime
    versions: list[VersionReport]
    alerts: int
