"""``dockyard serve`` (a model server for registry aliases), ``dockyard trace`` (one
prediction back to its model's run, code and data) and ``dockyard serving ...`` (servers
and the prediction log)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON
from dockyard.cli.output import dump_json, say, table

if TYPE_CHECKING:
    from dockyard.client.client import Client

app = typer.Typer(
    help="Model servers and the prediction log: list servers, read logged predictions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _check_uris(client: Client, uris: list[str]) -> None:
    """Fail before starting when a URI names no model or an alias points nowhere."""
    from dockyard.registry.uris import RegistryRef, parse_model_uri

    for uri in uris:
        ref = parse_model_uri(uri)
        if not isinstance(ref, RegistryRef):
            raise typer.BadParameter(f"{uri}: serve registered models (models:/NAME@ALIAS)")
        version = client.models.version(ref.name, ref.ref)
        say(f"{uri} -> version {version.version} ({version.flavor})")


def serve(
    ctx: typer.Context,
    uris: list[str] = typer.Argument(
        ..., help="models:/NAME@ALIAS (followed as it moves), models:/NAME/VERSION or /latest."
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, max=64, help="Worker processes (for CPU-bound models)."),
    threads: int = typer.Option(
        1, min=1, max=256, help="Threads per worker for numeric libraries (OpenMP, BLAS)."
    ),
    max_batch_rows: int = typer.Option(
        256, min=1, max=100_000, help="Most rows predicted together in one batch."
    ),
    max_wait_ms: float = typer.Option(
        0.0, min=0.0, max=1000.0, help="Hold a batch open this long to fill it (0: adaptive)."
    ),
    poll: float = typer.Option(0.5, min=0.05, max=60.0, help="Seconds between alias checks."),
    log_predictions: bool = typer.Option(
        True, "--log/--no-log", help="Write every prediction to the prediction log."
    ),
    trusted: bool = typer.Option(
        False, "--trusted", help="Also load models whose files run code (pickle, pyfunc)."
    ),
    secrets: list[str] = typer.Option(
        [],
        "--secret",
        help="A secret of the models' project to set as an environment variable of the "
        "workers (repeatable); needs the metadata store and the secrets key here.",
    ),
) -> None:
    """Serve registered models over HTTP, following their aliases: the native API at
    /v1/models/NAME/predict, the Open Inference Protocol at /v2/models/NAME/infer, MLflow's
    /invocations, plus /healthz, /readyz and /metrics."""
    from dockyard.core.operations import build
    from dockyard.serving.config import ServeConfig
    from dockyard.serving.runner import serve as run

    settings = overrides(ctx).settings()
    with overrides(ctx).client() as client:
        _check_uris(client, uris)
    config = build(
        ServeConfig,
        uris=uris,
        host=host,
        port=port,
        trusted=trusted,
        max_batch_rows=max_batch_rows,
        max_wait_ms=max_wait_ms,
        poll_seconds=poll,
        log_queue_rows=100_000 if log_predictions else 0,
        secrets=secrets,
    )
    names = ", ".join(u.removeprefix("models:/") for u in uris)
    say(f"serving {names} on http://{host}:{port} ({workers} worker(s), {threads} thread(s) each)")
    run(config, settings, workers=workers, threads=threads)


def trace(
    ctx: typer.Context,
    prediction_id: str = typer.Argument(..., help="A prediction id from a server's answer."),
    as_json: bool = JSON,
) -> None:
    """Trace a prediction: its inputs and output, then the model version, its run, the
    code commit and diff, the training data and the environment."""
    with overrides(ctx).client() as client:
        found = client.serving.trace(prediction_id.strip().lower())
    if as_json:
        dump_json(found)
        return
    p = found.prediction
    lineage = found.lineage
    version = lineage.version
    say(
        f"[bold]prediction {p.prediction_id}[/] at {p.at:%Y-%m-%d %H:%M:%S} UTC, "
        f"{p.latency_ms:.2f} ms{' (shadow: not answered)' if p.shadow else ''}"
    )
    say(f"  inputs: {p.inputs}")
    if p.features:
        say(f"  features: {p.features}")
    say(f"  output: {p.output}")
    say(
        f"[bold]model[/] {version.uri} (@{p.alias}, {version.flavor}), registered by "
        f"{version.created_by} at {version.created_at:%Y-%m-%d %H:%M} UTC"
    )
    run = lineage.run
    if run is None:
        say("[bold]run[/]: none recorded")
    else:
        say(f"[bold]run[/] {run.id} ({run.name}) in {run.project}/{run.experiment}, {run.status}")
        if run.params:
            say("  params: " + ", ".join(f"{k}={v}" for k, v in sorted(run.params.items())))
    code = lineage.code
    if code.commit:
        dirty = " with uncommitted changes" if code.dirty else ""
        say(
            f"[bold]code[/] commit {code.commit} on {code.branch or '?'}{dirty}"
            + (f", diff in artifact {code.diff_artifact}" if code.diff_artifact else "")
            + (f", entry point {code.entry_point}" if code.entry_point else "")
        )
    else:
        say("[bold]code[/]: no git commit was captured")
    if lineage.inputs:
        table(
            "training data",
            ["dataset", "version", "rows", "digest"],
            [
                [f"{i.project}/{i.dataset}", i.version, i.rows, i.digest[:12]]
                for i in lineage.inputs
            ],
        )
    for other in lineage.other_inputs:
        say(f"  also read: {other}")
    env = lineage.environment
    if env.python or env.requirements:
        say(
            f"[bold]environment[/] Python {env.python or '?'}; needs "
            + (", ".join(env.requirements) or "nothing recorded")
        )


@app.command("list")
def list_servers(
    ctx: typer.Context,
    all_servers: bool = typer.Option(False, "--all", help="Also servers that stopped."),
    as_json: bool = JSON,
) -> None:
    """Model servers and what they serve (live ones: a heartbeat in the last minute)."""
    with overrides(ctx).client() as client:
        found = client.serving.instances(live=not all_servers)
    if as_json:
        dump_json(found)
        return
    rows = []
    for instance in found:
        for model in instance.state.models:
            versions = ", ".join(
                f"@{v.alias}=v{v.version if v.version is not None else '?'}"
                + (f" ({v.state})" if v.state != "serving" else "")
                for v in model.versions
            )
            p99 = f"{model.latency_p99_ms:.1f}" if model.latency_p99_ms is not None else ""
            rows.append(
                [
                    instance.address,
                    model.name,
                    versions,
                    model.requests,
                    model.errors,
                    p99,
                    "live" if instance.live else "stopped",
                ]
            )
    table(
        None,
        ["server", "model", "versions", "requests", "errors", "p99 ms", "state"],
        rows,
        empty="no model server is running (`dockyard serve models:/NAME@ALIAS` starts one)",
    )


@app.command("log")
def log(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A served model's name."),
    since: float = typer.Option(1.0, "--since-hours", min=0.0, help="From this many hours ago."),
    limit: int = typer.Option(
        20, "--limit", "-n", min=1, max=10_000, help="Most predictions shown."
    ),
    as_json: bool = JSON,
) -> None:
    """The latest logged predictions of a model, newest first."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=since)
    with overrides(ctx).client() as client:
        page = client.serving.predictions(model, since=start, limit=limit)
    if as_json:
        dump_json(page.predictions)
        return
    table(
        None,
        ["prediction id", "at", "version", "alias", "output", "ms", "inputs"],
        [
            [
                p.prediction_id,
                f"{p.at:%H:%M:%S}",
                p.version,
                p.alias + (" (shadow)" if p.shadow else ""),
                p.output,
                f"{p.latency_ms:.2f}",
                p.inputs,
            ]
            for p in page.predictions
        ],
        empty=f"no prediction of {model} was logged in the last {since:g} h",
    )
