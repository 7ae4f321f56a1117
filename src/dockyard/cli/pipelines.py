"""``dockyard pipelines ...``: run pipelines with live progress, list and show their runs,
resume a failed run, cancel a running one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from dockyard.cli import ids, schedules
from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, LIMIT, PIPELINE_RUN_ID, PROJECT_FILTER
from dockyard.cli.output import Column, console, dump_json, plural, say, table

if TYPE_CHECKING:
    from dockyard.pipelines.schemas import PipelineRun, StepRecord

app = typer.Typer(
    help="Pipelines: run (live progress), runs, show, resume, cancel, schedule.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(schedules.app, name="schedule")
_COLORS = {
    "succeeded": "green",
    "cached": "cyan",
    "failed": "red",
    "running": "yellow",
    "skipped": "dim",
    "cancelled": "magenta",
}


def _parse_params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(
                f"{item!r}: write a parameter as --set KEY=VALUE, e.g. depth=8"
            )
        try:
            params[key] = json.loads(raw)  # numbers, booleans, lists, quoted strings
        except json.JSONDecodeError:
            params[key] = raw  # a bare word is a string
    return params


def _duration(record: StepRecord) -> str:
    return "" if record.duration_ms is None else f"{record.duration_ms / 1000:.2f} s"


def _detail(record: StepRecord) -> str:
    if record.kind == "map" and record.items_total:
        counts = record.item_counts()
        return (
            ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f" of {record.items_total}"
        )
    if record.status == "cached" and record.cached_from:
        return f"cached from run {record.cached_from}"
    if record.error:
        return record.error.strip().splitlines()[-1][:120]
    summary = getattr(record.output, "summary", None)
    if isinstance(summary, str) and summary:
        return summary[:80]
    return ""


def _steps_table(steps: list[StepRecord]) -> Any:
    from rich.table import Table

    out = Table(header_style="bold")
    for column in ("step", "status", "attempts", "duration", "detail"):
        out.add_column(column)
    for s in steps:
        color = _COLORS.get(s.status, "")
        out.add_row(
            s.node,
            f"[{color}]{s.status}[/]" if color else s.status,
            str(s.attempts or ""),
            _duration(s),
            _detail(s),
        )
    return out


def _summary(run: PipelineRun) -> str:
    took = f" in {(run.ended_at - run.started_at).total_seconds():.1f} s" if run.ended_at else ""
    cached = sum(1 for s in run.steps if s.status == "cached")
    return (
        f"pipeline run {run.id} ({run.pipeline}, project {run.project}, executor "
        f"{run.executor}): [bold]{run.status}[/]{took}; {cached} of "
        f"{plural(len(run.steps), 'step')} cached"
    )


@app.command()
def run(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="The pipeline: module:function or file.py:function."),
    param: list[str] = typer.Option(
        [], "--set", help="A parameter, KEY=VALUE (VALUE as JSON or text; repeatable)."
    ),
    project: str = typer.Option(
        "default",
        "--project",
        "-p",
        envvar="DOCKYARD_PROJECT",
        help="The project to run it in [env DOCKYARD_PROJECT].",
    ),
    executor: str = typer.Option(
        "process", "--executor", "-e", help="process, inprocess, ray or a Ray address."
    ),
    as_json: bool = JSON,
) -> None:
    """Run a pipeline, showing each step's status, timing and cache hits as it goes."""
    from rich.live import Live

    from dockyard.sdk.pipelines import load_pipeline
    from dockyard.sdk.pipelines import run as run_pipeline

    params = _parse_params(param)
    pipeline = load_pipeline(target)
    steps: dict[str, StepRecord] = {}
    with (
        overrides(ctx).client() as client,
        Live(
            _steps_table([]),
            console=console(stderr=True),
            refresh_per_second=8,
            transient=as_json,
            auto_refresh=not as_json,
        ) as live,
    ):

        def show(_: str, record: StepRecord) -> None:
            steps[record.node] = record.model_copy()
            live.update(_steps_table(sorted(steps.values(), key=lambda s: s.position)))

        result = run_pipeline(
            pipeline, project=project, executor=executor, client=client, on_event=show, **params
        )
        live.update(_steps_table(result.steps))
    if as_json:
        dump_json(result.run)
    else:
        say(_summary(result.run))
    if result.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def runs(
    ctx: typer.Context,
    project: str | None = PROJECT_FILTER,
    pipeline: str | None = typer.Option(None, "--pipeline", help="Only this pipeline's runs."),
    status: str | None = typer.Option(None, "--status", help="running, succeeded, failed..."),
    limit: int = LIMIT,
    as_json: bool = JSON,
) -> None:
    """List pipeline runs, newest first."""
    with overrides(ctx).client() as client:
        page = client.pipelines.list(project=project, pipeline=pipeline, status=status, limit=limit)
    if as_json:
        dump_json(page.items)
        return
    filters = [
        f"{name} {value}"
        for name, value in (("pipeline", pipeline), ("project", project), ("status", status))
        if value
    ]
    table(
        None,
        [
            Column("run", keep=True),
            "pipeline",
            Column("project", drop=3),
            "status",
            Column("steps", drop=4, justify="right"),
            Column("cached", drop=5, justify="right"),
            Column("started (UTC)", drop=2),
            Column("took", drop=1, justify="right"),
        ],
        [
            (
                r.id,
                r.pipeline,
                r.project,
                r.status,
                len(r.steps),
                sum(1 for s in r.steps if s.status == "cached"),
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                f"{(r.ended_at - r.started_at).total_seconds():.1f} s" if r.ended_at else "",
            )
            for r in page.items
        ],
        empty=("no pipeline runs match " + ", ".join(filters))
        if filters
        else "no pipeline runs yet",
    )
    if page.next_cursor:
        say(f"[dim]showing the first {limit}; raise --limit to see more[/]")


@app.command()
def show(ctx: typer.Context, run_id: str = PIPELINE_RUN_ID, as_json: bool = JSON) -> None:
    """Show a pipeline run: each step's status, attempts, duration and cache hit."""
    with overrides(ctx).client() as client:
        found = client.pipelines.get(ids.pipeline_run_id(client, run_id))
    if as_json:
        dump_json(found)
        return
    say(_summary(found))
    if found.params:
        say("params: " + ", ".join(f"{k}={v!r}" for k, v in found.params.items()))
    console().print(_steps_table(found.steps))
    if found.error:
        say(f"[red]error:[/] {found.error.strip()}")


@app.command()
def resume(
    ctx: typer.Context,
    run_id: str = PIPELINE_RUN_ID,
    executor: str | None = typer.Option(None, "--executor", "-e", help="Default: as before."),
    as_json: bool = JSON,
) -> None:
    """Run a failed or cancelled pipeline run again; finished steps come from the cache."""
    from dockyard.sdk.pipelines import resume as resume_run

    with overrides(ctx).client() as client:
        result = resume_run(ids.pipeline_run_id(client, run_id), executor=executor, client=client)
    if as_json:
        dump_json(result.run)
    else:
        console().print(_steps_table(result.steps))
        say(_summary(result.run))
    if result.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def cancel(ctx: typer.Context, run_id: str = PIPELINE_RUN_ID, as_json: bool = JSON) -> None:
    """Ask a running pipeline run to stop (running steps are stopped, none start)."""
    with overrides(ctx).client() as client:
        found = client.pipelines.cancel(ids.pipeline_run_id(client, run_id))
    if as_json:
        dump_json(found)
    else:
        say(f"asked pipeline run {found.id} ({found.pipeline}) to stop")
