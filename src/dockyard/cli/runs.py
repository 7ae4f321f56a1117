"""``dockyard runs ...``: find, inspect, compare, delete and restore runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dockyard.cli.admin import parse_duration
from dockyard.cli.context import overrides
from dockyard.cli.output import dump_json, say, table

if TYPE_CHECKING:
    from dockyard.tracking.schemas import Run

app = typer.Typer(
    help="Find, inspect, compare, delete and restore runs.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
PROJECT = typer.Option(None, "--project", "-p", help="Only this project (repeatable).")
LIMIT = typer.Option(50, "--limit", "-n", min=1, max=1000, help="Show at most this many.")


def _table(runs: list[Run]) -> None:
    metrics = sorted({k for r in runs for k in r.metrics})[:6]
    table(
        None,
        ["id", "name", "status", "project/experiment", "started (UTC)", *metrics],
        [
            (
                r.id,
                r.name,
                r.status,
                f"{r.project}/{r.experiment}",
                f"{r.start_time:%Y-%m-%d %H:%M}",
                *(f"{r.metrics[k].last:.6g}" if k in r.metrics else "" for k in metrics),
            )
            for r in runs
        ],
    )


def _search(
    ctx: typer.Context,
    query: str,
    order_by: str,
    projects: list[str] | None,
    limit: int,
    deleted: bool,
    as_json: bool,
) -> None:
    with overrides(ctx).client() as client:
        page = client.runs.search(
            query, order_by=order_by, projects=projects or [], include_deleted=deleted, limit=limit
        )
    if as_json:
        dump_json(page.items)
    else:
        _table(page.items)
        if page.next_cursor:
            say(f"[dim]showing the first {limit}; raise --limit to see more[/]")


@app.command("list")
def list_(
    ctx: typer.Context,
    projects: list[str] = PROJECT,
    limit: int = LIMIT,
    deleted: bool = typer.Option(False, "--deleted", help="Include deleted runs."),
    as_json: bool = JSON,
) -> None:
    """List runs, newest first."""
    _search(ctx, "", "", projects, limit, deleted, as_json)


@app.command()
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='e.g. "params.lr < 0.1 AND metrics.auc > 0.9"'),
    order_by: str = typer.Option("", "--order-by", "-o", help='e.g. "metrics.auc DESC"'),
    projects: list[str] = PROJECT,
    limit: int = LIMIT,
    as_json: bool = JSON,
) -> None:
    """Find runs with the search language (params, metrics, tags, attributes)."""
    _search(ctx, query, order_by, projects, limit, False, as_json)


@app.command()
def show(ctx: typer.Context, run_id: str, as_json: bool = JSON) -> None:
    """Show one run: status, params, tags and metric summaries."""
    with overrides(ctx).client() as client:
        run = client.runs.get(run_id)
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
            f"{m.count} points",
        )
        for k, m in sorted(run.metrics.items())
    ]
    table(None, ["kind", "key", "value"], rows)


@app.command()
def compare(ctx: typer.Context, run_ids: list[str], as_json: bool = JSON) -> None:
    """Params and final metrics of several runs side by side."""
    with overrides(ctx).client() as client:
        frame = client.runs.compare(run_ids)
    if as_json:
        dump_json(frame.to_dict(orient="index"))
        return
    columns = [str(c) for c in frame.columns]
    table(
        None,
        ["run", *columns],
        [
            (str(i), *("" if v != v else v for v in row))
            for i, row in zip(frame.index, frame.itertuples(index=False), strict=True)
        ],
    )


@app.command()
def delete(ctx: typer.Context, run_id: str, as_json: bool = JSON) -> None:
    """Move a run to the bin (``restore`` brings it back)."""
    with overrides(ctx).client() as client:
        run = client.runs.delete(run_id)
    if as_json:
        dump_json(run)
    else:
        say(f"deleted run {run.name} ({run.id})")


@app.command()
def restore(ctx: typer.Context, run_id: str, as_json: bool = JSON) -> None:
    """Bring a deleted run back."""
    with overrides(ctx).client() as client:
        run = client.runs.restore(run_id)
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
        say(f"marked {len(reaped.failed)} silent runs as failed")


@app.command()
def artifacts(
    ctx: typer.Context,
    run_id: str,
    prefix: str = typer.Option("", help="Only files under this folder."),
    as_json: bool = JSON,
) -> None:
    """List a run's artifacts with their size and media type."""
    with overrides(ctx).client() as client:
        found = client.runs.artifacts(run_id, prefix)
    if as_json:
        dump_json(found)
        return
    table(
        None,
        ["path", "size", "media type", "sha256"],
        [(a.path, f"{a.size:,}", a.media_type, a.digest[:12]) for a in found],
    )


@app.command()
def download(
    ctx: typer.Context,
    run_id: str,
    dest: Path = typer.Option(Path(), "--dest", "-d", help="Folder to write into."),
    prefix: str = typer.Option("", help="Only files under this folder."),
    as_json: bool = JSON,
) -> None:
    """Download a run's artifacts (each verified against its digest)."""
    from rich.progress import Progress

    with overrides(ctx).client() as client:
        listed = client.runs.artifacts(run_id, prefix)
        with Progress(transient=True, disable=as_json) as progress:
            task = progress.add_task("downloading", total=sum(a.size for a in listed) or 1)
            written = [
                client.runs.download_artifact(
                    run_id, a.path, dest / a.path, on_chunk=lambda n: progress.advance(task, n)
                )
                for a in listed
            ]
    if as_json:
        dump_json([str(p) for p in written])
    else:
        say(f"downloaded {len(written)} files to {dest}")


@app.command("purge")
def purge_runs(
    ctx: typer.Context,
    run_ids: list[str] = typer.Argument(..., help="Deleted runs to erase now."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JSON,
) -> None:
    """Erase deleted runs (and their child runs) for good, without waiting for the bin's
    retention period; `dockyard gc` then frees their blobs. There is no undo."""
    if not yes and not typer.confirm(f"erase {len(run_ids)} deleted run(s) for good?"):
        raise typer.Abort()
    with overrides(ctx).client() as client:
        for run_id in run_ids:
            client.runs.purge(run_id)
    if as_json:
        dump_json({"purged": run_ids})
    else:
        say(f"purged {len(run_ids)} run(s); run `dockyard gc` to free their storage")
