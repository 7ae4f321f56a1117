"""Tracking: metric writes, run search and metric history, beside MLflow.

Run from the project root, one mode at a time:

    .venv/bin/python benchmarks/tracking.py write   [--repeat 3] [--smoke]
    .venv/bin/python benchmarks/tracking.py search  [--repeat 20] [--smoke]
    .venv/bin/python benchmarks/tracking.py history [--repeat 20] [--smoke]
    .venv/bin/python benchmarks/tracking.py concurrency [--repeat 3] [--smoke] [--procs 32]

write: 100 runs x 10 metrics x 1,000 steps through `dy.start_run` / `run.log_metrics`
(automatic capture at its default, on), embedded (SQLite), through `dockyard server` (SQLite,
a subprocess) and embedded on PostgreSQL; points/s over the time from just before each run's
``dy.start_run`` to the end of its ``with`` block (run creation, the automatic capture and
everything delivered), summed over the runs. MLflow
logs a smaller workload (it is ~100x slower) with its usual API, on a SQLite file and through
`mlflow server`; points/s are compared. Modes run round-robin per repetition.
search: 100k runs x 20 params x 10 metrics inserted straight into the tables (SQLite and
PostgreSQL), then `client.runs.search` filtered on a param and a metric, sorted by a metric,
top 100; MLflow's SQLite schema gets the same runs (same seed) for `search_runs`.
history: one series of 1M points (10 `log_batch` calls of 100k), fetched downsampled to 1,000
points; MLflow's `get_metric_history` on 25k points (its cap per call).
concurrency: 32 processes started at once (each waits, imports done, for one go signal) on one
new embedded home (SQLite; its schema made first, the project left to the writers), each
`with dy.start_run(..., capture=dy.Capture.off())` and 10 metrics x 500 steps through
`run.log_metrics`; then every run's history is read back through the client: points lost or
stored twice, writers that raised, runs not finished, wall time from the go signal to the last
writer's end. MLflow: the same 32 processes with `mlflow.start_run` / `mlflow.log_metrics` on
one SQLite file (10 metrics x 100 steps; it logs ~1-2k points/s in one process), counted in
its `metrics` table.

Targets (2 cores, 24 GiB): write embedded >= 250k points/s, server >= 150k points/s, >= 20x
MLflow on the same backend; search p50 <= 50 ms on SQLite and PostgreSQL (and >= 20x MLflow);
history <= 50 ms; concurrency: 0 errors and 0 points lost (or stored twice). MLflow runs in
its own venv (.bench/mlflow) via benchmarks/tracking_mlflow.py. PostgreSQL: throwaway
databases created and dropped on --pg (trust auth). Scratch data goes to benchmarks/.data/
and is removed at the end. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import dockyard as dy
from dockyard.tracking.schemas import MetricBatch, MetricSeries
from tracking_data import ORDER_BY, QUERY, TOP, expected_top, history_point
from tracking_env import (
    SqlLog,
    Statement,
    code_version,
    dockyard_server,
    dockyard_writers,
    explain,
    mlflow_server,
    postgres_database,
    postgres_ok,
    run_mlflow,
    seed_tracking,
)

DATA = Path(__file__).resolve().parent / ".data"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
console = Console(width=160)


@dataclass(frozen=True)
class Sizes:
    runs: int = 100  # write: runs x metrics x steps through the SDK
    steps: int = 1000
    metrics: int = 10
    ml_runs: int = 2  # write: MLflow's smaller workload
    ml_steps: int = 200
    search_runs: int = 100_000
    history_points: int = 1_000_000
    ml_history_points: int = 25_000
    procs: int = 32  # concurrency: writer processes at once, each metrics x steps
    crowd_steps: int = 500
    ml_crowd_steps: int = 100


FULL = Sizes()
SMOKE = Sizes(2, 1000, 10, 1, 40, 2_000, 20_000, 500, crowd_steps=20, ml_crowd_steps=5)


@dataclass
class Row:
    """One thing measured: its timings (s) and what it is compared with."""

    name: str
    times: list[float] = field(default_factory=list)
    work: int = 0  # points per timed call (write) or runs searched / points stored
    error: str | None = None
    note: str = ""
    starts: list[float] = field(default_factory=list)  # write: seconds in start_run per run
    statements: list[Statement] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times and not self.error else float("nan")

    @property
    def p90(self) -> float:
        if len(self.times) < 2:
            return self.median
        return statistics.quantiles(self.times, n=10, method="inclusive")[8]

    @property
    def rate(self) -> float:
        return self.work / self.median


def verdict(ok: bool) -> str:
    return "[green]PASS[/]" if ok else "[red]FAIL[/]"


def timed_calls(fn: Callable[[], object], repeat: int) -> list[float]:
    """One warm-up call, then ``repeat`` timed ones."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@contextlib.contextmanager
