"""What the demo prints: the data, the pipeline's steps, the model's metrics, the alias, the
scores, and the commands to look at each of them."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.table import Table

from dockyard.demo.features import FEATURES
from dockyard.demo.pipeline import ALIAS, DATASET, MODEL, PROJECT, SCORES

if TYPE_CHECKING:
    from dockyard.core.config import Settings
    from dockyard.demo.run import DemoResult
    from dockyard.pipelines.schemas import StepRecord

_COLORS = {
    "succeeded": "green",
    "cached": "cyan",
    "failed": "red",
    "running": "yellow",
    "skipped": "dim",
}


def where(settings: Settings) -> str:
    """Where the demo's records live, in words."""
    if settings.url:
        return f"the server at {settings.url}"
    return f"{settings.home} (embedded)"


def print_report(console: Console, result: DemoResult, settings: Settings) -> None:
    """Print the report of a demo run."""
    console.print(_summary(result))
    console.print(steps_table(result.pipeline.steps, _details(result)))
    console.print(_results(result))
    console.print(_next_commands(result, settings))


def _summary(result: DemoResult) -> RenderableType:
    v = result.version
    fraud = {k: n for k, n in result.patterns.items() if k != "none"}
    total = sum(result.patterns.values())
    mix = " · ".join(f"{k.replace('_', ' ')} {n:,}" for k, n in fraud.items())
    run = result.pipeline.run
    cached = sum(1 for s in run.steps if s.status == "cached")
    status = run.status if run.status != "succeeded" else "[green]succeeded[/]"
    grid = _grid()
    grid.add_row(
        "data",
        f"[bold]{v.ref}[/]: {v.rows:,} transactions "
        + ("(a new version)" if result.new_version else "(the same content: the same version)"),
    )
    grid.add_row(
        "",
        f"generated in {result.generate_seconds:.1f} s, ingested in {result.ingest_seconds:.1f} s;"
        f" {sum(fraud.values()) / total:.1%} fraud: {mix}",
    )
    grid.add_row(
        "pipeline",
        f"[bold]{run.pipeline}[/] run {run.id}: {status} in {result.pipeline_seconds:.1f} s "
        f"(executor {run.executor}); {cached} of {len(run.steps)} steps cached",
    )
    return grid


def steps_table(steps: list[StepRecord], details: dict[str, str] | None = None) -> Table:
    """The pipeline's steps: status (``cached``: reused from an earlier run), duration, and
    what they made (``details``, by step)."""
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column in ("step", "status", "duration", "detail"):
        table.add_column(column)
    for s in sorted(steps, key=lambda s: s.position):
        color = _COLORS.get(s.status)
        shown = s.duration_ms is not None and s.kind != "load" and s.status != "cached"
        took = f"{(s.duration_ms or 0) / 1000:.1f} s" if shown else ""
        detail = (details or {}).get(s.node, "")
        if s.error:
            detail = s.error.strip().splitlines()[-1][:100]
        elif s.kind == "load":
            detail = detail or s.step
        elif s.status == "running":
            detail = "..."
        elif not detail:
            detail = getattr(s.output, "summary", "")[:40]
        table.add_row(s.node, f"[{color}]{s.status}[/]" if color else s.status, took, detail)
    return table


def _details(result: DemoResult) -> dict[str, str]:
    """A line per step about what it made, from the steps' outputs."""
    details = {
        f"load-{DATASET}": f"{result.version.ref}, {result.version.rows:,} rows",
        "featurize": f"{result.version.rows:,} rows x {len(FEATURES)} features",
        "train": "a LightGBM booster",
    }
    evaluation, promotion, scoring = result.evaluation, result.promotion, result.scoring
    if evaluation is not None:
        details["register"] = f"{MODEL} v{evaluation['version']}"
        m = evaluation["metrics"]
        details["evaluate"] = f"auc {m['auc']:.3f} on {int(m['holdout_rows']):,} purchases"
    champion = result.champion
    if champion is not None:
        details["evaluate_champion"] = (
            f"v{champion['version']}: auc {champion['metrics']['auc']:.3f}, same purchases"
            if champion.get("version") is not None
            else f"no {ALIAS} yet"
        )
    if promotion is not None:
        details["promote"] = (
            f"{ALIAS} -> v{promotion['version']}" if promotion["promoted"] else "gate failed"
        )
    if scoring is not None:
        details["score"] = (
            f"{scoring['dataset']}, {scoring['rows']:,} rows" if scoring["scored"] else "-"
        )
    return details


