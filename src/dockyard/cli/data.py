"""``dockyard data ...``: ingest, inspect, validate, diff, download and trace datasets."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, PROJECT
from dockyard.cli.output import Column, dump_json, plural, say, table

if TYPE_CHECKING:
    from dockyard.data.schemas import Version

app = typer.Typer(
    help="Versioned datasets: ingest, list, show, diff, validate, download, lineage.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class Direction(enum.StrEnum):
    upstream = "upstream"
    downstream = "downstream"
    both = "both"


def split_ref(ref: str) -> tuple[str, str]:
    """``name@3`` -> ("name", "3"); a bare name means its latest version."""
    name, _, version = ref.partition("@")
    return name, version or "latest"


def _parse_schema(items: list[str]) -> dict[str, str] | None:
    schema = {}
    for item in items:
        column, sep, type_name = item.rpartition(":")
        if not sep or not column:
            raise typer.BadParameter(f"{item!r}: use COLUMN:TYPE, e.g. amount:float64")
        schema[column] = type_name
    return schema or None


def _versions_table(versions: list[Version], empty: str) -> None:
    table(
        None,
        [
            Column("version", keep=True, justify="right"),
            "status",
            Column("rows", justify="right"),
            Column("bytes", drop=2, justify="right"),
            Column("created (UTC)", drop=1),
            Column("by", drop=3),
            Column("message", drop=4),
        ],
        [
            (
                v.number,
                v.status + (" (forced)" if v.forced else ""),
                f"{v.rows:,}",
                f"{v.bytes:,}",
                f"{v.created_at:%Y-%m-%d %H:%M}",
                v.created_by,
                v.message[:60],
            )
            for v in versions
        ],
        empty=empty,
    )


@app.command()
def ingest(
    ctx: typer.Context,
    source: str = typer.Argument(
        ..., help="A file, glob or URL (CSV, JSON lines, Parquet, Arrow)."
    ),
    dataset: str = typer.Option(..., "--dataset", "-d", help="The dataset to add a version to."),
    project: str = PROJECT,
    message: str = typer.Option("", "--message", "-m", help="What this version is."),
    append: bool = typer.Option(False, "--append", help="Add to the latest version's files."),
    format: str | None = typer.Option(None, "--format", help="csv, json, parquet or arrow."),
    schema: list[str] = typer.Option(
        [], "--type", "-t", help="A column's type, COLUMN:TYPE (repeatable), e.g. ts:timestamp[us]."
    ),
    force: bool = typer.Option(False, "--force", help="Let `latest` use it even if rules fail."),
    as_json: bool = JSON,
) -> None:
    """Add a version of a dataset from files (streamed: any size, bounded memory)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from dockyard.sdk.projects import ensure_project

    types = _parse_schema(schema)
    with (
        overrides(ctx).client() as client,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            transient=True,
            disable=as_json,
        ) as progress,
    ):
        ensure_project(client, project)
        tasks: dict[str, Any] = {}

        def report(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                label = "reading + converting" if phase == "read" else "uploading"
                tasks[phase] = progress.add_task(label, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        version = client.datasets.ingest(
            project,
            dataset,
            source,
            message=message,
            mode="append" if append else "replace",
            format=format,
            schema=types,
            force=force,
            progress=report,
        )
    if as_json:
        dump_json(version)
        return
    what = "new version" if version.created else "same content as version"
    say(
        f"{version.ref}: {what} {version.number}, {plural(version.rows, 'row')}, "
        f"status {version.status}"
    )
    if version.validation and not version.validation.passed:
        say(f"[red]validation failed:[/] {version.validation.summary()}")
        say("`latest` does not resolve to it; --force would make it")


@app.command("list")
def list_(ctx: typer.Context, project: str = PROJECT, as_json: bool = JSON) -> None:
    """List a project's datasets."""
    with overrides(ctx).client() as client:
        found = client.datasets.list(project)
    if as_json:
        dump_json(found)
        return
    table(
        None,
        [
            Column("dataset", keep=True),
            Column("versions", justify="right"),
            Column("latest", justify="right"),
            Column("rules", drop=2, justify="right"),
            Column("created (UTC)", drop=1),
        ],
        [
            (d.name, d.versions, d.latest, len(d.rules), f"{d.created_at:%Y-%m-%d %H:%M}")
            for d in found
        ],
        empty=f"no datasets in project {project}",
    )


@app.command()
def versions(
    ctx: typer.Context, dataset: str, project: str = PROJECT, as_json: bool = JSON
) -> None:
    """List a dataset's versions, newest first."""
    from dockyard.sdk.data import DatasetHandle

    with overrides(ctx).client() as client:
        found = DatasetHandle(client, project, dataset).versions()
    if as_json:
        dump_json(found)
    else:
        _versions_table(found, f"dataset {dataset} has no versions")


@app.command()
def show(ctx: typer.Context, ref: str, project: str = PROJECT, as_json: bool = JSON) -> None:
    """Show a version (DATASET or DATASET@VERSION): schema, statistics, validation."""
    name, version_ref = split_ref(ref)
    with overrides(ctx).client() as client:
        version = client.datasets.version(project, name, version_ref)
    if as_json:
        dump_json(version)
        return
    say(
        f"[bold]{version.ref}[/]  {plural(version.rows, 'row')}, "
        f"{plural(len(version.files), 'file')}, {plural(version.bytes, 'byte')}, "
        f"status {version.status}\n"
        f"digest sha256:{version.digest}\nmade by {version.created_by} at "
        f"{version.created_at:%Y-%m-%d %H:%M} UTC from {version.source or '?'}"
        + (f"\nmessage: {version.message}" if version.message else "")
    )
    stats = {s.name: s for s in version.stats}
    table(
        None,
        [
            Column("column", keep=True),
            "type",
            Column("nulls", drop=4, justify="right"),
            Column("distinct", drop=3, justify="right"),
            Column("min", drop=6),
            Column("max", drop=5),
            Column("mean", drop=2, justify="right"),
            Column("std", drop=1, justify="right"),
        ],
        [
            (
                c.name,
                c.type,
                s.nulls if s else "",
                s.distinct if s else "",
                _short(s.min) if s else "",
                _short(s.max) if s else "",
                f"{s.mean:.6g}" if s and s.mean is not None else "",
                f"{s.std:.6g}" if s and s.std is not None else "",
            )
            for c in version.columns
            for s in [stats.get(c.name)]
        ],
    )
    if version.validation:
        _report(version)


def _short(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _report(version: Version) -> None:
    assert version.validation is not None
    table(
        "validation",
        ["rule", "result", "detail"],
        [
            (r.rule.name or r.rule.check, "pass" if r.passed else "FAIL", r.message)
            for r in version.validation.results
        ],
    )


@app.command()
def diff(
    ctx: typer.Context,
    dataset: str,
    base: str,
    target: str = typer.Argument("latest"),
    project: str = PROJECT,
    key: list[str] = typer.Option([], "--key", "-k", help="Key column(s) to match rows on."),
    as_json: bool = JSON,
) -> None:
    """Compare two versions: schema, rows, statistics, and changed rows given a key."""
    with overrides(ctx).client() as client:
        result = client.datasets.diff(project, dataset, base, target, key=key)
    if as_json:
        dump_json(result)
        return
    schema = result.schema_changes
    say(
        f"version {result.base} -> {result.target}: rows {result.rows[0]:,} -> "
        f"{result.rows[1]:,}, {plural(result.shared_files, 'file')} shared"
    )
    for c in schema.added:
        say(f"  [green]+ column {c.name} ({c.type})[/]")
    for c in schema.removed:
        say(f"  [red]- column {c.name} ({c.type})[/]")
    for t in schema.changed:
        say(f"  [yellow]~ column {t.name}: {t.base} -> {t.target}[/]")
    table(
        None,
        ["column", "null rate", "distinct", "mean", "PSI"],
        [
            (
                s.name,
                _pair(s.null_rate, "{:.3f}"),
                _pair(s.distinct, "{}"),
                _pair(s.mean, "{:.6g}"),
                f"{s.psi:.3f}" if s.psi is not None else "",
            )
            for s in result.columns
        ],
    )
    if result.row_diff:
        r = result.row_diff
        say(
            f"rows by {', '.join(r.key)}: [green]{r.added:,} added[/], [red]{r.removed:,} "
            f"removed[/], [yellow]{r.changed:,} changed[/], {r.unchanged:,} unchanged"
        )


def _pair(values: tuple[Any, Any], fmt: str) -> str:
    a, b = (("-" if v is None else fmt.format(v)) for v in values)
    return a if a == b else f"{a} -> {b}"


@app.command()
def validate(ctx: typer.Context, ref: str, project: str = PROJECT, as_json: bool = JSON) -> None:
    """Check a version (DATASET[@VERSION]) against the dataset's current rules."""
    name, version_ref = split_ref(ref)
    with overrides(ctx).client() as client:
        version = client.datasets.validate(project, name, version_ref)
    if as_json:
        dump_json(version.validation)
    elif version.validation is None:
        say(f"dataset {name!r} has no rules; `dockyard data rules` sets them")
    else:
        _report(version)
    if version.validation is not None and not version.validation.passed:
        raise typer.Exit(1)


@app.command()
def rules(
    ctx: typer.Context,
    dataset: str,
    project: str = PROJECT,
    file: Path | None = typer.Option(None, "--set", help="A JSON file with a list of rules."),
    as_json: bool = JSON,
) -> None:
    """Show a dataset's validation rules, or replace them with --set rules.json."""
    from dockyard.sdk.projects import ensure_project

    with overrides(ctx).client() as client:
        if file is not None:
            try:
                loaded = json.loads(file.read_text())
            except (OSError, ValueError) as exc:
                raise typer.BadParameter(f"cannot read rules from {file}: {exc}") from None
            ensure_project(client, project)
            info = client.datasets.set_rules(project, dataset, loaded)
        else:
            info = client.datasets.get(project, dataset)
    if as_json:
        dump_json(info.rules)
    else:
        for rule in info.rules:
            say(rule.model_dump_json(exclude_none=True))


@app.command()
def download(
    ctx: typer.Context,
    ref: str,
    project: str = PROJECT,
    dest: Path = typer.Option(Path(), "--dest", help="Folder (Parquet) or file (.csv/.parquet)."),
    as_json: bool = JSON,
) -> None:
    """Write a version (DATASET[@VERSION]) out: its Parquet files into a folder, or one
    CSV or Parquet file when --dest ends in .csv or .parquet."""
    import shutil

    name, version_ref = split_ref(ref)
    written: list[Path]
    with overrides(ctx).client() as client:
        version = client.datasets.version(project, name, version_ref)
        paths = client.datasets.local_files(version)
        if dest.suffix.lower() in (".csv", ".parquet"):
            from dockyard.data import read

            relation = read.scan(paths)
            if dest.suffix.lower() == ".csv":
                relation.write_csv(str(dest))
            else:
                relation.write_parquet(str(dest))
            written = [dest]
        else:
            dest.mkdir(parents=True, exist_ok=True)
            written = []
            for i, path in enumerate(paths):
                target = dest / f"part-{i:05d}.parquet"
                shutil.copyfile(path, target)
                written.append(target)
    if as_json:
        dump_json([str(p) for p in written])
    else:
        say(f"{version.ref}: {plural(version.rows, 'row')} written to {dest}")


@app.command()
def lineage(
    ctx: typer.Context,
    ref: str,
    project: str = PROJECT,
    direction: Direction = typer.Option(Direction.both, help="Which way to walk."),
    depth: int = typer.Option(3, min=1, max=20),
    as_json: bool = JSON,
) -> None:
    """Which runs wrote and read a version (DATASET[@VERSION]), and what they used."""
    name, version_ref = split_ref(ref)
    with overrides(ctx).client() as client:
        graph = client.datasets.lineage(
            project,
            name,
            version_ref,
            direction=direction.value,
            depth=depth,
        )
    if as_json:
        dump_json(graph)
        return
    labels = {n.id: n.label + (" (deleted)" if n.missing else "") for n in graph.nodes}
    kinds = {n.id: n.kind for n in graph.nodes}
    if not graph.edges:
        say(f"{labels.get(graph.root, ref)}: no run has read or written it")
        return
    table(
        None,
        [Column("from", keep=True), "", Column("to", keep=True)],
        [
            (
                f"{kinds[e.source]} {labels[e.source]}",
                e.relation,
                f"{kinds[e.target]} {labels[e.target]}",
            )
            for e in graph.edges
        ],
    )