def connected(kind: str, work: Path, pg: str, tag: str) -> Iterator[dy.Client]:
    """A client on a fresh home: "embedded", "server" (SQLite behind it) or "postgres"."""
    home = work / f"{tag}-{kind}"
    if kind == "embedded":
        with dy.connect(home=home) as client:
            yield client
    elif kind == "server":
        with dockyard_server(home) as url, dy.connect(url=url, home=work / "client") as c:
            yield c
    else:
        with postgres_database(pg, tag) as db, dy.connect(home=home, db=db) as client:
            yield client
    shutil.rmtree(home, ignore_errors=True)


# --- write ----------------------------------------------------------------------------------


def log_like_a_user(client: dy.Client, sizes: Sizes) -> tuple[float, float]:
    """Log the write workload with the SDK's defaults. Returns the seconds spent from just
    before each run's ``start_run`` to the end of its ``with`` block (all delivered), summed
    over the runs, and the part of them spent in ``start_run`` (on the caller's thread)."""
    keys = [f"m{i}" for i in range(sizes.metrics)]
    rnd = random.Random(0).random
    logging = starting = 0.0
    for r in range(sizes.runs):
        params = {"lr": "0.01", "batch": 64, "run": r}
        began = time.perf_counter()
        with dy.start_run("bench", experiment="e", params=params, client=client) as run:
            first = time.perf_counter()
            for step in range(sizes.steps):
                run.log_metrics({k: rnd() for k in keys}, step=step)
        logging += time.perf_counter() - began
        starting += first - began
    return logging, starting


def stored_points(client: dy.Client, metrics: int) -> int:
    """Points stored under m0..m9 (automatic capture adds system metrics besides)."""
    keys = {f"m{i}" for i in range(metrics)}
    runs = client.runs.search(projects=["bench"], limit=1000).items
    return sum(m.count for run in runs for key, m in run.metrics.items() if key in keys)