def _results(result: DemoResult) -> RenderableType:
    grid = _grid()
    evaluation, promotion, scoring = result.evaluation, result.promotion, result.scoring
    if evaluation is not None:
        m = evaluation["metrics"]
        k = int(m["k"])
        grid.add_row(
            "model",
            f"[bold]{MODEL} v{evaluation['version']}[/], judged on the purchases from "
            f"{evaluation['cutoff'][:16]} on ({int(m['holdout_rows']):,}, "
            f"{m['holdout_fraud_rate']:.2%} fraud)",
        )
        grid.add_row(
            "",
            f"AUC [bold]{m['auc']:.3f}[/] · average precision {m['average_precision']:.3f} · "
            f"precision@{k:,} {m['precision_at_k']:.1%} · recall@{k:,} {m['recall_at_k']:.1%}",
        )
        caught = " · ".join(
            f"{name.replace('_', ' ')} {share:.0%}"
            for name, share in evaluation["recall_at_k_by_pattern"].items()
        )
        grid.add_row("", f"caught among the {k:,} highest scores: {caught}")
    if promotion is not None:
        if promotion["promoted"]:
            text = f"[green]{ALIAS} -> v{promotion['version']}[/]: {promotion['report']}"
        else:
            stays = promotion["champion"]
            text = f"[yellow]v{promotion['version']} not promoted[/] ({promotion['report']}); " + (
                f"{ALIAS} stays v{stays}" if stays is not None else f"no {ALIAS} yet"
            )
        grid.add_row("alias", text)
    if scoring is not None:
        if scoring["scored"]:
            text = (
                f"[bold]{scoring['dataset']}[/]: {scoring['rows']:,} holdout purchases scored by "
                f"{MODEL} v{scoring['model_version']}, {scoring['flagged']:,} flagged"
            )
        else:
            text = f"nothing scored: {scoring['reason']}"
        grid.add_row("scores", text)
    online = result.online
    if online is not None:
        before, after = online["before"], online["after"]
        grid.add_row(
            "features",
            f"[bold]{online['view']}[/] materialized: {online['materialized_events']:,} events "
            f"in {online['materialize_seconds']:.1f} s; card {online['card']} as of "
            f"{online['at'][:16]}: {_count(before['card_purchases_24h'], 'purchase')} in 24 h, "
            f"{_count(int(before['card_reports'] or 0), 'fraud report')}",
        )
        grid.add_row(
            "",
            f"a purchase pushed ({online['pushed_to']}): "
            f"{_count(after['card_purchases_24h'], 'purchase')} in 24 h at once; "
            f"lookup p50 {online['lookup_ms_p50']:.2f} ms, p99 "
            f"{online['lookup_ms_p99']:.2f} ms ({online['transport']})"
            + ("" if online["pushed_events"] else " (pushed by an earlier run)"),
        )
    served = result.serving
    if served is not None:
        grid.add_row(
            "serving",
            f"[bold]{served['uri']}[/] (v{', v'.join(str(v) for v in served['versions'])}) "
            f"answered {served['requests']:,} live purchases from {served['clients']} clients: "
            f"{served['requests_per_second']:,.0f} requests/s, p50 {served['latency_ms_p50']} ms, "
            f"p99 {served['latency_ms_p99']} ms, {served['failed']} failed",
        )
        grid.add_row(
            "",
            f"prediction log: {served['logged']:,} of them; the last, "
            f"{served['traced_prediction']}, traces to run {served['traced_run']} and "
            f"{', '.join(served['traced_inputs']) or 'no recorded data'}",
        )
    if result.pipeline.run.error:
        grid.add_row("[red]error[/]", result.pipeline.run.error.strip()[-1500:])
    return grid


def _next_commands(result: DemoResult, settings: Settings) -> RenderableType:
    lines: list[str] = ["", "[bold]Look further:[/]"]
    if settings.url:
        lines.append(f"  export DOCKYARD_URL={shlex.quote(settings.url)}")
    elif settings.sources.get("home", "default") != "default":
        lines.append(f"  export DOCKYARD_HOME={shlex.quote(str(settings.home))}")
    commands: list[tuple[str, str]] = [
        ("dockyard ui", "all of it in the browser: runs, data, model, pipeline"),
        (f"dockyard pipelines show {result.pipeline.id}", "the pipeline run, step by step"),
        (f"dockyard runs list -p {PROJECT}", "the tracked runs: one per step"),
        (f"dockyard data show {DATASET} -p {PROJECT}", "the data: schema, statistics"),
        (f"dockyard models show {MODEL}", "the versions and aliases"),
        (f"dockyard models card {MODEL}@{ALIAS}", "how the champion was made"),
        (f"dockyard models history {MODEL} {ALIAS}", "every move of the alias"),
        (f"dockyard data lineage {SCORES} -p {PROJECT}", "where the scores come from"),
        (f"dockyard data download {SCORES} -p {PROJECT} --dest scores.csv", "the scores"),
        (f"dockyard features show card_activity -p {PROJECT}", "the card features"),
        (f"dockyard serve models:/{MODEL}@{ALIAS}", "serve the champion on :8080"),
    ]
    if result.serving and result.serving.get("traced_prediction"):
        commands.append(
            (f"dockyard trace {result.serving['traced_prediction']}", "one answer, traced")
        )
    width = max(len(c) for c, _ in commands)
    lines.extend(f"  {c.ljust(width)}  [dim]# {what}[/]" for c, what in commands)
    return Group(*lines)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", min_width=8)
    grid.add_column()
    return grid


def summary_json(result: DemoResult) -> dict[str, Any]:
    """The report as JSON, for scripts."""
    return {
        "dataset": result.version.ref,
        "rows": result.version.rows,
        "new_version": result.new_version,
        "patterns": result.patterns,
        "seconds": {
            "generate": round(result.generate_seconds, 3),
            "ingest": round(result.ingest_seconds, 3),
            "pipeline": round(result.pipeline_seconds, 3),
        },
        "pipeline_run": result.pipeline.id,
        "status": result.pipeline.status,
        "steps": [
            {
                "node": s.node,
                "status": s.status,
                "duration_ms": s.duration_ms,
                "cached_from": s.cached_from,
            }
            for s in result.pipeline.steps
        ],
        "evaluation": result.evaluation,
        "promotion": result.promotion,
        "scoring": result.scoring,
        "online": result.online,
        "serving": result.serving,
    }
