"""``dockyard features ...``: define, list, materialize, look up and push features, and build
training sets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, PROJECT
from dockyard.cli.output import Column, console, dump_json, plural, say, table

app = typer.Typer(
    help="Feature store: apply definitions, list, show, materialize, get, push, training-set.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _definitions(path: Path) -> list[Any]:
    """The Entity and FeatureView objects a Python file defines at its top level. The file
    is the caller's own code and runs here, in their process, as `python FILE` would."""
    import runpy

    from dockyard.core.errors import InvalidInput
    from dockyard.features.definitions import Entity, FeatureView

    if not path.is_file() or path.suffix != ".py":
        raise InvalidInput(f"{path} is not a Python file: give the .py file that defines the views")
    names = runpy.run_path(str(path), run_name="dockyard_features")
    found = [v for v in names.values() if isinstance(v, Entity | FeatureView)]
    if not found:
        raise InvalidInput(
            f"{path} defines no Entity or FeatureView at its top level (e.g. "
            "card = dy.Entity('card', keys=['card_hash']))"
        )
    return found


@app.command()
def apply(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A Python file defining entities and feature views."),
    project: str = PROJECT,
    as_json: bool = JSON,
) -> None:
    """Store the entities and feature views a Python file defines (new versions only for
    what changed)."""
    from dockyard.sdk.features import apply as store

    objects = _definitions(file)
    with overrides(ctx).client() as client:
        report = store(objects, project=project, client=client)
    if as_json:
        dump_json(report)
        return
    table(
        None,
        [
            Column("kind"),
            Column("name", keep=True),
            Column("version", justify="right"),
            Column("status"),
            Column("changes", drop=1),
        ],
        [(i.kind, i.name, i.version, i.status, "; ".join(i.changes)) for i in report.items],
        empty="nothing applied",
    )


@app.command("list")
def list_(ctx: typer.Context, project: str = PROJECT, as_json: bool = JSON) -> None:
    """List a project's feature views with their freshness."""
    with overrides(ctx).client() as client:
        found = client.features.views(project)
    if as_json:
        dump_json(found)
        return
    table(
        None,
        [
            Column("view", keep=True),
            Column("version", justify="right"),
            Column("keys"),
            Column("features", justify="right"),
            Column("source"),
            Column("online events", justify="right", drop=2),
            Column("newest event (UTC)", drop=1),
        ],
        [
            (
                v.name,
                v.version,
                ", ".join(v.keys),
                len(v.features),
                v.source,
                f"{v.online.events:,}" if v.online else "-",
                f"{v.online.newest_event_at:%Y-%m-%d %H:%M}"
                if v.online and v.online.newest_event_at
                else "-",
            )
            for v in found
        ],
        empty=f"no feature views in project {project} (dockyard features apply FILE -p {project})",
    )


@app.command()
def show(ctx: typer.Context, view: str, project: str = PROJECT, as_json: bool = JSON) -> None:
    """Show a feature view: its features, versions, materialization and online state."""
    with overrides(ctx).client() as client:
        info = client.features.view(project, view)
        versions = client.features.view_versions(project, view)
        used = client.features.training_sets(project, view=view)
    if as_json:
        dump_json({"view": info, "versions": versions, "training_sets": used})
        return
    spec = info.definition
    say(
        f"{info.project}/{info.name} v{info.version}: keys {', '.join(info.keys)}; source "
        f"{info.source} (time {spec['timestamp']}); ttl {spec.get('ttl') or 'none'}; "
        f"lateness {spec.get('lateness')}"
    )
    table(
        None,
        [Column("feature", keep=True), Column("kind"), Column("definition")],
        [(f["name"], f["kind"], _describe(f)) for f in spec["features"]],
        empty="no features",
    )
    if info.materialization is not None:
        m = info.materialization
        say(
            f"materialized {m.finished_at:%Y-%m-%d %H:%M} UTC from {info.source}@"
            f"{m.source_version} (view v{m.view_version}): {plural(m.events, 'event')} added"
        )
    if info.online is not None:
        o = info.online
        newest = f"{o.newest_event_at:%Y-%m-%d %H:%M:%S}" if o.newest_event_at else "-"
        say(
            f"online: {plural(o.events, 'event')} from {plural(o.parts, 'source file')}; newest "
            f"event {newest} UTC"
        )
    else:
        say(f"online: nothing yet (dockyard features materialize {view} -p {project})")
    table(
        "versions",
        [
            Column("version", justify="right"),
            Column("by"),
            Column("at (UTC)"),
            Column("changes", drop=1),
        ],
        [
            (v.version, v.created_by, f"{v.created_at:%Y-%m-%d %H:%M}", "; ".join(v.changes) or "-")
            for v in versions
        ],
    )
    if used:
        say(
            "training sets: "
            + ", ".join(f"{t.dataset}@{t.version} (v{t.views.get(view)})" for t in used)
        )


def _describe(feature: dict[str, Any]) -> str:
    if feature["kind"] == "field":
        return f"latest {feature['column']}"
    if feature["kind"] == "aggregate":
        window = feature.get("window") or "all history"
        gate = f", once {feature['available_at']} has passed" if feature.get("available_at") else ""
        return f"{feature['fn']}({feature['column']}) over {window}{gate}"
    inputs = ", ".join(feature["inputs"])
    return f"{feature.get('function') or 'a function'}({inputs}), run by its owner"