def write(sizes: Sizes, repeat: int, work: Path, pg: str) -> bool:
    points = sizes.runs * sizes.steps * sizes.metrics
    ml_points = sizes.ml_runs * sizes.ml_steps * sizes.metrics
    kinds = {"embedded": "embedded (SQLite)", "server": "server (SQLite)"}
    kinds["postgres"] = "embedded (PostgreSQL)"
    rows = {kind: Row(name, work=points) for kind, name in kinds.items()}
    ml_file, ml_server = Row("MLflow, SQLite file", work=ml_points), Row("MLflow server (SQLite)")
    ml_server.work = ml_points
    rows["postgres"].error = postgres_ok(pg)
    ml_args = ["--runs", str(sizes.ml_runs), "--steps", str(sizes.ml_steps)]
    for i in range(repeat):
        for kind, row in rows.items():
            if row.error:
                continue
            try:
                with connected(kind, work, pg, f"write{i}") as client:
                    client.projects.create("bench")
                    seconds, starting = log_like_a_user(client, sizes)
                    row.times.append(seconds)
                    row.starts.append(starting / sizes.runs)
                    if (got := stored_points(client, sizes.metrics)) != points:
                        row.error = f"{got} points stored of {points}"
            except dy.DockyardError as exc:
                row.error = f"{type(exc).__name__}: {exc}"
        rep = work / f"mlflow-{i}"
        rep.mkdir()
        uri = f"sqlite:///{rep / 'mlflow.db'}"
        for peer, server in ((ml_file, False), (ml_server, True)):
            with mlflow_server(rep) if server else contextlib.nullcontext(uri) as target:
                result = run_mlflow("write", ["--uri", target, *ml_args], rep)
            peer.times.append(result["seconds"] + result["start_run"])
            peer.starts.append(result["start_run"] / sizes.ml_runs)
        console.print(f"  repetition {i + 1}/{repeat} done", style="dim")

    table = Table(title=f"write: medians over {repeat} repetition(s), points/s")
    columns = ("mode", "points", "median s", "points/s", "runs (s)", "start_run s", "vs MLflow")
    for column in (*columns, "target"):
        table.add_column(column, justify="left" if column in ("mode", "target") else "right")
    table.add_column("result")
    peers = {"embedded": ml_file, "server": ml_server}
    targets = {"embedded": 250_000, "server": 150_000, "postgres": 200_000}
    ok = True
    for kind, row in rows.items():
        peer = peers.get(kind)
        ratio = row.rate / peer.rate if peer else None
        passed = not row.error and row.rate >= targets[kind]
        passed &= ratio is None or ratio >= 20
        ok &= passed
        table.add_row(
            row.name,
            f"{row.work:,}",
            f"{row.median:.2f}",
            f"{row.rate:,.0f}" if not row.error else "ERROR",
            " ".join(f"{t:.1f}" for t in row.times),
            f"{statistics.median(row.starts):.2f}" if row.starts else "",
            f"{ratio:.0f}x" if ratio else "",
            f">= {targets[kind] // 1000}k/s" + (", >= 20x" if peer else ""),
            verdict(passed),
        )
    for peer in (ml_file, ml_server):
        runs = " ".join(f"{t:.1f}" for t in peer.times)
        start = f"{statistics.median(peer.starts):.2f}"
        cells = (f"{peer.work:,}", f"{peer.median:.2f}", f"{peer.rate:,.0f}", runs, start)
        table.add_row(peer.name, *cells)
    console.print(table)
    console.print(
        f"MLflow logs a smaller workload ({sizes.ml_runs} runs x {sizes.metrics} metrics x "
        f"{sizes.ml_steps} steps = {ml_points:,} points); ratios compare points/s. Seconds "
        "run from just before each run's start_run to the end of its `with` block, summed over "
        "the runs; start_run s: median per run, the part spent in start_run (included)."
    )
    for row in rows.values():
        if row.error:
            console.print(f"[red]{row.name}[/]: {row.error}")
    return ok


# --- search and history ---------------------------------------------------------------------


def breakdown(row: Row, client: dy.Client, call: Callable[[], object], sql: SqlLog) -> None:
    """Record the SQL one call runs; EXPLAIN the slowest statement when over target."""
    with sql.capture() as statements:
        call()
    row.statements = list(statements)
    if row.median > 0.05 and row.statements:
        services = getattr(client.transport, "services", None)
        if services is not None:
            slowest = max(row.statements, key=lambda s: s.seconds)
            row.plan = explain(services.db.engine, slowest)


def show_sql(row: Row) -> None:
    total = sum(s.seconds for s in row.statements)
    console.print(
        f"  {row.name}: {len(row.statements)} SQL statements, {total * 1000:.1f} ms in the "
        f"database of a {row.median * 1000:.1f} ms (median) call",
        style="dim",
    )
    for s in sorted(row.statements, key=lambda s: -s.seconds)[:4]:
        text = " ".join(s.sql.split())
        console.print(f"    {s.seconds * 1000:7.1f} ms  {text[:100]}", style="dim")
    if row.plan:
        console.print("    plan of the slowest:", style="dim")
        for line in row.plan[:25]:
            console.print(f"      {line}", style="dim", markup=False, highlight=False)


