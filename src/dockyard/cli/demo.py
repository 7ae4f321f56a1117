"""``dockyard demo``: the end-to-end fraud demo on the current home (or server)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dockyard.cli.context import overrides
from dockyard.cli.output import dump_json

if TYPE_CHECKING:
    from dockyard.pipelines.schemas import StepRecord


def demo(
    ctx: typer.Context,
    size: int = typer.Option(200_000, "--size", min=1_000, help="How many transactions."),
    days: int = typer.Option(90, "--days", min=21, help="Over how many days."),
    seed: int = typer.Option(0, "--seed", help="The same seed makes the same data."),
    executor: str = typer.Option(
        "process", "--executor", "-e", help="process, inprocess, ray or a Ray address."
    ),
    holdout_days: int = typer.Option(
        14, "--holdout-days", min=1, help="The last days, kept to evaluate the model on."
    ),
    trees: int = typer.Option(200, "--trees", min=1, help="Boosting rounds of the model."),
    production: bool = typer.Option(
        False,
        "--production",
        help="Then the closed loop: serve, monitor, shift the traffic, retrain, swap (~5 min).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Generate card transactions with fraud in them, version them, and run a pipeline that
    builds features, trains, evaluates, registers, promotes and batch-scores a model.

    Run it again: the same data is the same dataset version and every step is reused.
    """
    from rich.console import Console
    from rich.live import Live

    from dockyard.demo.report import print_report, steps_table, summary_json, where
    from dockyard.demo.run import run_demo

    if holdout_days >= days - 7:
        raise typer.BadParameter("keep at least a week before the holdout to train on")
    settings = overrides(ctx).settings()
    out = Console(soft_wrap=True)
    progress = Console(stderr=True, soft_wrap=True)
    if not as_json:
        out.print(f"[bold]dockyard demo[/]: card-fraud detection, end to end, in {where(settings)}")
    steps: dict[str, StepRecord] = {}
    with (
        overrides(ctx).client() as client,
        Live(steps_table([]), console=progress, transient=True, auto_refresh=False) as live,
    ):

        def show(_: str, record: StepRecord) -> None:
            steps[record.node] = record.model_copy()
            live.update(steps_table(list(steps.values())), refresh=True)

        def say(line: str) -> None:
            if not as_json:
                live.console.print(f"[dim]- {line}[/]")

        result = run_demo(
            client,
            size=size,
            days=days,
            seed=seed,
            executor=executor,
            holdout_days=holdout_days,
            n_estimators=trees,
            on_event=show,
            say=say,
        )
    if not as_json:
        print_report(out, result, settings)
    if not result.succeeded:
        if as_json:
            dump_json(summary_json(result))
        raise typer.Exit(1)
    if not production:
        if as_json:
            dump_json(summary_json(result))
        return
    from rich.markup import escape

    from dockyard.demo.production import print_next, run_production

    if not as_json:
        out.print("\n[bold]production[/]: the closed loop (about 5 minutes)")
    with overrides(ctx).client() as client:
        loop = run_production(
            client,
            seed=seed,
            holdout_days=holdout_days,
            n_estimators=trees,
            executor=executor,
            say=None if as_json else lambda line: out.print(f"  {escape(line)}", highlight=False),
        )
    if as_json:
        dump_json({**summary_json(result), "production": loop})
    else:
        print_next(out, loop, settings)
    if loop.get("new_champion") == loop.get("champion"):
        raise typer.Exit(1)
