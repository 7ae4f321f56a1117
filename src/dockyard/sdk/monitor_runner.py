"""Running monitors: claim the due ones, compute their windows, and deliver the webhooks of
the alerts they raise (in background threads, retried with backoff, so a receiver that hangs
never holds up the next monitor). ``dockyard server``'s scheduler thread and ``dockyard
scheduler`` run this beside the pipeline schedules; ``dockyard monitor run`` runs one."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from dockyard.client.client import Client
from dockyard.core.errors import DockyardError
from dockyard.monitoring.actions import deliver, pending_webhooks
from dockyard.monitoring.schemas import Alert, RunResult

log = logging.getLogger("dockyard.monitoring")


def deliver_alerts(
    client: Client, alerts: Sequence[Alert], *, say: Callable[[str], None] = log.info
) -> list[threading.Thread]:
    """Start delivering the pending webhooks of ``alerts``; returns the threads (join them
    to wait). Each outcome is recorded on the alert."""
    threads = []
    for alert in alerts:
        for index, url in pending_webhooks(alert):

            def send(a: Alert = alert, i: int = index, u: str = url) -> None:
                ok, detail, attempts = deliver(a, u)
                try:
                    client.monitoring.record_delivery(
                        a.id, i, delivered=ok, detail=detail, attempts=attempts
                    )
                except DockyardError as exc:
                    say(f"could not record the webhook delivery of alert {a.id}: {exc.message}")
                if not ok:
                    say(f"webhook {u} of alert {a.id} failed after {attempts} attempts: {detail}")

            thread = threading.Thread(target=send, name="dockyard-webhook", daemon=True)
            thread.start()
            threads.append(thread)
    return threads


def run_due(
    client: Client, *, say: Callable[[str], None] = log.info, limit: int = 10
) -> list[RunResult]:
    """Claim and run the monitors that are due; problems are reported, never raised."""
    done: list[RunResult] = []
    seen: list[str] = []
    while True:
        try:
            claimed = client.monitoring.due(limit=1, skip=seen)
        except DockyardError as exc:
            say(f"monitors: could not claim: {exc.message}")
            return done
        if not claimed or len(done) >= limit:
            return done
        for monitor in claimed:
            seen.append(monitor.id)
            try:
                result = client.monitoring.run(monitor.model, monitor.name)
            except DockyardError as exc:
                say(f"monitor {monitor.model}/{monitor.name} failed: {exc.message}")
                continue
            done.append(result)
            if result.windows or result.alerts:
                say(
                    f"monitor {monitor.model}/{monitor.name}: {len(result.windows)} windows, "
                    f"{len(result.alerts)} alerts"
                )
            deliver_alerts(client, result.alerts, say=say)
