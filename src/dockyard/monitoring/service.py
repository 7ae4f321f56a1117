"""The monitoring service: monitors of served models, the windows they computed, labels that
arrive later, and alerts with what their actions did.

A monitor cuts a model's prediction log into windows (aligned to the window length, UTC) and,
per window and model version, compares the traffic with the version's reference (drift per
column, from mergeable summaries), checks its quality, and measures performance from the
labels known so far (and estimates it before they arrive). Each window is computed once;
runners claim due monitors by compare-and-set, so two never compute one window twice, and a
monitor that was not run for a while catches up window by window.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Callable
from typing import Any, BinaryIO

import pyarrow as pa
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.core.operations import LISTING, SERVER, Target, operation
from dockyard.core.principal import Principal, Role
from dockyard.data.service import DatasetService
from dockyard.monitoring import alerting, label_store, reference, views
from dockyard.monitoring.evaluate import (
    rule_alerts,
)
from dockyard.monitoring.exposition import Latest, exposition
from dockyard.monitoring.labels import match
from dockyard.monitoring.late import floor_to, late_starts
from dockyard.monitoring.schemas import (
    Alert,
    AlertQuery,
    Delivery,
    DueRequest,
    EntityLabelBatch,
    LabelBatch,
    LabelResult,
    Monitor,
    MonitorConfig,
    MonitorCreate,
    MonitorQuery,
    Report,
    ReportQuery,
    RunRequest,
    RunResult,
    VersionReport,
    WindowQuery,
    WindowResult,
    period_seconds,
    window_seconds,
)
from dockyard.monitoring.traffic import window_traffic
from dockyard.monitoring.windowing import WindowComputer, read_log
from dockyard.pipelines.schedule_schemas import next_fire_time
from dockyard.pipelines.schedules import find_schedule
from dockyard.projects.service import find_project
from dockyard.registry.records import find_model
from dockyard.registry.service import ModelRegistry
from dockyard.serving.service import ServingService
from dockyard.store.db import Database
from dockyard.store.tables import (
    MonitorAlertRow,
    MonitorReferenceRow,
    MonitorRow,
    MonitorWindowRow,
    ProjectRow,
    RegisteredModelRow,
    utcnow,
)

Monitors = list[Monitor]
Windows = list[WindowResult]
Alerts = list[Alert]

GRACE = dt.timedelta(seconds=30)
"""A window is computed this long after it ends: servers write the log every few seconds."""
MAX_WINDOWS_PER_RUN = 200


def _monitor(row: MonitorRow, model: RegisteredModelRow, project: str) -> Monitor:
    return Monitor(
        id=row.id,
        model=model.name,
        project=project,
        name=row.name,
        window=_window_text(row.window_seconds),
        schedule=row.cron,
        config=MonitorConfig.model_validate_json(row.config),
        enabled=row.enabled,
        next_run_at=row.next_run_at,
        computed_until=row.computed_until,
        last_run_at=row.last_run_at,
        last_error=row.last_error,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _window_text(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


def _next_run(row: MonitorRow, now: dt.datetime) -> dt.datetime:
    if row.cron:
        return next_fire_time(row.cron, now)
    return floor_to(now, row.window_seconds) + dt.timedelta(seconds=row.window_seconds) + GRACE


class MonitorService:
    """Monitors of served models: windows, labels and alerts."""

    service_name = "monitoring"

    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        serving: ServingService,
        datasets: DatasetService,
        registry: ModelRegistry,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.serving = serving
        self.datasets = datasets
        self.registry = registry

    # -- monitors ---------------------------------------------------------------------------

    @operation(
        "PUT", "/monitoring/monitors", on=Target("model", "body.model"), role=Role.MAINTAINER
    )
    def put(self, principal: Principal, body: MonitorCreate) -> Monitor:
        """Create a monitor of a model, or change it (same model and name). A monitor acts
        on its own (rollbacks, freezes, retraining), so it needs the maintainer role."""
        seconds = window_seconds(body.window)
        config = MonitorConfig.model_validate(
            body.model_dump(include=set(MonitorConfig.model_fields))
        )
        if config.reference:
            reference._split_ref(config.reference)

        def upsert(session: Session) -> Monitor:
            model = find_model(session, body.model)
            project = session.get(ProjectRow, model.project_id)
            for action in config.on_alert:
                if action.kind == "retrain":
                    find_schedule(session, project.name if project else "", action.schedule)
            now = utcnow()
            row = session.scalar(
                select(MonitorRow).where(
                    MonitorRow.model_id == model.id, MonitorRow.name == body.name
                )
            )
            if row is None:
                row = MonitorRow(
                    id=new_id(),
                    model_id=model.id,
                    name=body.name,
                    created_by=principal.name,
                    created_at=now,
                    enabled=True,
                    last_error="",
                )
                session.add(row)
            elif row.window_seconds != seconds or row.config != config.model_dump_json():
                # other windows or checks: what was computed no longer compares
                session.execute(
                    delete(MonitorWindowRow).where(MonitorWindowRow.monitor_id == row.id)
                )
                session.execute(
                    delete(MonitorReferenceRow).where(MonitorReferenceRow.monitor_id == row.id)
                )
                row.computed_until = None
            row.window_seconds = seconds
            row.config = config.model_dump_json()
            row.cron = body.schedule
            row.updated_at = now
            row.next_run_at = now
            session.flush()
            return _monitor(row, model, project.name if project else "")

        return self.db.write(upsert)

    @operation(
        "GET",
        "/monitoring/monitors",
        on=(
            Target("model", "query.model", optional=True),
            Target("project", "query.project", optional=True),
        ),
    )
    def list(self, principal: Principal, query: MonitorQuery) -> Monitors:
        """Monitors, of one model or project, or all."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> Monitors:
            stmt = (
                select(MonitorRow, RegisteredModelRow, ProjectRow)
                .join(RegisteredModelRow, RegisteredModelRow.id == MonitorRow.model_id)
                .join(ProjectRow, ProjectRow.id == RegisteredModelRow.project_id)
            )
            if readable is not None:
                stmt = stmt.where(ProjectRow.id.in_(readable))
            if query.model:
                stmt = stmt.where(RegisteredModelRow.id == find_model(session, query.model).id)
            if query.project:
                stmt = stmt.where(ProjectRow.id == find_project(session, query.project).id)
            stmt = stmt.order_by(RegisteredModelRow.name, MonitorRow.name)
            return [_monitor(m, r, p.name) for m, r, p in session.execute(stmt)]

        return self.db.query(fetch)

    def _find(
        self, session: Session, model: str, name: str
    ) -> tuple[MonitorRow, RegisteredModelRow]:
        model_row = find_model(session, model)
        row = session.scalar(
            select(MonitorRow).where(MonitorRow.model_id == model_row.id, MonitorRow.name == name)
        )
        if row is None:
            raise NotFound(
                f"model {model!r} has no monitor {name!r}; `dockyard monitor list` shows them"
            )
        return row, model_row

    @operation("GET", "/monitoring/monitors/{model}/{name}", on=Target("model", "model"))
    def get(self, principal: Principal, model: str, name: str) -> Monitor:
        """One monitor."""

        def fetch(session: Session) -> Monitor:
            row, model_row = self._find(session, model, name)
            project = session.get(ProjectRow, model_row.project_id)
            return _monitor(row, model_row, project.name if project else "")

        return self.db.query(fetch)

    @operation(
        "DELETE",
        "/monitoring/monitors/{model}/{name}",
        status=204,
        on=Target("model", "model"),
        role=Role.MAINTAINER,
    )
    def delete(self, principal: Principal, model: str, name: str) -> None:
        """Delete a monitor with its windows and alerts (labels stay with the model)."""

        def erase(session: Session) -> None:
            row, _ = self._find(session, model, name)
            session.delete(row)

        self.db.write(erase)

    # -- running ----------------------------------------------------------------------------

    @operation("POST", "/monitoring/due", on=SERVER, role=Role.ADMIN, audit=False)
    def due(self, principal: Principal, body: DueRequest) -> Monitors:
        """Claim up to ``limit`` monitors that are due (compare-and-set on their next run
        time): the caller, and no other runner, runs them now."""

        def take(session: Session) -> Monitors:
            now = utcnow()
            stmt = (
                select(MonitorRow)
                .where(MonitorRow.enabled.is_(True), MonitorRow.next_run_at <= now)
                .order_by(MonitorRow.next_run_at)
                .limit(body.limit)
            )
            if body.skip:
                stmt = stmt.where(MonitorRow.id.not_in(body.skip))
            claimed = []
            for row in session.scalars(stmt).all():
                result = session.execute(
                    update(MonitorRow)
                    .where(MonitorRow.id == row.id, MonitorRow.next_run_at == row.next_run_at)
                    .values(next_run_at=_next_run(row, now))
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    session.refresh(row)
                    model = session.get(RegisteredModelRow, row.model_id)
                    project = session.get(ProjectRow, model.project_id) if model else None
                    if model is not None:
                        claimed.append(_monitor(row, model, project.name if project else ""))
            return claimed

        return self.db.write(take)

    @operation(
        "POST",
        "/monitoring/monitors/{model}/{name}/run",
        on=Target("model", "model"),
        role=Role.MAINTAINER,
    )
    def run(self, principal: Principal, model: str, name: str, body: RunRequest) -> RunResult:
        """Compute the windows that ended since the monitor last ran (a first run goes back
        ``backfill``), raise alerts and carry out their actions; webhooks are left pending
        for the runner to deliver."""
        now = utcnow()
        # Runners compute the windows that ended a grace ago. A caller who names ``until``
        # vouches that the log of the windows before it is complete (the demo and tests
        # compute a window as soon as its traffic is written): a window is computed once.
        until = body.until or now

        def plan(session: Session) -> tuple[MonitorRow, str, str]:
            row, model_row = self._find(session, model, name)
            project = session.get(ProjectRow, model_row.project_id)
            session.expunge(row)
            return row, model_row.id, project.name if project else ""

        row, model_id, project = self.db.query(plan)
        config = MonitorConfig.model_validate_json(row.config)
        seconds = row.window_seconds
        last_end = floor_to(until - GRACE, seconds)
        first = row.computed_until or floor_to(
            last_end - dt.timedelta(seconds=period_seconds(config.backfill)), seconds
        )
        starts: builtins.list[dt.datetime] = []
        start = first
        while (
            start + dt.timedelta(seconds=seconds) <= last_end and len(starts) < MAX_WINDOWS_PER_RUN
        ):
            starts.append(start)
            start += dt.timedelta(seconds=seconds)
        late, seen = self.db.query(
            lambda s: late_starts(
                s, model_id, row.segments_seen, row.computed_until, seconds, MAX_WINDOWS_PER_RUN
            )
        )
        windows: Windows = []
        computer = WindowComputer(
            self.db, self.blobs, self.serving, self.datasets, row, model, model_id, last_end
        )
        error = ""
        computed_until = row.computed_until
        step = dt.timedelta(seconds=seconds)
        try:
            for start in late:  # traffic that arrived after these were computed
                windows.extend(computer.compute(start, start + step, again=True))
            for start in starts:
                end = start + step
                windows.extend(computer.compute(start, end))
                computed_until = end
        except InvalidInput as exc:
            error = exc.message
        except NotFound as exc:
            error = exc.message
        # realised performance: the windows just computed, and those whose predictions were
        # labelled since the last run started (at most 30 days back)
        labelled = self.db.query(
            lambda s: views.relabelled(
                s,
                row,
                model_id,
                model,
                row.last_run_at or now - dt.timedelta(days=30),
                [w.start for w in windows],
                now - dt.timedelta(days=30),
            )
        )
        alerts = alerting.raise_alerts(
            self.db,
            self.registry,
            row,
            model,
            project,
            config,
            rule_alerts(config, windows, labelled),
        )

        def finish(session: Session) -> None:
            session.execute(
                update(MonitorRow)
                .where(MonitorRow.id == row.id)
                .values(
                    computed_until=computed_until,
                    segments_seen=row.segments_seen if error else seen,
                    last_run_at=now,  # labels written from here on are checked next run
                    last_error=error,
                )
            )

        self.db.write(finish)
        if error and not windows:
            raise InvalidInput(f"monitor {model}/{name} could not run: {error}")
        return RunResult(monitor=name, model=model, windows=windows, alerts=alerts)

    # -- alerts -----------------------------------------------------------------------------

    @operation(
        "GET",
        "/monitoring/alerts",
        on=(
            Target("model", "query.model", optional=True),
            Target("project", "query.project", optional=True),
        ),
    )
    def alerts(self, principal: Principal, query: AlertQuery) -> Alerts:
        """Alerts, newest first, of a model, a project or all."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> Alerts:
            stmt = (
                select(MonitorAlertRow, MonitorRow, RegisteredModelRow)
                .join(MonitorRow, MonitorRow.id == MonitorAlertRow.monitor_id)
                .join(RegisteredModelRow, RegisteredModelRow.id == MonitorRow.model_id)
            )
            if readable is not None:
                stmt = stmt.where(RegisteredModelRow.project_id.in_(readable))
            if query.model:
                stmt = stmt.where(RegisteredModelRow.id == find_model(session, query.model).id)
            if query.project:
                stmt = stmt.where(
                    RegisteredModelRow.project_id == find_project(session, query.project).id
                )
            if query.since:
                stmt = stmt.where(MonitorAlertRow.raised_at >= query.since)
            stmt = stmt.order_by(MonitorAlertRow.raised_at.desc(), MonitorAlertRow.id.desc())
            return [
                alerting.alert(a, m, r.name) for a, m, r in session.execute(stmt.limit(query.limit))
            ]

        return self.db.query(fetch)

    @operation(
        "PUT", "/monitoring/alerts/{alert_id}/deliveries", on=SERVER, role=Role.ADMIN, audit=False
    )
    def record_delivery(self, principal: Principal, alert_id: str, body: Delivery) -> Alert:
        """Record what delivering one of an alert's webhooks did."""

        def store(session: Session) -> Alert:
            row = session.get(MonitorAlertRow, alert_id)
            if row is None:
                raise NotFound(f"there is no alert {alert_id}")
            outcomes = json.loads(row.actions)
            if body.index >= len(outcomes) or outcomes[body.index]["kind"] != "webhook":
                raise InvalidInput(f"action {body.index} of alert {alert_id} is not a webhook")
            outcomes[body.index].update(
                status=body.status, detail=body.detail, attempts=body.attempts
            )
            row.actions = json.dumps(outcomes)
            monitor = session.get(MonitorRow, row.monitor_id)
            model = session.get(RegisteredModelRow, monitor.model_id) if monitor else None
            assert monitor is not None and model is not None
            return alerting.alert(row, monitor, model.name)

        return self.db.write(store)

    # -- windows and labels -----------------------------------------------------------------

    @operation("GET", "/monitoring/windows", on=Target("model", "query.model"))
    def windows(self, principal: Principal, query: WindowQuery) -> Windows:
        """A monitor's windows between ``since`` and ``until`` (default: the last 7 days),
        oldest first, with performance from the labels known now."""
        until = query.until or utcnow()
        since = query.since or until - dt.timedelta(days=7)
        if since > until:
            raise InvalidInput("since must not be after until")

        def fetch(session: Session) -> Windows:
            row, model_row = self._find(session, query.model, query.monitor)
            return views.windows(
                session, row, model_row, since, until, query.version, query.limit, query.newest
            )

        return self.db.query(fetch)

    @operation("GET", "/monitoring/metrics", on=LISTING)
    def metrics(self, principal: Principal) -> BinaryIO:
        """Prometheus' text format: per monitor and model version, the latest window's drift,
        rows, label coverage, quality and performance, and the alerts raised per rule
        (scrape ``/api/v1/monitoring/metrics`` with a token: it shows the models of the projects
        the token may read)."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> tuple[Any, Any]:
            latest, alerts = views.latest(session), views.alert_counts(session)
            if readable is not None:  # only the models of the projects the caller may read
                names = set(
                    session.scalars(
                        select(RegisteredModelRow.name).where(
                            RegisteredModelRow.project_id.in_(readable)
                        )
                    )
                )
                latest = [x for x in latest if x[0] in names]
                alerts = [x for x in alerts if x[0] in names]
            return latest, alerts

        latest, alerts = self.db.query(fetch)
        return exposition([Latest(model=m, monitor=n, window=w) for m, n, w in latest], alerts)

    @operation("GET", "/monitoring/report", on=Target("model", "query.model"))
    def report(self, principal: Principal, query: ReportQuery) -> Report:
        """A monitor over a period (default: the last 30 days), per model version: drift of
        the period from its windows' summaries merged (not the predictions read again),
        quality problems, alerts, and performance from every label of the period."""
        until = query.until or utcnow()
        since = query.since or until - dt.timedelta(days=30)
        if since > until:
            raise InvalidInput("since must not be after until")

        def fetch(session: Session) -> tuple[builtins.list[VersionReport], int]:
            row, model_row = self._find(session, query.model, query.monitor)
            return views.report(session, row, model_row, since, until)

        versions, alerts = self.db.query(fetch)
        return Report(
            model=query.model,
            monitor=query.monitor,
            since=since,
            until=until,
            versions=versions,
            alerts=alerts,
        )

    @operation("POST", "/monitoring/labels/{model}", on=Target("model", "model"))
    def log_labels(self, principal: Principal, model: str, body: LabelBatch) -> LabelResult:
        """Record the true outcomes of logged predictions, by prediction id (a label given
        again replaces the old one). Every id must name a prediction in the model's log:
        otherwise nothing is stored and the error lists the unknown ids."""
        ids = sorted(body.labels)
        model_id = self.db.query(lambda s: find_model(s, model).id)
        known = label_store.known(self._log_of(model_id), ids)
        unknown = [pid for pid in ids if pid not in known]
        if unknown:
            shown = ", ".join(unknown[:10])
            raise NotFound(
                f"{len(unknown)} of {len(ids)} labels name no prediction in the log of "
                f"{model}: {shown}{' ...' if len(unknown) > 10 else ''} (nothing was stored; "
                "the log is written every few seconds, so send labels of predictions just "
                "made a little later)"
            )
        return self._store_labels(principal, model_id, body.labels, known)

    @operation("POST", "/monitoring/labels/{model}/by-entity", on=Target("model", "model"))
    def log_entity_labels(
        self, principal: Principal, model: str, body: EntityLabelBatch
    ) -> LabelResult:
        """Record outcomes given by entity and time (a chargeback: card and when it paid):
        each labels the model's logged prediction with the same key values nearest in time,
        within ``tolerance``. If any label matches no prediction, nothing is stored and the
        error says which."""
        tolerance = period_seconds(body.tolerance)
        slack = dt.timedelta(seconds=tolerance)
        first = min(item.at for item in body.labels) - slack
        last = max(item.at for item in body.labels) + slack + dt.timedelta(microseconds=1)
        if last - first > dt.timedelta(days=7) + 2 * slack + dt.timedelta(microseconds=1):
            raise InvalidInput("a batch of labels by entity spans at most 7 days: split it")
        model_id = self.db.query(lambda s: find_model(s, model).id)
        log = self._log_of(model_id)(first, last)
        matched: builtins.list[str | None] = [None] * len(body.labels)
        if log is not None:
            matched = match(window_traffic(log, first, last).table, body.labels, tolerance)
        missing = [i for i, pid in enumerate(matched) if pid is None]
        if missing:
            shown = "; ".join(
                f"labels[{i}] {body.labels[i].keys} at {body.labels[i].at:%Y-%m-%d %H:%M:%S}"
                for i in missing[:5]
            )
            raise NotFound(
                f"{len(missing)} of {len(matched)} labels match no prediction of {model} "
                f"within {body.tolerance} (nothing was stored): {shown}"
            )
        labels = {pid: item.label for item, pid in zip(body.labels, matched, strict=True) if pid}
        found = label_store.known(self._log_of(model_id), sorted(labels))
        result = self._store_labels(principal, model_id, labels, found)
        result.matched = {str(i): pid for i, pid in enumerate(matched) if pid is not None}
        return result

    def _log_of(self, model_id: str) -> Callable[[dt.datetime, dt.datetime], pa.Table | None]:
        """Reads the model's prediction log between two times (whole hours)."""
        return lambda start, end: read_log(self.db, self.serving, model_id, start, end)

    def _store_labels(
        self,
        principal: Principal,
        model_id: str,
        labels: dict[str, float],
        found: label_store.Known,
    ) -> LabelResult:
        return self.db.write(
            lambda session: label_store.store(session, principal.name, model_id, labels, found)
        )
