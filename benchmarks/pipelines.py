"""Pipelines: per-step overhead, a cached re-run and a fan-out, beside Prefect 3.

Run from the project root (all modes by default, or some of them):

    .venv/bin/python benchmarks/pipelines.py [chain] [cached] [fanout] [--repeat 3] [--smoke]

chain: 1,000 no-op steps, each waiting for the previous one (``noop.after(prev)(i)``), run by
``dy.run`` with executor ``inprocess`` (the target's "in-process") and ``process`` (info);
overhead per step = wall time of ``dy.run`` / 1,000. Also 1,000 independent no-op steps
in-process (info). cached: a chain of 100 no-op steps run once, then again with nothing
changed; the second ``dy.run`` is timed and every step must come back ``cached``. fanout:
``double.map(range(10_000))`` (a step returning ``i * 2``) and a step summing the list, with
executor ``process`` (the default) and ``inprocess``; the sum and the per-item status are
checked. Every dockyard measurement is on a new embedded home (SQLite) made before the
timer starts; one small untimed run per executor warms the interpreter up first.

Prefect 3 runs the same DAG shapes in its own venv (``.bench/prefect``, created if missing)
through benchmarks/pipelines_prefect.py: one subprocess per measurement, each on a new
``PREFECT_HOME`` with the ephemeral API server (SQLite), started by an untimed warm-up flow.
chain: tasks submitted with ``wait_for=[previous]`` on the default ThreadPoolTaskRunner;
cached: ``cache_policy=INPUTS + TASK_SOURCE``, ``persist_result=True``, the second flow run
timed; fanout: ``task.map`` on the ThreadPoolTaskRunner (beside dockyard in-process) and on
the ProcessPoolTaskRunner (beside dockyard's process pool, on fewer items: it takes ~0.1-0.3 s
an item here). A Prefect measurement not done within ``--prefect-timeout`` is retried on a
tenth of the size, and per-item rates are compared.

Targets (2 cores, 24 GiB): <= 5 ms overhead per no-op step in-process, cached re-run of 100
steps <= 1 s (either executor), 10,000-item fan-out <= 30 s (either executor). Medians over
``--repeat`` repetitions (3; ``--smoke``: 1, on small sizes). ``--profile`` runs cProfile on
one ``dy.run`` of each row that missed its target and prints the top costs. Scratch homes go
to benchmarks/.data/ and are removed at the end; profiles stay in benchmarks/.data/profiles/.
Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import dockyard as dy
from tracking_env import code_version

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
PREFECT_VENV = ROOT / ".bench" / "prefect"
PREFECT_PYTHON = PREFECT_VENV / "bin" / "python"
PREFECT_SPEC = "prefect>=3,<4"
PREFECT_ENV = {
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",  # a local API server subprocess on SQLite
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",  # a loaded machine is slow
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "DO_NOT_TRACK": "1",
    "PYTHONNOUSERSITE": "1",
}
PROJECT = "bench"
MODES = ("chain", "cached", "fanout")
console = Console(width=200)
PREFECT_VERSIONS: set[str] = set()  # as reported by the Prefect side


# --- the pipelines --------------------------------------------------------------------------


@dy.step
def noop(i: int) -> int:
    return i


@dy.step
def double(i: int) -> int:
    return i * 2


@dy.step
def total(values: list[int]) -> int:
    return sum(values)


@dy.pipeline
def chain(steps: int = 1000, independent: bool = False) -> None:
    previous = None
    for i in range(steps):
        step = noop if previous is None or independent else noop.after(previous)
        previous = step(i)


@dy.pipeline
def fanout(items: int = 10_000) -> None:
    total(double.map(range(items)))


# --- measurements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    chain: int = 1000
    cached: int = 100
    fanout: int = 10_000
    prefect_process_items: int = 500  # Prefect's ProcessPoolTaskRunner: ~0.1-0.3 s an item


FULL = Sizes()
SMOKE = Sizes(chain=50, cached=20, fanout=200, prefect_process_items=20)


@dataclass
class Side:
    """One side of a row: the times of its repetitions at ``size`` steps or items."""

    name: str
    size: int
    times: list[float] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def per_unit_ms(self) -> float:
        return self.median / self.size * 1000


@dataclass
class Row:
    workload: str
    executor: str  # a dockyard executor name
    ours: Side
    peer: Side | None
    target: str = ""  # shown
    limit: Callable[[Side], bool] | None = None  # the target's test, None: info only
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        if self.limit is None:
            return None
        return not self.ours.error and bool(self.ours.times) and self.limit(self.ours)


def registry_present() -> bool:
    return importlib.util.find_spec("dockyard.compute.registry") is not None


def run_pipeline(
    pipeline: dy.Pipeline, executor: str, client: dy.Client, **params: Any
) -> dy.PipelineResult:
    """``dy.run`` on ``executor``. Should the named-executor lookup be missing from this
    checkout, the process pool is made here (and closed, as ``dy.run`` would)."""
    if executor == "process" and not registry_present():
        from dockyard.compute.pool import ProcessExecutor

        with ProcessExecutor() as pool:
            return dy.run(pipeline, project=PROJECT, executor=pool, client=client, **params)
    return dy.run(pipeline, project=PROJECT, executor=executor, client=client, **params)


@contextmanager
def fresh_home(work: Path, tag: str) -> Iterator[dy.Client]:
    home = work / tag
    try:
        with dy.connect(home=home) as client:
            client.projects.create(PROJECT)
            yield client
    finally:
        shutil.rmtree(home, ignore_errors=True)


def statuses(result: dy.PipelineResult) -> Counter[str]:
    return Counter(s.status for s in result.steps)


def check_all(result: dy.PipelineResult, status: str, count: int) -> str | None:
    found = statuses(result)
    if result.status != "succeeded" or found != Counter({status: count}):
        return f"run {result.status}, steps {dict(found)} (expected {count} {status})"
    return None


def check_fanout(result: dy.PipelineResult, items: int) -> str | None:
    if result.status != "succeeded":
        return f"run {result.status}, steps {dict(statuses(result))}"
    mapped = result.step("double")
    if mapped.items_total != items or mapped.items_status != "s" * items:
        found = Counter(mapped.items_status)
        return f"fan-out: {mapped.items_total} items, statuses {dict(found)}"
    got, expected = result.output("total"), items * (items - 1)
    return None if got == expected else f"sum {got}, expected {expected}"


def measure_once(row: Row, work: Path, tag: str, profile: Path | None = None) -> None:
    """One dockyard measurement of ``row`` on a new home (or a cProfile of it)."""
    ours = row.ours
    pipeline = fanout if row.workload == "fanout" else chain
    with fresh_home(work, tag) as client:
        if row.workload == "cached":  # the first run, untimed
            first = run_pipeline(pipeline, row.executor, client, **row.params)
            if problem := check_all(first, "succeeded", ours.size):
                ours.error = f"first run: {problem}"
                return
        profiler = cProfile.Profile() if profile else None
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = run_pipeline(pipeline, row.executor, client, **row.params)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
        if profiler and profile:
            profiler.dump_stats(profile)
            return
        if row.workload == "fanout":
            problem = check_fanout(result, ours.size)
        else:
            problem = check_all(
                result, "cached" if row.workload == "cached" else "succeeded", ours.size
            )
        if problem:
            ours.error = problem
        else:
            ours.times.append(seconds)


def warm_up(executors: set[str], work: Path) -> None:
    """Imports, the first pool start and first SQL statements, untimed."""
    for executor in sorted(executors):
        with fresh_home(work, f"warm-{executor}") as client:
            run_pipeline(chain, executor, client, steps=3)
            run_pipeline(fanout, executor, client, items=3)


# --- Prefect --------------------------------------------------------------------------------


def ensure_prefect() -> str | None:
    """Create .bench/prefect if missing; None when usable, else why not."""
    if PREFECT_PYTHON.exists():
        return None
    console.print(f"creating {PREFECT_VENV} ({PREFECT_SPEC}) ...", style="dim")
    steps = [
        ["python3.11", "-m", "venv", str(PREFECT_VENV)],
        [str(PREFECT_VENV / "bin" / "pip"), "install", "-q", PREFECT_SPEC],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            return f"{' '.join(argv)} failed: {done.stderr[-500:]}"
    return None


def run_prefect(args: list[str], work: Path, timeout: float) -> dict[str, Any]:
    """One measurement in Prefect's venv on a new PREFECT_HOME; its JSON result. Raises
    TimeoutError (after ending the whole process group, its API server too)."""
    home = Path(tempfile.mkdtemp(prefix="prefect-", dir=work))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "PREFECT_"))}
    env.pop("VIRTUAL_ENV", None)
    env |= PREFECT_ENV | {"PREFECT_HOME": str(home)}
    argv = [str(PREFECT_PYTHON), str(ROOT / "benchmarks" / "pipelines_prefect.py"), *args]
    log = home.with_suffix(".log")
    with log.open("w") as err:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=work,
            env=env,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TimeoutError(f"Prefect {' '.join(args)} not done in {timeout:.0f} s") from None
        finally:
            with_group_gone(proc.pid)
    shutil.rmtree(home, ignore_errors=True)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"Prefect {' '.join(args)} failed ({proc.returncode}):\n{tail}")
    log.unlink(missing_ok=True)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def with_group_gone(pgid: int) -> None:
    """End what is left of a Prefect measurement's process group (its API server)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    time.sleep(0.5)
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def prefect_args(workload: str, size: int, independent: bool, processes: bool) -> list[str]:
    if workload == "fanout":
        return ["fanout", "--items", str(size), *(["--processes"] if processes else [])]
    if workload == "cached":
        return ["cached", "--steps", str(size)]
    return ["chain", "--steps", str(size), *(["--independent"] if independent else [])]


