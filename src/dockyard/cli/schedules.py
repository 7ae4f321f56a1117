"""``dockyard pipelines schedule ...`` and ``dockyard scheduler``: schedules and their firing."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, PROJECT, PROJECT_FILTER, YES
from dockyard.cli.output import Column, dump_json, say, table

if TYPE_CHECKING:
    from dockyard.pipelines.schedule_schemas import Schedule

app = typer.Typer(
    help="Run pipelines on a cron schedule (UTC) or when a dataset gets a new valid version.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _when(at: dt.datetime | None) -> str:
    return "" if at is None else f"{at:%Y-%m-%d %H:%M:%S}"


def _parse_params(params: str | None, sets: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if params:
        try:
            found = json.loads(params)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"--params is not JSON: {exc}") from None
        if not isinstance(found, dict):
            raise typer.BadParameter("--params takes a JSON object, e.g. '{\"n\": 5}'")
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: use --set NAME=VALUE (VALUE as JSON or text)")
        try:
            found[key] = json.loads(text)
        except json.JSONDecodeError:
            found[key] = text
    return found


def _table(schedules: list[Schedule], empty: str | None = None) -> None:
    table(
        None,
        [
            Column("project", drop=5),
            Column("name", keep=True),
            "trigger",
            Column("pipeline", drop=4),
            Column("enabled", drop=3),
            Column("next firing (UTC)", drop=2),
            Column("last fired (UTC)", drop=1),
            Column("last run", keep=True, drop=6),
            "last status",
        ],
        [
            (
                s.project,
                s.name,
                s.trigger
                + (f" (seen @{s.last_seen_version})" if s.last_seen_version is not None else ""),
                s.pipeline if len(s.pipeline) <= 48 else "..." + s.pipeline[-45:],
                "yes" if s.enabled else "no",
                _when(s.next_fire_at) if s.enabled else "",
                _when(s.last_fired_at),
                s.last_run_id or "",
                s.last_status or "",
            )
            for s in schedules
        ],
        empty=empty,
    )


def _show(schedule: Schedule, as_json: bool) -> None:
    from rich.markup import escape

    if as_json:
        dump_json(schedule)
        return
    _table([schedule])
    if schedule.params:
        say(escape(f"params: {json.dumps(schedule.params, sort_keys=True)}"))
    if schedule.dataset is not None:
        say(
            f"fires once per new accepted version of {schedule.dataset}, passed as "
            f"{schedule.dataset_param}='{schedule.dataset}@<number>'"
        )
    if schedule.last_error:
        say(escape(f"last error: {schedule.last_error.strip()[-2000:]}"))


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The schedule's name (unique in its project)."),
    pipeline: str = typer.Argument(
        ..., help="The pipeline: module:function or path/to/file.py:function."
    ),
    project: str = PROJECT,
    cron: str | None = typer.Option(
        None, "--cron", help="When to run, in UTC: e.g. '0 3 * * *' (03:00 daily), '@hourly'."
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="Run once per new accepted version of this dataset."
    ),
    dataset_param: str = typer.Option(
        "data", "--dataset-param", help="The parameter that receives 'dataset@number'."
    ),
    params: str | None = typer.Option(None, "--params", help="Pipeline parameters, JSON."),
    sets: list[str] = typer.Option(
        [], "--set", help="A pipeline parameter, NAME=VALUE (repeatable; VALUE JSON or text)."
    ),
    executor: str = typer.Option("process", "--executor", "-e", help="Where steps run."),
    disabled: bool = typer.Option(False, "--disabled", help="Create it without firing yet."),
    check: bool = typer.Option(
        True,
        "--check/--no-check",
        help="Import the pipeline here first and check its parameters (--no-check for one "
        "that imports only where the scheduler runs).",
    ),
    as_json: bool = JSON,
) -> None:
    """Create a schedule: a cron expression (--cron) or a dataset trigger (--dataset).

    The scheduler imports the pipeline when the schedule fires. On a server, schedules need
    its admin token."""
    from dockyard.sdk.projects import ensure_project

    values = _parse_params(params, sets)
    with overrides(ctx).client() as client:
        if cron is not None and dataset is None:
            ensure_project(client, project)
        schedule = client.schedules.create(
            project,
            name,
            pipeline,
            cron=cron,
            dataset=dataset,
            dataset_param=dataset_param,
            params=values,
            executor=executor,
            enabled=not disabled,
            check=check,
        )
    if as_json:
        dump_json(schedule)
    elif schedule.cron is not None:
        say(
            f"created schedule [bold]{schedule.name}[/]: {schedule.pipeline} at "
            f"'{schedule.cron}' (UTC), next at {_when(schedule.next_fire_at)}"
        )
    else:
        say(
            f"created schedule [bold]{schedule.name}[/]: {schedule.pipeline} on each new "
            f"version of {schedule.dataset} after @{schedule.last_seen_version}"
        )


@app.command("list")
def list_(
    ctx: typer.Context,
    project: str | None = PROJECT_FILTER,
    as_json: bool = JSON,
) -> None:
    """List schedules with their last and next firing."""
    with overrides(ctx).client() as client:
        schedules = client.schedules.list(project)
    if as_json:
        dump_json(schedules)
    else:
        _table(schedules, f"no schedules in project {project}" if project else "no schedules yet")


@app.command()
def show(ctx: typer.Context, name: str, project: str = PROJECT, as_json: bool = JSON) -> None:
    """Show one schedule: what it runs, when it fired last (which run, how it ended), next."""
    with overrides(ctx).client() as client:
        _show(client.schedules.get(project, name), as_json)


@app.command()
def delete(
    ctx: typer.Context,
    name: str,
    project: str = PROJECT,
    yes: bool = YES,
) -> None:
    """Delete a schedule (the runs it started stay)."""
    if not yes and not typer.confirm(f"Delete schedule {name!r} of project {project!r}?"):
        raise typer.Abort()
    with overrides(ctx).client() as client:
        client.schedules.delete(project, name)
    say(f"deleted schedule [bold]{name}[/]")


@app.command()
def enable(ctx: typer.Context, name: str, project: str = PROJECT, as_json: bool = JSON) -> None:
    """Let a schedule fire again (from its next slot, or the dataset's next new version)."""
    with overrides(ctx).client() as client:
        _show(client.schedules.enable(project, name), as_json)


@app.command()
def disable(ctx: typer.Context, name: str, project: str = PROJECT, as_json: bool = JSON) -> None:
    """Stop a schedule from firing (a run already started goes on)."""
    with overrides(ctx).client() as client:
        _show(client.schedules.disable(project, name), as_json)


def log_line(message: str) -> None:
    """A timestamped line on stderr, for a long-running scheduler's log."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    sys.stderr.write(f"{stamp} {message}\n")
    sys.stderr.flush()


def scheduler(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Poll once, run what is due, and exit."),
    interval: float = typer.Option(10.0, "--interval", min=0.1, help="Seconds between polls."),
    project: str | None = PROJECT_FILTER,
    as_json: bool = typer.Option(False, "--json", help="With --once: print the firings as JSON."),
) -> None:
    """Fire due pipeline schedules: poll, claim each due firing, run it, record the run.

    Several schedulers (and `dockyard server`) may run at once: each firing is claimed
    in the database by exactly one. Against a server (DOCKYARD_URL) it needs the server's
    admin token. With --once the exit code is 1 if a run failed.
    """
    from dataclasses import asdict

    from dockyard.sdk.scheduler import Scheduler

    with overrides(ctx).client() as client:
        where = client.settings.url or f"the home at {client.settings.home}"
        runner = Scheduler(client, project=project, interval=interval, say=log_line)
        if once:
            fired = runner.poll()
            if as_json:
                dump_json([asdict(f) for f in fired])
            elif not fired:
                log_line("nothing is due")
            if any(f.status != "succeeded" for f in fired):
                raise typer.Exit(1)
            return
        log_line(f"scheduler polling {where} every {interval:g} s (Ctrl-C stops)")
        runner.run_forever()
