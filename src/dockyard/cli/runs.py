"""``dockyard runs ...``: find, inspect, compare, delete and restore runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dockyard.cli import ids
from dockyard.cli.admin import parse_duration
from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, LIMIT, PROJECTS, RUN_ID, YES
from dockyard.cli.output import Column, dump_json, plural, say, table
from dockyard.core.paths import confined

if TYPE_CHECKING:
    from dockyard.tracking.schemas import Run

app = typer.Typer(
    help="Find, inspect, compare, delete and restore runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
ARTIFACT_PREFIX = typer.Option("", "--prefix", help="Only files under this folder.")
DEST = typer.Option(Path(), "--dest", "-o", help="Folder to write into.")
COLUMNS = typer.Option(
    None,
    "--column",
    "-c",
    help="Show this param, metric or tag, e.g. metrics.auc or params.lr (repeatable; "
    "default: the first few metrics).",
)
_KINDS = ("params.", "metrics.", "tags.")


def _value(run: Run, key: str) -> str:
    kind, _, name = key.partition(".")
    if kind == "metrics":
        return f"{run.metrics[name].last:.6g}" if name in run.metrics else ""
    return (run.params if kind == "params" else run.tags).get(name, "")


def _check_columns(chosen: list[str] | None) -> None:
    for key in chosen or []:
        if not key.startswith(_KINDS) or key in _KINDS:
            raise typer.BadParameter(
                f"{key!r}: name a column as params.NAME, metrics.NAME or tags.NAME",
                param_hint="--column",
            )


def _table(runs: list[Run], empty: str, chosen: list[str] | None = None) -> None:
    keys = chosen or [f"metrics.{k}" for k in sorted({k for r in runs for k in r.metrics})[:6]]
    table(
        None,
        [
            Column("id", keep=True),
            "name",
            "status",
            Column("project/experiment", drop=3 if chosen else 2),
            Column("started (UTC)", drop=2 if chosen else 1),
            *(
                Column(
                    k if chosen else k.removeprefix("metrics."),
                    drop=1 if chosen else 3,
                    justify="right" if k.startswith("metrics.") else "left",
                )
                for k in keys
            ),
        ],
        [
            (
                r.id,
                r.name,
                r.status,
                f"{r.project}/{r.experiment}",
                f"{r.start_time:%Y-%m-%d %H:%M}",
                *(_value(r, k) for k in keys),
            )
            for r in runs
        ],
        empty=empty,
    )


def _nothing(query: str, projects: list[str] | None, deleted: bool) -> str:
    """What an empty listing says: which filters matched nothing."""
    text = "no runs" + (" (deleted ones included)" if deleted else "")
    if query:
        text += f" match {query!r}"
    if projects:
        text += " in project " + " or ".join(projects)
    return text if query or projects else text + " yet"


def _search(
    ctx: typer.Context,
    query: str,
    order_by: str,
    projects: list[str] | None,
    limit: int,
    deleted: bool,
    as_json: bool,
    columns: list[str] | None,
) -> None:
    _check_columns(columns)
    with overrides(ctx).client() as client:
        page = client.runs.search(
            query, order_by=order_by, projects=projects or [], include_deleted=deleted, limit=limit
        )
    if as_json:
        dump_json(page.items)
    else:
        _table(page.items, _nothing(query, projects, deleted), columns)
        if page.next_cursor:
            say(f"[dim]showing the first {limit}; raise --limit to see more[/]")


@app.command("list")
def list_(
    ctx: typer.Context,
    projects: list[str] = PROJECTS,
    limit: int = LIMIT,
    deleted: bool = typer.Option(False, "--deleted", help="Include deleted runs."),
    columns: list[str] = COLUMNS,
    as_json: bool = JSON,
) -> None:
    """List runs, newest first."""
    _search(ctx, "", "", projects, limit, deleted, as_json, columns)


@app.command()
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='e.g. "params.lr < 0.1 AND metrics.auc > 0.9"'),
    order_by: str = typer.Option("", "--order-by", help='e.g. "metrics.auc DESC"'),
    projects: list[str] = PROJECTS,
    limit: int = LIMIT,
    columns: list[str] = COLUMNS,
    as_json: bool = JSON,
) -> None:
    """Find runs with the search language (params, metrics, tags, attributes)."""
    _search(ctx, query, order_by, projects, limit, False, as_json, columns)


@app.command()
def show(ctx: typer.Context, run_id: str = RUN_ID, as_json: bool = JSON) -> None:
    """Show one run: status, params, tags and metric summaries."""
    with overrides(ctx).client() as client:
        run = client.runs.get(ids.run_id(client, run_id))
    if as_json:
        dump_json(run)
        return
    say(
        f"[bold]{run.name}[/] {run.id}  {run.status}  {run.project}/{run.experiment}  "
        f"by {run.user}, started {run.start_time:%Y-%m-%d %H:%M:%S} UTC"
        + (f", ended {run.end_time:%H:%M:%S}" if run.end_time else "")
    )
    rows = [("param", k, v) for k, v in sorted(run.params.items())]
    rows += [("tag", k, v) for k, v in sorted(run.tags.items())]
    rows += [
        (
            "metric",
            k,
            f"last {m.last:.6g} (step {m.step}), min {m.min:.6g}, max {m.max:.6g}, "
            + plural(m.count, "point"),
        )
        for k, m in sorted(run.metrics.items())
    ]
    table(None, ["kind", Column("key", keep=True), "value"], rows)


def _compared(run: Run) -> dict[str, str]:
    return {
        "name": run.name,
        "status": run.status,
        **{f"params.{k}": v for k, v in sorted(run.params.items())},
        **{f"metrics.{k}": f"{m.last:.6g}" for k, m in sorted(run.metrics.items())},
    }


_COMPARE_CELL = 24  # longer values fold inside their column


def _pages(widths: list[int], room: int, first: int) -> list[list[int]]:
    """Split the runs' columns into tables that each fit ``room`` beside the key column."""
    pages: list[list[int]] = [[]]
    used = first + 4
    for i, width in enumerate(widths):
        if pages[-1] and used + width + 3 > room:
            pages.append([])
            used = first + 4
        pages[-1].append(i)
        used += width + 3
    return pages