def search(sizes: Sizes, repeat: int, work: Path, pg: str) -> bool:
    expected = expected_top(sizes.search_runs)
    sql = SqlLog()
    rows = [Row("dockyard, SQLite"), Row("dockyard, PostgreSQL")]
    rows[1].error = postgres_ok(pg)
    for row, kind in zip(rows, ("embedded", "postgres"), strict=True):
        if row.error:
            continue
        with contextlib.ExitStack() as stack:
            db = None
            if kind == "postgres":
                db = stack.enter_context(postgres_database(pg, "search"))
            home = work / f"search-{kind}"
            seconds = seed_tracking(home, db, sizes.search_runs)
            row.note = f"seeded in {seconds:.0f} s"
            client = stack.enter_context(dy.connect(home=home, db=db))
            found: list[str] = []

            def once(client: dy.Client = client, found: list[str] = found) -> None:
                page = client.runs.search(QUERY, order_by=ORDER_BY, limit=TOP)
                found[:] = [run.name for run in page.items]

            row.times = timed_calls(once, repeat)
            row.work = sizes.search_runs
            if found != expected:
                row.error = f"wrong top {TOP}: {found[:3]}... expected {expected[:3]}..."
            breakdown(row, client, once, sql)
        console.print(f"  {row.name} done", style="dim")
    peer = Row("MLflow search_runs, SQLite", work=sizes.search_runs)
    args = ["--db", str(work / "mlflow-search.db"), "--runs", str(sizes.search_runs)]
    result = run_mlflow("search", [*args, "--repeat", str(repeat)], work)
    peer.times, peer.note = result["times"], f"seeded in {result['seed_seconds']:.0f} s"
    if result["top"] != expected:
        peer.error = f"wrong top {TOP}: {result['top'][:3]}..."
    return report_reads("search", rows, peer, 0.05, len(peer.times))


def history(sizes: Sizes, repeat: int, work: Path, pg: str) -> bool:
    rows = [Row("dockyard, SQLite"), Row("dockyard, PostgreSQL")]
    rows[1].error = postgres_ok(pg)
    sql = SqlLog()
    rng = random.Random(3)
    steps = list(range(sizes.history_points))
    values = [history_point(s, rng) for s in steps]
    stamps = [1_000_000 + s for s in steps]
    chunk = sizes.history_points // 10
    for row, kind in zip(rows, ("embedded", "postgres"), strict=True):
        if row.error:
            continue
        with connected(kind, work, pg, "history") as client:
            client.projects.create("bench")
            run_id = client.runs.create("bench", experiment="h").id
            began = time.perf_counter()
            for lo in range(0, sizes.history_points, chunk):
                part = slice(lo, lo + chunk)
                series = MetricSeries(
                    steps=steps[part], timestamps=stamps[part], values=values[part]
                )
                client.runs.log_batch(run_id, MetricBatch(series={"loss": series}))
            logged = time.perf_counter() - began
            got: list[int] = []

            def once(c: dy.Client = client, run_id: str = run_id, got: list[int] = got) -> None:
                h = c.runs.history(run_id, "loss", max_points=1000)
                got[:] = [h.total_points, len(h.steps), int(h.downsampled)]

            row.times = timed_calls(once, repeat)
            row.work = sizes.history_points
            rate = sizes.history_points / logged
            row.note = f"{got[1]} points returned; log_batch {rate:,.0f} points/s"
            if got[0] != sizes.history_points or not got[2] or not 2 <= got[1] <= 1000:
                row.error = f"unexpected history: total, returned, downsampled = {got}"
            breakdown(row, client, once, sql)
        console.print(f"  {row.name} done", style="dim")
    peer = Row("MLflow get_metric_history, SQLite", work=sizes.ml_history_points)
    args = ["--db", str(work / "mlflow-history.db"), "--points", str(sizes.ml_history_points)]
    result = run_mlflow("history", [*args, "--repeat", str(repeat)], work)
    peer.times = result["times"]
    peer.note = f"{result['returned']:,} points returned (all; no downsampling)"
    return report_reads("history", rows, peer, 0.05, len(peer.times))


