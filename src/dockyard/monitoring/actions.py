"""What an alert does: roll an alias back, freeze the model, fire a retraining schedule (all
done by the service at once, as the monitor's principal, and recorded in the model's
history), and webhooks, which runners deliver with retries so a slow receiver never holds
up a monitor."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from dockyard.core.errors import DockyardError
from dockyard.core.principal import Principal
from dockyard.monitoring.schemas import (
    Action,
    ActionOutcome,
    Alert,
    FreezeAction,
    RetrainAction,
    RollbackAction,
    WebhookAction,
)
from dockyard.pipelines.schedules import fire_now
from dockyard.registry.schemas import FreezeSet, Rollback
from dockyard.registry.service import ModelRegistry

WEBHOOK_ATTEMPTS = 4
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_BACKOFF = 1.0


def target_of(action: Action) -> str:
    if isinstance(action, WebhookAction):
        return action.url
    if isinstance(action, RetrainAction):
        return action.schedule
    if isinstance(action, RollbackAction):
        return action.alias
    return ""


def act(
    registry: ModelRegistry,
    write: Callable[[Callable[[Session], Any]], Any],
    principal: Principal,
    project: str,
    model: str,
    action: Action,
    reason: str,
) -> ActionOutcome:
    """Carry out ``action`` for an alert on ``model`` (never raises for a refusal: the
    outcome says why, e.g. an alias with no earlier version or a model already frozen)."""
    outcome = ActionOutcome(kind=action.kind, target=target_of(action), status="done")
    try:
        if isinstance(action, WebhookAction):
            outcome.status = "pending"
        elif isinstance(action, RollbackAction):
            moved = registry.rollback(principal, model, action.alias, Rollback(reason=reason))
            outcome.detail = f"{action.alias} -> v{moved.version}"
        elif isinstance(action, FreezeAction):
            registry.freeze(principal, model, FreezeSet(reason=reason))
            outcome.detail = "frozen"
        elif isinstance(action, RetrainAction):
            at = write(lambda session: fire_now(session, project, action.schedule))
            if at is None:
                outcome.status = "skipped"
                outcome.detail = (
                    f"schedule {project}/{action.schedule} already ran on the newest version "
                    "of its dataset: nothing new to retrain on"
                )
            else:
                outcome.detail = f"schedule {project}/{action.schedule} fires at {at:%H:%M:%S} UTC"
    except DockyardError as exc:
        outcome.status, outcome.detail = "failed", exc.message
    return outcome


def deliver(
    alert: Alert,
    url: str,
    *,
    attempts: int = WEBHOOK_ATTEMPTS,
    timeout: float = WEBHOOK_TIMEOUT,
    backoff: float = WEBHOOK_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, str, int]:
    """POST ``alert`` to ``url``; retried with exponential backoff on an error or a 5xx or
    429 answer. Returns (delivered, what happened, attempts made)."""
    import httpx

    body = alert.model_dump(mode="json")
    detail = ""
    for attempt in range(1, attempts + 1):
        try:
            answer = httpx.post(url, json=body, timeout=timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"[:500]
        else:
            if answer.status_code < 300:
                return True, f"HTTP {answer.status_code}", attempt
            detail = f"HTTP {answer.status_code}: {answer.text[:200]}"
            if answer.status_code < 500 and answer.status_code != 429:
                return False, detail, attempt  # the receiver refused it: retrying will not help
        if attempt < attempts:
            sleep(backoff * 2 ** (attempt - 1))
    return False, detail, attempts


def pending_webhooks(alert: Alert) -> Sequence[tuple[int, str]]:
    """(index, url) of the alert's webhooks not yet delivered."""
    return [
        (i, a.target)
        for i, a in enumerate(alert.actions)
        if a.kind == "webhook" and a.status == "pending"
    ]
