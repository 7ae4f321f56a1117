"""The data of the tracking benchmarks, shared by dockyard's side and MLflow's.

Standard library only: `tracking_mlflow.py` imports it from the MLflow venv, `tracking.py`
from the project's. Both sides seed the very same runs (same seed), so the top 100 of the
search must come out identical on every backend. The concurrency mode's writer processes
start together through :func:`start_together` and :func:`wait_for_go` on both sides.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The search of the benchmark plan: filter on a param and a metric, sort by a metric, top 100.
QUERY = "params.p3 = 'v1' AND metrics.m1 > 0.5"
ORDER_BY = "metrics.m2 DESC"
MLFLOW_FILTER = "params.p3 = 'v1' and metrics.m1 > 0.5"
TOP = 100

PARAMS = 20
METRICS = 10
EXPERIMENTS = 10
USERS = ("alice", "bob", "carol", "dan", "erin")
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z; runs start every 60 s from here
STEPS_PER_RUN = 1000  # what the seeded metric summaries claim (count, last step)


def param_choices() -> list[list[str]]:
    """The values each param p0..p19 takes: strings, floats or ints, 2 to 12 of each.

    p3 is 'v0'..'v4', so ``params.p3 = 'v1'`` keeps a fifth of the runs.
    """
    choices: list[list[str]] = []
    for i in range(PARAMS):
        size = 2 + (i * 7) % 11
        if i == 3:
            choices.append([f"v{j}" for j in range(5)])
        elif i % 3 == 0:  # categorical: optimizer, model family, ...
            choices.append([f"v{j}" for j in range(size)])
        elif i % 3 == 1:  # learning-rate-like floats
            choices.append([repr(round(10 ** (-4 + j * 3 / size), 6)) for j in range(size)])
        else:  # sizes: batch, width, depth
            choices.append([str(2 ** (3 + j)) for j in range(size)])
    return choices


@dataclass(frozen=True)
class SeedRun:
    """One run to seed: names, times (ms since the epoch), params and metric summaries."""

    index: int
    name: str
    experiment: int
    user: str
    status: str  # "finished" or "failed"
    start_ms: int
    end_ms: int
    params: list[tuple[str, str]]
    metrics: list[tuple[str, float, float, float]]  # key, last, min, max
    tags: list[tuple[str, str]] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    """The points (steps 0, 1, ...) of some of the metrics, whose summaries they then make;
    a metric without them only has a summary claiming STEPS_PER_RUN points."""


def seed_runs(count: int, seed: int = 7) -> Iterator[SeedRun]:
    """``count`` runs with params p0..p19 drawn from :func:`param_choices` and metrics
    m0..m9 whose last value is uniform in [0, 1] (min <= last <= max)."""
    rng = random.Random(seed)
    choices = param_choices()
    for i in range(count):
        start = START_MS + i * 60_000
        params = [(f"p{k}", rng.choice(values)) for k, values in enumerate(choices)]
        metrics = []
        for k in range(METRICS):
            last = rng.random()
            metrics.append((f"m{k}", last, last * rng.random(), last + (1 - last) * rng.random()))
        yield SeedRun(
            index=i,
            name=f"run-{i:06d}",
            experiment=i % EXPERIMENTS,
            user=USERS[i % len(USERS)],
            status="failed" if rng.random() < 0.05 else "finished",
            start_ms=start,
            end_ms=start + rng.randint(10_000, 3_600_000),
            params=params,
            metrics=metrics,
        )


def expected_top(count: int, seed: int = 7) -> list[str]:
    """Names of the runs the search must return, best first (computed in Python)."""
    hits = [
        (run.metrics[2][1], run.name)
        for run in seed_runs(count, seed)
        if run.params[3][1] == "v1" and run.metrics[1][1] > 0.5
    ]
    return [name for _, name in sorted(hits, reverse=True)[:TOP]]


def history_point(step: int, rng: random.Random) -> float:
    """A loss-like curve with noise and an occasional spike, at ``step``."""
    spike = 5.0 if rng.random() < 1e-4 else 0.0
    return math.exp(-step / 200_000) + 0.05 * rng.random() + spike


# --- concurrency: writer processes that start at once ---------------------------------------


def wait_for_go() -> float:
    """In a writer: say "ready" on stdout, block until the parent says go on stdin; returns
    the wall-clock time (``time.time()``) at which it went."""
    print("ready", flush=True)
    sys.stdin.readline()
    return time.time()


def report(result: Mapping[str, Any]) -> None:
    """In a writer: its result, the last line of its stdout."""
    print(json.dumps(dict(result)), flush=True)


def start_together(
    argvs: list[list[str]], *, env: Mapping[str, str], cwd: Path, timeout: float
) -> tuple[float, list[dict[str, Any]]]:
    """Start one writer per argv; once every one is ready (imports done), tell them all to
    go. Returns the go time (``time.time()``) and, per writer, its exit code, its JSON result
    (None if it printed none) and the end of its stderr (kept in ``cwd/writer-<i>.err``)."""
    procs = []
    for i, argv in enumerate(argvs):
        with open(cwd / f"writer-{i}.err", "wb") as err:
            procs.append(
                subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    cwd=cwd,
                    env=dict(env),
                    text=True,
                )
            )
    for proc in procs:
        assert proc.stdout is not None
        proc.stdout.readline()  # "ready", or "" if it died importing
    go = time.time()
    for proc in procs:
        assert proc.stdin is not None
        try:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        except BrokenPipeError:
            pass
    deadline = time.monotonic() + timeout
    outcomes = []
    for i, proc in enumerate(procs):
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            timed_out = True
        lines = [line for line in out.splitlines() if line.startswith("{")]
        result = json.loads(lines[-1]) if lines else None
        stderr = (cwd / f"writer-{i}.err").read_text(errors="replace").strip()
        if timed_out:
            stderr = f"killed after {timeout:.0f} s\n{stderr}"
        outcomes.append({"rc": proc.returncode, "result": result, "stderr": stderr[-2000:]})
    return go, outcomes