def measure_prefect(
    peer: Side, args: Callable[[int], list[str]], expect: str, work: Path, timeout: float
) -> None:
    """One Prefect measurement; a time-out moves the rest of this side to a tenth of the size."""
    while True:
        try:
            result = run_prefect(args(peer.size), work, timeout)
            break
        except TimeoutError as exc:
            if peer.size < 100:
                peer.error = str(exc)
                return
            smaller = max(peer.size // 10, 1)
            peer.notes.append(f"{exc}; measured {smaller:,} instead")
            peer.times.clear()
            peer.size = smaller
        except RuntimeError as exc:
            peer.error = str(exc)
            return
    states = result["states"]
    if states != {expect: peer.size}:
        peer.error = f"Prefect task states {states} (expected {peer.size} {expect})"
    elif "sum" in result and result["sum"] != peer.size * (peer.size - 1):
        peer.error = f"Prefect sum {result['sum']}"
    else:
        peer.times.append(result["seconds"])
    PREFECT_VERSIONS.add(result["prefect"])


# --- the table ------------------------------------------------------------------------------


def rows_for(modes: list[str], sizes: Sizes) -> list[Row]:
    def per_step(limit_ms: float) -> Callable[[Side], bool]:
        return lambda side: side.per_unit_ms <= limit_ms

    def total_s(limit: float) -> Callable[[Side], bool]:
        return lambda side: side.median <= limit

    n, c, f = sizes.chain, sizes.cached, sizes.fanout
    rows: list[Row] = []
    if "chain" in modes:
        threads = Side("threads, wait_for", n)
        independent = Side("threads", n)
        rows += [
            Row("chain", "inprocess", Side("chain", n), threads, "<= 5 ms/step", per_step(5)),
            Row("chain", "process", Side("chain", n), threads),
            Row("independent", "inprocess", Side("independent", n), independent),
        ]
        rows[-1].params = {"steps": n, "independent": True}
        rows[-2].params = rows[-3].params = {"steps": n}
    if "cached" in modes:
        peer = Side("threads, cached", c)
        for executor in ("inprocess", "process"):
            row = Row("cached", executor, Side("cached", c), peer, "<= 1 s", total_s(1.0))
            row.params = {"steps": c}
            rows.append(row)
    if "fanout" in modes:
        pool = Side("process pool", sizes.prefect_process_items)
        threads = Side("threads", f)
        for executor, peer in (("process", pool), ("inprocess", threads)):
            row = Row("fanout", executor, Side("fanout", f), peer, "<= 30 s", total_s(30.0))
            row.params = {"items": f}
            rows.append(row)
    return rows


def fmt(value: float, spec: str) -> str:
    return "" if value != value else format(value, spec)  # NaN: blank


def show(rows: list[Row], repeat: int) -> bool:
    table = Table(title=f"pipelines: medians over {repeat} repetition(s)")
    columns = (
        "workload",
        "executor",
        "steps/items",
        "dockyard s",
        "runs (s)",
        "ms per step/item",
        "Prefect",
        "Prefect size",
        "Prefect s",
        "Prefect ms per",
        "Prefect / dockyard",
        "target",
        "result",
    )
    left = ("workload", "executor", "Prefect", "target", "result")
    for column in columns:
        table.add_column(column, justify="left" if column in left else "right")
    ok = True
    for row in rows:
        ours, peer = row.ours, row.peer
        passed = row.passed
        ok &= passed is not False
        ratio = float("nan")
        if peer and peer.times and ours.times and not peer.error and not ours.error:
            ratio = peer.per_unit_ms / ours.per_unit_ms
        result = "info" if passed is None else "[green]PASS[/]" if passed else "[red]FAIL[/]"
        table.add_row(
            row.workload,
            row.executor,
            f"{ours.size:,}",
            "ERROR" if ours.error else fmt(ours.median, ".2f"),
            " ".join(f"{t:.2f}" for t in ours.times),
            fmt(ours.per_unit_ms, ".2f"),
            peer.name if peer else "",
            f"{peer.size:,}" if peer else "",
            ("ERROR" if peer.error else fmt(peer.median, ".2f")) if peer else "",
            fmt(peer.per_unit_ms, ".2f") if peer else "",
            fmt(ratio, ".1f") + ("x" if ratio == ratio else ""),
            row.target,
            result,
        )
    console.print(table)
    console.print(
        "chain: no-op steps each waiting for the previous; independent: no dependencies; "
        "cached: the second run of an unchanged chain; fanout: step.map over the "
        "items, then a sum. ms per step/item = median / size; Prefect / dockyard = Prefect's "
        "ms per step/item over dockyard's (> 1: dockyard faster). Prefect's ThreadPoolTaskRunner "
        "is set beside dockyard in-process, its ProcessPoolTaskRunner beside dockyard's "
        "process pool. Prefect records task runs through events its API server writes "
        "asynchronously, so its time ends before everything is stored; dockyard's ends with "
        "every step recorded."
    )
    seen: set[int] = set()
    for row in rows:
        ours = (row.ours, f"dockyard {row.workload} {row.executor}")
        peer = (row.peer, f"Prefect {row.workload} ({row.peer.name})" if row.peer else "")
        for side, who in (ours, peer):
            if side is None or id(side) in seen:
                continue
            seen.add(id(side))
            if side.error:
                console.print(f"[red]{who}[/]: {side.error}", highlight=False)
            for note in side.notes:
                console.print(f"  {who}: {note}", style="dim", highlight=False)
    if PREFECT_VERSIONS:
        console.print(f"Prefect {', '.join(sorted(PREFECT_VERSIONS))}", style="dim")
    return ok


def profile(rows: list[Row], work: Path) -> None:
    """cProfile of one dy.run of each row that missed its target: the top costs."""
    folder = DATA / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(r for r in rows if r.passed is False):
        path = folder / f"pipelines-{row.workload}-{row.executor}.prof"
        console.print(f"\nprofile of dockyard {row.workload} on {row.executor} ({path}):")
        measure_once(row, work, f"profile-{i}", profile=path)
        stats = pstats.Stats(str(path))
        total = stats.total_tt  # type: ignore[attr-defined]
        for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
            console.print(f"  top 20 by {title} (of {total:.2f} s profiled):", style="bold")
            entries = sorted(
                stats.stats.items(),  # type: ignore[attr-defined]
                key=lambda kv: kv[1][2] if key == "tottime" else kv[1][3],
                reverse=True,
            )
            for (filename, line, name), (_, calls, own, cumulative, _) in entries[:20]:
                where = filename.replace(str(ROOT) + "/", "").replace(sys.prefix + "/", "")
                text = f"{own:8.3f} {cumulative:8.3f} {calls:>9}  {where}:{line} {name}"
                console.print(f"    {text}", highlight=False, markup=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modes", nargs="*", help="chain, cached, fanout (default: all)")
    parser.add_argument("--repeat", type=int, help="repetitions (3; --smoke: 1)")
    parser.add_argument("--smoke", action="store_true", help="small sizes, 1 repetition")
    parser.add_argument("--prefect-timeout", type=float, default=600.0, help="s per measurement")
    parser.add_argument("--no-prefect", action="store_true", help="dockyard only")
    parser.add_argument("--profile", action="store_true", help="cProfile rows that missed")
    args = parser.parse_args()
    modes = args.modes or list(MODES)
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}: choose from {MODES}")
    sizes = SMOKE if args.smoke else FULL
    repeat = args.repeat or 1 if args.smoke else args.repeat or 3
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    for var in [v for v in os.environ if v.startswith("DOCKYARD_")]:
        del os.environ[var]  # the benchmark picks its own homes
    DATA.mkdir(parents=True, exist_ok=True)
    console.print(f"pipelines: {code_version()}", style="dim")
    if not registry_present():
        console.print(
            "dockyard.compute.registry is missing in this checkout: the process pool is made "
            "by the benchmark (ProcessExecutor(), closed after the run) and passed to dy.run",
            style="yellow",
        )
    rows = rows_for(modes, sizes)
    peer_problem = "skipped (--no-prefect)" if args.no_prefect else ensure_prefect()
    work = Path(tempfile.mkdtemp(prefix="pipelines-", dir=DATA))
    try:
        warm_up({row.executor for row in rows}, work)
        peers = list({id(r.peer): r for r in rows if r.peer}.values())
        for i in range(repeat):
            for j, row in enumerate(rows):
                if not row.ours.error:
                    began = time.perf_counter()
                    measure_once(row, work, f"r{i}-{j}")
                    console.print(
                        f"  dockyard {row.workload} {row.executor}: "
                        f"{time.perf_counter() - began:.1f} s",
                        style="dim",
                    )
            for row in peers:
                peer = row.peer
                assert peer is not None
                if peer_problem:
                    peer.error = peer_problem
                    continue
                if peer.error:
                    continue
                independent = bool(row.params.get("independent"))
                processes = row.workload == "fanout" and row.executor == "process"
                expect = "Cached" if row.workload == "cached" else "Completed"

                def argv(
                    size: int, row: Row = row, a: bool = independent, p: bool = processes
                ) -> list[str]:
                    return prefect_args(row.workload, size, a, p)

                began = time.perf_counter()
                measure_prefect(peer, argv, expect, work, args.prefect_timeout)
                console.print(
                    f"  {peer.name} ({peer.size:,}): {time.perf_counter() - began:.1f} s "
                    "with its set-up",
                    style="dim",
                )
            console.print(f"repetition {i + 1}/{repeat} done", style="dim")
        ok = show(rows, repeat)
        if args.profile:
            profile(rows, work)
        elif not ok:
            console.print("a target was missed: --profile shows where the time goes")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        console.print(f"pipelines: {code_version()} at the end", style="dim")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
