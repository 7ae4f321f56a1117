"""``dockyard monitor ...``: watch served models for drift, quality and performance."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, LIMIT, PROJECT_FILTER, YES
from dockyard.cli.output import Column, dump_json, plural, say, table

if TYPE_CHECKING:
    from dockyard.monitoring.schemas import Alert, Monitor, WindowResult

app = typer.Typer(
    help="Watch served models: drift, data quality and performance per window, and alerts "
    "that call a webhook, retrain, roll back or freeze.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
NAME = typer.Option("default", "--name", help="The monitor's name (several per model).")


def _when(at: dt.datetime | None) -> str:
    return "" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _ago(text: str) -> dt.timedelta:
    from dockyard.monitoring.schemas import period_seconds

    try:
        return dt.timedelta(seconds=period_seconds(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _monitors(monitors: list[Monitor], empty: str) -> None:
    table(
        None,
        [
            Column("model", keep=True),
            Column("name", keep=True),
            "window",
            Column("checks", drop=3),
            Column("on alert", drop=2),
            Column("computed until (UTC)", drop=1),
            Column("next run (UTC)", drop=4),
            Column("last error", drop=5),
        ],
        [
            (
                m.model,
                m.name,
                m.window,
                ", ".join(
                    k
                    for k, v in (
                        ("drift", m.config.drift),
                        ("quality", m.config.quality),
                        ("performance", m.config.performance),
                    )
                    if v is not None
                ),
                ", ".join(a.kind for a in m.config.on_alert) or "-",
                _when(m.computed_until),
                _when(m.next_run_at) if m.enabled else "disabled",
                m.last_error[:80],
            )
            for m in monitors
        ],
        empty=empty,
    )


def _windows(windows: list[WindowResult], metric: str | None, empty: str) -> None:
    def value(values: dict[str, float | None]) -> str:
        found = values.get(metric) if metric else None
        return "" if found is None else f"{found:.4f}"

    table(
        None,
        [
            Column("window (UTC)", keep=True),
            "version",
            "rows",
            Column("drifted", keep=True),
            Column("quality", drop=3),
            Column("labels", drop=2),
            Column(f"{metric or 'metric'}", drop=1),
            Column(f"estimated {metric or ''}".strip(), drop=4),
        ],
        [
            (
                _when(w.start),
                f"v{w.version}",
                f"{w.rows:,}",
                (", ".join(w.drifted[:4]) + (" ..." if len(w.drifted) > 4 else ""))
                if w.drifted
                else "-",
                str(len(w.quality)) if w.quality else "-",
                f"{w.performance.labelled:,} ({w.performance.coverage:.0%})",
                value(w.performance.realised),
                value(w.performance.estimated),
            )
            for w in windows
        ],
        empty=empty,
    )


def _alerts(alerts: list[Alert], empty: str) -> None:
    table(
        None,
        [
            Column("raised (UTC)", keep=True),
            Column("model", drop=3),
            "rule",
            Column("message", keep=True),
            Column("actions", drop=1),
        ],
        [
            (
                _when(a.raised_at),
                f"{a.model}/{a.monitor}",
                a.rule,
                a.message,
                ", ".join(f"{o.kind} {o.status}" for o in a.actions) or "-",
            )
            for a in alerts
        ],
        empty=empty,
    )


@app.command()
def add(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The registered model to watch."),
    name: str = NAME,
    window: str = typer.Option("1h", "--window", "-w", help="Window length: 15m, 1h, 1d..."),
    drift: bool = typer.Option(True, "--drift/--no-drift", help="Compare with the reference."),
    method: str = typer.Option("auto", "--method", help="auto, psi, ks, chi2, js, wasserstein."),
    threshold: float | None = typer.Option(None, "--threshold", help="Drift threshold."),
    quality: bool = typer.Option(True, "--quality/--no-quality", help="Check data quality."),
    metric: str | None = typer.Option(None, "--metric", help="auc, f1, log_loss, rmse..."),
    minimum: float | None = typer.Option(None, "--min", help="Alert below this metric value."),
    maximum: float | None = typer.Option(None, "--max", help="Alert above this (errors)."),
    reference: str | None = typer.Option(
        None, "--reference", help="project/dataset@version (default: the training data)."
    ),
    webhooks: list[str] = typer.Option([], "--webhook", help="POST alerts here (repeatable)."),
    retrain: str | None = typer.Option(None, "--retrain", help="Fire this schedule on alert."),
    rollback: str | None = typer.Option(None, "--rollback", help="Roll this alias back."),
    freeze: bool = typer.Option(False, "--freeze", help="Freeze the model on alert."),
    schedule: str | None = typer.Option(None, "--schedule", help="Cron (default: each window)."),
    as_json: bool = JSON,
) -> None:
    """Create (or change) a monitor of a served model. On a server it needs the admin token."""
    actions: list[dict[str, Any]] = [{"kind": "webhook", "url": u} for u in webhooks]
    if retrain:
        actions.append({"kind": "retrain", "schedule": retrain})
    if rollback:
        actions.append({"kind": "rollback", "alias": rollback})
    if freeze:
        actions.append({"kind": "freeze"})
    performance = None
    if metric is not None:
        task = "regression" if metric in ("mae", "rmse", "r2") else "classification"
        performance = {"metric": metric, "min": minimum, "max": maximum, "task": task}
    with overrides(ctx).client() as client:
        found = client.monitoring.put(
            model,
            name=name,
            window=window,
            drift={"method": method, "threshold": threshold} if drift else None,
            quality={} if quality else None,
            performance=performance,
            reference=reference,
            on_alert=actions,
            schedule=schedule,
        )
    if as_json:
        dump_json(found)
    else:
        say(
            f"monitor [bold]{found.model}/{found.name}[/]: {found.window} windows, "
            f"first run at {_when(found.next_run_at)} UTC"
        )


@app.command("list")
def list_(
    ctx: typer.Context,
    project: str | None = PROJECT_FILTER,
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    as_json: bool = JSON,
) -> None:
    """List monitors: what each checks, what an alert does, how far it computed."""
    with overrides(ctx).client() as client:
        found = client.monitoring.list(model=model, project=project)
    if as_json:
        dump_json(found)
    else:
        _monitors(found, "no monitors yet: `dockyard monitor add MODEL` adds one")


@app.command()
def run(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The monitored model."),
    name: str = NAME,
    as_json: bool = JSON,
) -> None:
    """Compute the windows that ended since the monitor last ran, now, and act on alerts
    (webhooks are delivered before this returns)."""
    from dockyard.sdk.monitor_runner import deliver_alerts

    with overrides(ctx).client() as client:
        result = client.monitoring.run(model, name)
        for thread in deliver_alerts(client, result.alerts, say=say):
            thread.join(timeout=60)
        alerts = client.monitoring.alerts(model=model, limit=len(result.alerts) or 1)
    if as_json:
        dump_json(result)
        return
    metric = None
    _windows(result.windows, metric, f"no window of {model} ended since the last run")
    say(f"{plural(len(result.windows), 'window')}, {plural(len(result.alerts), 'alert')}")
    if result.alerts:
        _alerts(alerts[: len(result.alerts)], "")


@app.command()
def report(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The monitored model."),
    name: str = NAME,
    since: str = typer.Option("7d", "--since", help="How far back: 1h, 1d, 7d, 2w..."),
    html: Path | None = typer.Option(
        None, "--html", help="Also write the period's report to this HTML file."
    ),
    as_json: bool = JSON,
) -> None:
    """Windows of a monitor: drifted columns, quality problems, labels and performance."""
    until = dt.datetime.now(dt.UTC)
    with overrides(ctx).client() as client:
        monitor = client.monitoring.get(model, name)
        start = until - _ago(since)
        found = client.monitoring.windows(
            model, name, since=start, until=until, limit=10_000, newest=True
        )
        if html is not None:
            from dockyard.monitoring.html import render

            period = client.monitoring.report(model, name, since=start, until=until)
            metric = monitor.config.performance.metric if monitor.config.performance else None
            html.write_text(render(period, found, metric), encoding="utf-8")
            say(f"wrote {html}")
    if as_json:
        dump_json(found)
        return
    metric = monitor.config.performance.metric if monitor.config.performance else None
    _windows(found, metric, f"no windows of {model}/{name} in the last {since}")
    if len(found) >= 10_000:
        say(f"(the newest {len(found):,} windows of the last {since}: ask for a shorter --since)")


@app.command()
def alerts(
    ctx: typer.Context,
    project: str | None = PROJECT_FILTER,
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    limit: int = LIMIT,
    as_json: bool = JSON,
) -> None:
    """Alerts, newest first, with what their actions did."""
    with overrides(ctx).client() as client:
        found = client.monitoring.alerts(model=model, project=project, limit=limit)
    if as_json:
        dump_json(found)
    else:
        _alerts(found, "no alerts")


@app.command()
def labels(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The model whose predictions these label."),
    source: Path = typer.Argument(
        ...,
        help="A CSV with columns prediction_id,label (or a JSON object id -> label); - for stdin.",
    ),
    as_json: bool = JSON,
) -> None:
    """Record true outcomes of logged predictions (labels that arrive later)."""
    text = sys.stdin.read() if str(source) == "-" else source.read_text()
    found: dict[str, float] = {}
    try:
        if text.lstrip().startswith("{"):
            found = {str(k): float(v) for k, v in json.loads(text).items()}
        else:
            for record in csv.DictReader(text.splitlines()):
                found[record["prediction_id"]] = float(record["label"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise typer.BadParameter(
            f"{source}: expected CSV columns prediction_id,label or a JSON object ({exc})"
        ) from None
    with overrides(ctx).client() as client:
        result = client.monitoring.log_labels(model, found)
    if as_json:
        dump_json(result)
    else:
        say(f"stored {plural(result.stored, 'label')}, replaced {result.replaced}")


@app.command()
def delete(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="The monitored model."),
    name: str = NAME,
    yes: bool = YES,
) -> None:
    """Delete a monitor with its windows and alerts (labels stay)."""
    if not yes and not typer.confirm(f"Delete monitor {name!r} of {model!r}?"):
        raise typer.Abort()
    with overrides(ctx).client() as client:
        client.monitoring.delete(model, name)
    say(f"deleted monitor {model}/{name}")
