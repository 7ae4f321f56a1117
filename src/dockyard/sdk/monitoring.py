"""Monitoring from Python: ``dy.monitor``, ``dy.log_labels`` and ``dy.monitoring.report``,
and the action objects ``dy.Webhook``, ``dy.Retrain``, ``dy.Rollback`` and ``dy.Freeze``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dockyard.client.client import Client, connect
from dockyard.core.errors import InvalidInput
from dockyard.monitoring.schemas import (
    FreezeAction,
    LabelResult,
    Monitor,
    RetrainAction,
    RollbackAction,
    RunResult,
    WebhookAction,
)


def Webhook(url: str, *, rules: Sequence[str] | None = None) -> WebhookAction:
    """On an alert, POST it as JSON to ``url`` (retried with backoff)."""
    return WebhookAction(url=url, rules=list(rules) if rules is not None else None)


def Retrain(schedule: str, *, rules: Sequence[str] | None = None) -> RetrainAction:
    """On an alert, fire the pipeline schedule ``schedule`` of the model's project now."""
    return RetrainAction(schedule=schedule, rules=list(rules) if rules is not None else None)


def Rollback(alias: str = "champion", *, rules: Sequence[str] | None = None) -> RollbackAction:
    """On an alert, point ``alias`` back at the version it had before its last move."""
    return RollbackAction(alias=alias, rules=list(rules) if rules is not None else None)


def Freeze(*, rules: Sequence[str] | None = None) -> FreezeAction:
    """On an alert, freeze the model: no alias moves until someone unfreezes it."""
    return FreezeAction(rules=list(rules) if rules is not None else None)


class _Session:
    def __init__(self, client: Client | None) -> None:
        self.owned = client is None
        self.client = client if client is not None else connect()

    def __enter__(self) -> Client:
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.client.close()


def monitor(
    model: str,
    *,
    name: str = "default",
    window: str = "1h",
    drift: Mapping[str, Any] | bool | None = True,
    quality: Mapping[str, Any] | bool | None = True,
    performance: Mapping[str, Any] | None = None,
    reference: str | None = None,
    on_alert: Sequence[Any] = (),
    schedule: str | None = None,
    cooldown: str = "1h",
    backfill: str = "1d",
    client: Client | None = None,
) -> Monitor:
    """Watch the served model ``model``: every ``window`` of its prediction log is compared
    with the data its version was trained on (``drift``), checked against that dataset's
    rules (``quality``) and, once labels arrive (:func:`log_labels`), measured
    (``performance={"metric": "auc", "min": 0.85}``); an alert runs ``on_alert``. Calling
    it again with the same ``name`` changes the monitor. Runners (``dockyard server``'s
    scheduler, ``dockyard scheduler``) compute it when each window ends, or on
    ``schedule`` (cron)."""

    def section(value: Any) -> Any:
        if value is True:
            return {}
        if value is False:
            return None
        return dict(value) if value is not None else None

    with _Session(client) as active:
        return active.monitoring.put(
            model,
            name=name,
            window=window,
            drift=section(drift),
            quality=section(quality),
            performance=section(performance),
            reference=reference,
            on_alert=list(on_alert),
            schedule=schedule,
            cooldown=cooldown,
            backfill=backfill,
        )


def log_labels(
    model: str,
    labels: Mapping[str, float] | pd.DataFrame,
    *,
    keys: Sequence[str] | None = None,
    at: str = "at",
    label: str = "label",
    tolerance: str = "5m",
    client: Client | None = None,
) -> LabelResult:
    """Record true outcomes that arrive later (chargebacks), either ``{prediction id:
    label}``, or a DataFrame of entity keys, a time and a label (``keys=["card_hash"]``;
    column names ``at`` and ``label`` by default): each row labels the model's prediction
    for the same keys nearest that time, within ``tolerance``. If any label matches no
    logged prediction, nothing is stored and the error says which."""
    with _Session(client) as active:
        if isinstance(labels, pd.DataFrame):
            if not keys:
                raise InvalidInput("labels by entity need keys=[...]: the key columns to match")
            missing = [c for c in (*keys, at, label) if c not in labels.columns]
            if missing:
                raise InvalidInput(f"the labels have no column {missing[0]!r}")
            records = [
                {"keys": {k: row[k] for k in keys}, "at": row[at], "label": row[label]}
                for row in labels[[*keys, at, label]].to_dict("records")
            ]
            return active.monitoring.log_entity_labels(model, records, tolerance=tolerance)
        return active.monitoring.log_labels(model, labels)


def run(model: str, name: str = "default", *, client: Client | None = None) -> RunResult:
    """Compute the monitor's windows that ended since it last ran, now."""
    with _Session(client) as active:
        return active.monitoring.run(model, name)


def report(
    model: str,
    name: str = "default",
    *,
    since: dt.datetime | dt.timedelta = dt.timedelta(days=7),
    until: dt.datetime | None = None,
    html: str | Path | None = None,
    client: Client | None = None,
) -> pd.DataFrame:
    """One row per window and model version (the newest 10,000 of the period): rows,
    drifted columns, quality problems, label coverage and realised and estimated
    performance. With ``html``, also write the
    period's report there as one self-contained page (drift of the whole period per column
    and version, from the windows' merged summaries)."""
    end = until or dt.datetime.now(dt.UTC)
    start = end - since if isinstance(since, dt.timedelta) else since
    with _Session(client) as active:
        windows = active.monitoring.windows(
            model, name, since=start, until=end, limit=10_000, newest=True
        )
        if html is not None:
            from dockyard.monitoring.html import render

            monitor = active.monitoring.get(model, name)
            period = active.monitoring.report(model, name, since=start, until=end)
            metric = monitor.config.performance.metric if monitor.config.performance else None
            Path(html).write_text(render(period, windows, metric), encoding="utf-8")
    records = []
    for w in windows:
        record: dict[str, Any] = {
            "start": w.start,
            "end": w.end,
            "version": w.version,
            "rows": w.rows,
            "drifted": len(w.drifted),
            "drifted_columns": ", ".join(w.drifted),
            "quality_problems": len(w.quality),
            "labelled": w.performance.labelled,
            "coverage": w.performance.coverage,
        }
        record.update({f"realised_{k}": v for k, v in w.performance.realised.items()})
        record.update({f"estimated_{k}": v for k, v in w.performance.estimated.items()})
        records.append(record)
    return pd.DataFrame.from_records(records)
