"""The data of the tracking benchmarks, shared by dockyard's side and MLflow's.

Standard library only: `tracking_mlflow.py` imports it from the MLflow venv, `tracking.py`
from the project's. Both sides seed the very same runs (same seed), so the top 100 of the
search must come out identical on every backend.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

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