@app.command()
def materialize(
    ctx: typer.Context,
    view: str,
    project: str = PROJECT,
    reset: bool = typer.Option(False, "--reset", help="Rebuild the view's online values."),
    as_json: bool = JSON,
) -> None:
    """Bring a view's online values up to date with its source (only what is new)."""
    with overrides(ctx).client() as client, console(stderr=True).status(f"materializing {view}..."):
        report = client.features.materialize(project, view, reset=reset)
    if as_json:
        dump_json(report)
        return
    if report.events == 0 and report.parts == 0:
        say(f"{view} is up to date with {report.source}@{report.source_version}")
        return
    say(
        f"{view} v{report.view_version}: {plural(report.events, 'event')} from "
        f"{plural(report.parts, 'new source file')} of {report.source}@{report.source_version}"
    )


def _key_value(text: str) -> Any:
    """A key value from the command line: JSON numbers, true/false and null as such,
    anything else as text (quote it, '"42"', to look up the text 42)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if value is None or isinstance(value, bool | int | float | str) else text


@app.command()
def get(
    ctx: typer.Context,
    features: list[str] = typer.Argument(..., help="Features: view:feature or view:*."),
    key: list[str] = typer.Option(
        ..., "--key", "-k", help="An entity key, COLUMN=VALUE (repeat for more entities)."
    ),
    at: dt.datetime = typer.Option(None, "--at", help="As of this time (UTC; default now)."),
    project: str = PROJECT,
    as_json: bool = JSON,
) -> None:
    """Look up online feature values of entities."""
    from dockyard.core.errors import InvalidInput

    keys: dict[str, list[Any]] = {}
    for item in key:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise InvalidInput(f"--key {item!r}: write COLUMN=VALUE, e.g. --key card_hash=c1")
        keys.setdefault(column, []).append(_key_value(value))
    when = at.replace(tzinfo=dt.UTC) if at is not None and at.tzinfo is None else at
    with overrides(ctx).client() as client:
        values = client.features.online(project, keys, features, at=when)
    if as_json:
        dump_json(values)
        return
    names = list(values.columns)
    count = len(next(iter(values.columns.values()), []))
    table(
        f"as of {values.at:%Y-%m-%d %H:%M:%S} UTC",
        [Column(n, keep=n in keys) for n in names],
        [tuple(_cell(values.columns[n][i]) for n in names) for i in range(count)],
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command()
def push(
    ctx: typer.Context,
    view: str,
    source: Path = typer.Argument(..., help="A CSV, JSON lines or Parquet file of new events."),
    project: str = PROJECT,
    as_json: bool = JSON,
) -> None:
    """Push new events: online values change at once, and the source dataset gets them."""
    import tempfile

    import pyarrow as pa
    import pyarrow.parquet as pq

    from dockyard.data.ingest import to_parquet
    from dockyard.sdk.features import push as send

    with tempfile.TemporaryDirectory(prefix="dockyard-push-") as workdir:
        ingested = to_parquet(source, Path(workdir))
        events = pa.concat_tables([pq.read_table(f.path) for f in ingested.files])
    with overrides(ctx).client() as client:
        report = send(view, events, project=project, client=client)
    if as_json:
        dump_json(report)
        return
    say(
        f"{view}: {plural(report.events, 'event')} pushed; {report.source}@"
        f"{report.source_version} holds them"
    )


@app.command("training-set")
def training_set(
    ctx: typer.Context,
    labels: str = typer.Argument(..., help="The labels' dataset: NAME or NAME@VERSION."),
    features: list[str] = typer.Option(
        ..., "--feature", "-f", help="A feature: view:feature or view:* (repeatable)."
    ),
    dataset: str = typer.Option(
        ..., "--dataset", "-d", help="The dataset to write the training set to (a new version)."
    ),
    event_time: str = typer.Option(None, "--time", help="The labels' event-time column."),
    executor: str = typer.Option(
        None,
        "--executor",
        "-e",
        help="Split the join by entity and run the shares on: ray, a Ray address, process or "
        "inprocess (with --partitions). Default: one DuckDB process here.",
    ),
    partitions: int = typer.Option(
        None, "--partitions", min=1, help="How many shares of the entities to join separately."
    ),
    project: str = PROJECT,
    as_json: bool = JSON,
) -> None:
    """Build a point-in-time training set from a labels dataset, as a dataset version."""
    from dockyard.core.errors import InvalidInput
    from dockyard.sdk.features import training_set as build

    if executor is not None and partitions is None:
        raise InvalidInput(
            f"--executor {executor} needs --partitions N: how many shares of the entities to "
            "join separately (e.g. the number of CPUs it has)"
        )

    with (
        overrides(ctx).client() as client,
        console(stderr=True).status("joining features as of each label's time..."),
    ):
        written = build(
            labels,
            features,
            project=project,
            output=dataset,
            event_time=event_time,
            executor=executor,
            partitions=partitions,
            client=client,
        )
    from dockyard.sdk.data import DatasetVersion

    assert isinstance(written, DatasetVersion)  # an output was given
    if as_json:
        dump_json(written.info)
        return
    say(
        f"{written.ref}: {plural(written.rows, 'row')} x {plural(len(written.columns), 'column')}"
        f" (dockyard features show VIEW -p {project} lists the training sets)"
    )
