"""``dockyard predict``: score a dataset version with a registered model into a new version."""

from __future__ import annotations

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, PROJECT_ENV
from dockyard.cli.output import dump_json, plural, say

MODEL_HELP = "The model: models:/NAME@ALIAS, models:/NAME/VERSION, NAME@ALIAS or NAME/VERSION."


def predict(
    ctx: typer.Context,
    model: str = typer.Argument(..., help=MODEL_HELP),
    input_ref: str = typer.Option(
        ..., "--input", help="The dataset version to score: PROJECT/DATASET[@VERSION]."
    ),
    output_dataset: str = typer.Option(
        ..., "--output", help="The dataset to write the predictions to (a new version)."
    ),
    executor: str = typer.Option(
        "local", "--executor", "-e", help="local, pool, ray or a Ray address (ray://HOST:PORT)."
    ),
    batch_size: int = typer.Option(
        65_536, "--batch-size", help="Rows predicted at once (bounds the memory a worker uses)."
    ),
    keep: list[str] = typer.Option(
        None,
        "--keep",
        help="An input column to copy into the output (repeatable). Default: every column "
        "the model does not take.",
    ),
    columns: list[str] = typer.Option(
        None,
        "--model-input",
        help="An input column the model takes, in order (repeatable). Default: its signature.",
    ),
    proba: bool = typer.Option(
        False, "--proba", help="Add the class probabilities, proba_<class> per class."
    ),
    trusted: bool = typer.Option(
        False, "--trusted", help="Load a model stored with pickle or Python code (trust it)."
    ),
    message: str = typer.Option("", "--message", "-m", help="What the new version is."),
    project: str = typer.Option(
        None,
        "--project",
        "-p",
        envvar=PROJECT_ENV,
        help=f"The project of --input and --output when they name none [env {PROJECT_ENV}].",
    ),
    as_json: bool = JSON,
) -> None:
    """Score a dataset version with a registered model, in batches, into a new version."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from dockyard.cli.output import console
    from dockyard.sdk.predict import predict_batch

    uri = model if model.startswith(("models:/", "runs:/")) else f"models:/{model}"
    with (
        overrides(ctx).client() as client,
        Progress(
            TextColumn("predicting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console(stderr=True),
            transient=True,
            disable=as_json,
        ) as bar,
    ):
        task = bar.add_task("predict", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = predict_batch(
            uri,
            input_ref,
            output_dataset,
            executor=executor,
            batch_size=batch_size,
            columns=columns or None,
            keep=keep or None,
            proba=proba,
            project=project,
            message=message,
            trusted=trusted,
            progress=report,
            client=client,
        )
    version = result.output.info
    if as_json:
        dump_json(
            {
                "output": version,
                "model": {"name": result.model.model, "version": result.model.version},
                "input": result.input.ref,
                "run_id": result.run_id,
                "rows": result.rows,
                "seconds": result.seconds,
                "executor": result.executor,
            }
        )
        return
    what = "new version" if version.created else "same content as version"
    say(
        f"{version.ref}: {what} {version.number}, {plural(result.rows, 'row')} scored by "
        f"{result.model.model}/v{result.model.version} from {result.input.ref} in "
        f"{result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s, {result.executor}); "
        f"run {result.run_id}"
    )
    if version.validation and not version.validation.passed:
        say(f"[red]validation failed:[/] {version.validation.summary()}")