def report_reads(mode: str, rows: list[Row], peer: Row, target: float, peer_n: int) -> bool:
    repeat = len(rows[0].times) or len(rows[1].times)
    table = Table(title=f"{mode}: {repeat} timed calls after a warm-up (MLflow: {peer_n})")
    for column in ("backend", "size", "p50 ms", "p90 ms", "min ms", "MLflow p50 / p50"):
        table.add_column(column, justify="left" if column == "backend" else "right")
    for column in ("target", "result", "note"):
        table.add_column(column)
    ok = True
    for row in [*rows, peer]:
        is_peer = row is peer
        passed = not row.error and row.median <= target
        ok &= passed or is_peer
        ratio = "" if is_peer or row.error else f"{peer.median / row.median:.1f}x"
        table.add_row(
            row.name,
            f"{row.work:,}",
            "ERROR" if row.error else f"{row.median * 1000:.1f}",
            f"{row.p90 * 1000:.1f}" if not row.error else "",
            f"{min(row.times) * 1000:.1f}" if row.times else "",
            ratio,
            "" if is_peer else f"<= {target * 1000:.0f} ms",
            "" if is_peer else verdict(passed),
            row.note,
        )
    console.print(table)
    for row in [*rows, peer]:
        if row.error:
            console.print(f"[red]{row.name}[/]: {row.error}")
        elif row.statements:
            show_sql(row)
    return ok


# --- concurrency ----------------------------------------------------------------------------

WRITER_TIMEOUT_S = 900.0


@dataclass
class Crowd:
    """Writers started at once on one store, summed over repetitions: what they logged
    (calls that returned), what was stored, what went wrong."""

    name: str
    procs: int = 0
    logged: int = 0
    stored: int = 0  # points in the store under the writers' runs
    distinct: int = 0  # distinct (run, key, step) among them
    lost: int = 0  # logged but not stored
    extra: int = 0  # stored though the call that logged them raised
    errors: int = 0  # writers that raised, exited non-zero or reported nothing
    unfinished: int = 0  # runs not closed as finished
    times: list[float] = field(default_factory=list)  # go signal to the last writer's end
    rates: list[float] = field(default_factory=list)  # distinct points stored / wall s
    starts: list[float] = field(default_factory=list)  # per writer: go signal to run made
    messages: Counter[str] = field(default_factory=Counter)
    stderr: Counter[str] = field(default_factory=Counter)  # last lines of writers without errors

    @property
    def duplicates(self) -> int:
        return self.stored - self.distinct


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def tally(
    crowd: Crowd,
    go: float,
    outcomes: list[dict[str, Any]],
    series: dict[str, dict[str, list[int]]],
    statuses: dict[str, str],
    finished: str,
) -> None:
    """Add one repetition to ``crowd``: per writer, its result against the (count, distinct
    steps) stored per key of its run; runs no writer reported count as extra."""
    ends: list[float] = []
    distinct = 0
    for outcome in outcomes:
        result, rc = outcome["result"], outcome["rc"]
        problem = None
        if result is None:
            problem = f"exit code {rc}, no result: {_last_line(outcome['stderr'])}"
        elif result["error"]:
            problem = result["error"]
        elif rc != 0:
            problem = f"exit code {rc} after its run: {_last_line(outcome['stderr'])}"
        if problem:
            crowd.errors += 1
            crowd.messages[problem.splitlines()[0][:300]] += 1
        elif outcome["stderr"]:
            crowd.stderr[_last_line(outcome["stderr"])[:200]] += 1
        if result is None:
            continue
        ends.append(result["ended"])
        if result.get("started"):
            crowd.starts.append(result["started"] - go)
        crowd.logged += result["logged"]
        counts = list(series.pop(result["run_id"] or "", {}).values())
        got = sum(c[1] for c in counts)
        crowd.stored += sum(c[0] for c in counts)
        distinct += got
        crowd.lost += max(0, result["logged"] - got)
        crowd.extra += max(0, got - result["logged"])
    for orphan in series.values():  # runs of writers that reported nothing
        crowd.stored += sum(c[0] for c in orphan.values())
        distinct += sum(c[1] for c in orphan.values())
        crowd.extra += sum(c[1] for c in orphan.values())
    crowd.distinct += distinct
    crowd.procs = len(outcomes)
    crowd.unfinished += sum(1 for status in statuses.values() if status != finished)
    crowd.unfinished += max(0, len(outcomes) - len(statuses))  # runs never created
    if ends:
        crowd.times.append(max(ends) - go)
        crowd.rates.append(distinct / crowd.times[-1])


