"""Raising a monitor's alerts: each rule a window broke is recorded once per window (and not
again within the monitor's cooldown), then the monitor's actions are carried out for it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.core.ids import new_id
from dockyard.core.principal import Principal, Role
from dockyard.monitoring import actions
from dockyard.monitoring.evaluate import Candidate
from dockyard.monitoring.schemas import ActionOutcome, Alert, MonitorConfig, period_seconds
from dockyard.registry.service import ModelRegistry
from dockyard.store.db import Database
from dockyard.store.tables import MonitorAlertRow, MonitorRow, utcnow

__all__ = ["alert", "raise_alerts"]


def alert(row: MonitorAlertRow, monitor: MonitorRow, model: str) -> Alert:
    """A stored alert as the API shows it."""
    return Alert(
        id=row.id,
        monitor=monitor.name,
        model=model,
        rule=row.rule,
        version=row.version,
        window_start=row.window_start,
        message=row.message,
        details=json.loads(row.details),
        actions=[ActionOutcome.model_validate(a) for a in json.loads(row.actions)],
        raised_at=row.raised_at,
    )


def raise_alerts(
    db: Database,
    registry: ModelRegistry,
    monitor: MonitorRow,
    model: str,
    project: str,
    config: MonitorConfig,
    candidates: Sequence[Candidate],
) -> list[Alert]:
    """Record the alerts ``candidates`` call for and carry out the monitor's actions for
    each (webhooks are left pending for the runner to deliver); returns the alerts raised."""
    raised: list[Alert] = []
    cooldown = dt.timedelta(seconds=period_seconds(config.cooldown))
    actor = Principal(name=f"monitor {model}/{monitor.name}", kind="service", role=Role.ADMIN)
    for candidate in candidates:

        def insert(session: Session, c: Candidate = candidate) -> MonitorAlertRow | None:
            recent = session.scalar(
                select(MonitorAlertRow.id).where(
                    MonitorAlertRow.monitor_id == monitor.id,
                    MonitorAlertRow.rule == c.rule,
                    MonitorAlertRow.version == c.version,
                    MonitorAlertRow.raised_at > utcnow() - cooldown,
                )
            )
            if recent is not None:
                return None
            row = MonitorAlertRow(
                id=new_id(),
                monitor_id=monitor.id,
                rule=c.rule,
                version=c.version,
                window_start=c.window_start,
                message=c.message,
                details=json.dumps(c.details),
                actions="[]",
                raised_at=utcnow(),
            )
            session.add(row)
            session.flush()
            return row

        try:
            row = db.write(insert)
        except IntegrityError:
            row = None  # raised already for this window
        if row is None:
            continue
        outcomes = [
            actions.act(
                registry,
                db.write,
                actor,
                project,
                model,
                action,
                f"monitor {monitor.name}: {candidate.message}",
            )
            for action in config.on_alert
            if action.rules is None or candidate.rule in action.rules
        ]
        row.actions = json.dumps([o.model_dump(mode="json") for o in outcomes])
        _store_actions(db, row.id, row.actions)
        raised.append(alert(row, monitor, model))
    return raised


def _store_actions(db: Database, alert_id: str, outcomes: str) -> None:
    def store(session: Session) -> Any:
        return session.execute(
            update(MonitorAlertRow).where(MonitorAlertRow.id == alert_id).values(actions=outcomes)
        )

    db.write(store)