@app.command()
def compare(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(..., help="Run ids, or unique starts of them."),
    as_json: bool = JSON,
) -> None:
    """Params and final metrics of several runs: one row per key, one column per run (as
    many tables as the terminal's width needs; columns are headed by short unique ids)."""
    from rich.cells import cell_len

    from dockyard.cli.output import console

    with overrides(ctx).client() as client:
        wanted = list(dict.fromkeys(ids.run_id(client, r) for r in run_ids))
        runs = [client.runs.get(r) for r in wanted]
        short = ids.short_ids(client, wanted) if not as_json else {}
    values = {r.id: _compared(r) for r in runs}
    if as_json:
        dump_json(values)
        return
    found = {k for v in values.values() for k in v}
    keys = ["name", "status", *sorted(found - {"name", "status"})]
    widths = [
        max(
            cell_len(short[r.id]),
            *(min(cell_len(values[r.id].get(k, "")), _COMPARE_CELL) for k in keys),
        )
        for r in runs
    ]
    first = max(cell_len(k) for k in keys)
    for page in _pages(widths, console().width, first):
        shown = [runs[i] for i in page]
        table(
            None,
            [
                Column("", keep=True),
                *(Column(short[r.id], min_width=cell_len(short[r.id])) for r in shown),
            ],
            [(k, *(values[r.id].get(k, "") for r in shown)) for k in keys],
        )


@app.command()
def delete(ctx: typer.Context, run_id: str = RUN_ID, as_json: bool = JSON) -> None:
    """Move a run to the bin (``restore`` brings it back)."""
    with overrides(ctx).client() as client:
        run = client.runs.delete(ids.run_id(client, run_id))
    if as_json:
        dump_json(run)
    else:
        say(f"deleted run {run.name} ({run.id})")


@app.command()
def restore(ctx: typer.Context, run_id: str = RUN_ID, as_json: bool = JSON) -> None:
    """Bring a deleted run back."""
    with overrides(ctx).client() as client:
        run = client.runs.restore(ids.run_id(client, run_id))
    if as_json:
        dump_json(run)
    else:
        say(f"restored run {run.name} ({run.id})")


@app.command()
def reap(
    ctx: typer.Context,
    timeout: str = typer.Option("5m", help="Silence after which a running run has died."),
    as_json: bool = JSON,
) -> None:
    """Mark runs whose process stopped sending heartbeats as failed."""
    with overrides(ctx).client() as client:
        reaped = client.runs.reap(parse_duration(timeout))
    if as_json:
        dump_json(reaped)
    else:
        say(f"marked {plural(len(reaped.failed), 'silent run')} as failed")


@app.command()
def artifacts(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    prefix: str = ARTIFACT_PREFIX,
    as_json: bool = JSON,
) -> None:
    """List a run's artifacts with their size and media type."""
    with overrides(ctx).client() as client:
        found = client.runs.artifacts(ids.run_id(client, run_id), prefix)
    if as_json:
        dump_json(found)
        return
    table(
        None,
        [
            Column("path", keep=True),
            Column("size", justify="right"),
            Column("media type", drop=2),
            Column("sha256", drop=1),
        ],
        [(a.path, f"{a.size:,}", a.media_type, a.digest[:12]) for a in found],
        empty=f"run {run_id} has no artifacts" + (f" under {prefix!r}" if prefix else ""),
    )


@app.command()
def download(
    ctx: typer.Context,
    run_id: str = RUN_ID,
    dest: Path = DEST,
    prefix: str = ARTIFACT_PREFIX,
    as_json: bool = JSON,
) -> None:
    """Download a run's artifacts (each verified against its digest)."""
    from rich.progress import Progress

    with overrides(ctx).client() as client:
        run_id = ids.run_id(client, run_id)
        listed = client.runs.artifacts(run_id, prefix)
        # each path, as the server lists it, must stay inside dest: checked before any write
        targets = [confined(dest, a.path, "artifact path") for a in listed]
        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task("downloading", total=sum(a.size for a in listed) or 1)
            written = [
                client.runs.download_artifact(
                    run_id, a.path, target, on_chunk=lambda n: progress.advance(task, n)
                )
                for a, target in zip(listed, targets, strict=True)
            ]
    if as_json:
        dump_json([str(p) for p in written])
    else:
        say(f"downloaded {plural(len(written), 'file')} to {dest}")


@app.command("purge")
def purge_runs(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(..., help="Deleted runs to erase now."),
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Erase deleted runs (and their child runs) for good, without waiting for the bin's
    retention period; `dockyard gc` then frees their blobs. There is no undo."""
    if not yes and not typer.confirm(f"erase {plural(len(run_ids), 'deleted run')} for good?"):
        raise typer.Abort()
    with overrides(ctx).client() as client:
        for run_id in run_ids:
            client.runs.purge(ids.run_id(client, run_id))
    if as_json:
        dump_json({"purged": run_ids})
    else:
        say(f"purged {plural(len(run_ids), 'run')}; run `dockyard gc` to free their storage")