def dockyard_crowd(crowd: Crowd, sizes: Sizes, rep: Path) -> None:
    """One repetition on dockyard: writers on a new embedded home, then its runs read back."""
    home = rep / "home"
    with dy.connect(home=home):
        pass  # the schema, as the first `dockyard` command makes it; the project is not made
    go, outcomes = dockyard_writers(
        home, "crowd", sizes.procs, sizes.crowd_steps, sizes.metrics, rep, WRITER_TIMEOUT_S
    )
    series: dict[str, dict[str, list[int]]] = {}
    statuses: dict[str, str] = {}
    with dy.connect(home=home) as client:
        try:
            runs = client.runs.search(projects=["crowd"], limit=1000).items
        except dy.DockyardError as exc:  # no project: no writer got as far as its run
            crowd.messages[f"reading the runs back: {type(exc).__name__}: {exc}"] += 1
            runs = []
        for run in runs:
            statuses[run.id] = run.status
            series[run.id] = {}
            for key, summary in run.metrics.items():
                steps = client.runs.history(run.id, key).steps
                series[run.id][key] = [len(steps), len(set(steps))]
                if summary.count != len(steps):
                    note = f"summary count {summary.count} != {len(steps)} points in history"
                    crowd.messages[note] += 1
    tally(crowd, go, outcomes, series, statuses, "finished")


def mlflow_crowd(crowd: Crowd, sizes: Sizes, rep: Path) -> None:
    args = ["--db", str(rep / "mlflow.db"), "--procs", str(sizes.procs)]
    args += ["--steps", str(sizes.ml_crowd_steps), "--metrics", str(sizes.metrics)]
    args += ["--timeout", str(WRITER_TIMEOUT_S)]
    result = run_mlflow("concurrency", args, rep)
    go, outcomes = result["go"], result["outcomes"]
    tally(crowd, go, outcomes, result["series"], result["statuses"], "FINISHED")


def concurrency(sizes: Sizes, repeat: int, work: Path, pg: str) -> bool:
    del pg  # embedded SQLite only
    ours = Crowd("dockyard, embedded SQLite")
    peer = Crowd("MLflow, SQLite file")
    for i in range(repeat):
        for crowd, run in ((ours, dockyard_crowd), (peer, mlflow_crowd)):
            rep = work / f"crowd{i}-{'mlflow' if crowd is peer else 'dockyard'}"
            rep.mkdir()
            run(crowd, sizes, rep)
            shutil.rmtree(rep, ignore_errors=True)
        console.print(f"  repetition {i + 1}/{repeat} done", style="dim")

    expected = repeat * sizes.procs * sizes.crowd_steps * sizes.metrics
    title = f"concurrency: {sizes.procs} processes at once on one SQLite store, {repeat} "
    title += "repetition(s); points summed over them, wall s and points/s medians"
    table = Table(title=title)
    columns = ["system", "procs", "logged", "stored", "lost", "twice", "errors", "unfinished"]
    columns += ["start_run s", "wall s", "walls (s)", "points/s"]
    for column in (*columns, "target"):
        table.add_column(column, justify="left" if column in ("system", "target") else "right")
    table.add_column("result")
    passed = ours.errors == ours.lost == ours.duplicates == ours.extra == ours.unfinished == 0
    passed &= ours.distinct == expected and len(ours.times) == repeat
    for crowd in (ours, peer):
        wall = statistics.median(crowd.times) if crowd.times else float("nan")
        rate = statistics.median(crowd.rates) if crowd.rates else float("nan")
        table.add_row(
            crowd.name,
            f"{crowd.procs}",
            f"{crowd.logged:,}",
            f"{crowd.stored:,}",
            f"{crowd.lost:,}",
            f"{crowd.duplicates:,}",
            f"{crowd.errors}",
            f"{crowd.unfinished}",
            f"{statistics.median(crowd.starts):.1f} / {max(crowd.starts):.1f}"
            if crowd.starts
            else "",
            f"{wall:.1f}",
            " ".join(f"{t:.1f}" for t in crowd.times),
            f"{rate:,.0f}",
            "0 errors, 0 lost" if crowd is ours else "",
            verdict(passed) if crowd is ours else "",
        )
    console.print(table)
    ml_points = sizes.procs * sizes.ml_crowd_steps * sizes.metrics
    console.print(
        f"Each writer logs {sizes.metrics} metrics x {sizes.crowd_steps} steps on dockyard "
        f"({expected // repeat:,} points a repetition), {sizes.metrics} metrics x "
        f"{sizes.ml_crowd_steps} steps on MLflow ({ml_points:,}; MLflow logs ~1-2k points/s "
        "in one process). logged: points of the log calls that returned; stored: points read "
        "back per run (dockyard: `runs.history` of every key; MLflow: its `metrics` table); "
        "twice: stored more than once; errors: writers that raised or exited non-zero; "
        "unfinished: runs not closed as finished; start_run s: median / max per writer from "
        "the go signal (all writers started, imports done) to its run being created; wall: "
        "from the go signal to the last writer's end; points/s: distinct points stored / wall."
    )
    for crowd in (ours, peer):
        if crowd.extra:
            console.print(f"{crowd.name}: {crowd.extra:,} points stored beyond those logged")
        for message, count in crowd.messages.most_common(8):
            console.print(f"[red]{crowd.name}[/] x{count}: {message}", highlight=False)
        for line, count in crowd.stderr.most_common(3):
            text = f"  {crowd.name}: {count} writer(s) without error wrote to stderr: {line}"
            console.print(text, style="dim", highlight=False, markup=False)
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("write", "search", "history", "concurrency"))
    parser.add_argument("--repeat", type=int, help="repetitions (write 3, search/history 20)")
    parser.add_argument("--smoke", action="store_true", help="CI size: about 1/50 of the work")
    parser.add_argument("--pg", default=PG_ADMIN, help="PostgreSQL URL to create databases on")
    parser.add_argument("--procs", type=int, help="concurrency: writer processes (32)")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    if args.procs is not None:
        sizes = dataclasses.replace(sizes, procs=args.procs)
    few = args.mode in ("write", "concurrency")
    repeat = args.repeat or (3 if few else 20) // (3 if args.smoke else 1)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    for var in [v for v in os.environ if v.startswith("DOCKYARD_")]:
        del os.environ[var]  # the benchmark picks its own homes, databases and URLs
    DATA.mkdir(parents=True, exist_ok=True)
    console.print(f"{args.mode}: {code_version()}", style="dim")
    work = Path(tempfile.mkdtemp(prefix=f"tracking-{args.mode}-", dir=DATA))
    try:
        modes = {"write": write, "search": search, "history": history}
        run = (modes | {"concurrency": concurrency})[args.mode]
        ok = run(sizes, repeat, work, args.pg)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        console.print(f"{args.mode}: {code_version()} at the end", style="dim")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
