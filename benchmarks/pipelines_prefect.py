"""The Prefect 3 side of benchmarks/pipelines.py; runs in Prefect's venv, prints one JSON line.

    .bench/prefect/bin/python benchmarks/pipelines_prefect.py chain --steps 1000 [--independent]
    .bench/prefect/bin/python benchmarks/pipelines_prefect.py cached --steps 100
    .bench/prefect/bin/python benchmarks/pipelines_prefect.py fanout --items 10000 [--processes]

Each invocation is one measurement on a fresh ``PREFECT_HOME`` (set by the caller) with
Prefect's ephemeral API server (a local subprocess on SQLite, started by the first flow run):
one small warm-up flow starts the server and imports everything (untimed), then the timed
flow call. chain: ``--steps`` no-op tasks, each submitted with ``wait_for=[previous]`` (or
with no dependencies: ``--independent``), on the default ThreadPoolTaskRunner. cached: the
same chain of tasks with ``cache_policy=INPUTS + TASK_SOURCE`` and ``persist_result=True``,
run once, then the timed second run (every task must come back Cached). fanout:
``double.map(range(items))`` and a task summing the list, on the default ThreadPoolTaskRunner
or ``ProcessPoolTaskRunner`` (``--processes``). Not part of dockyard; no dockyard imports.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from typing import Any

import prefect
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.futures import PrefectFuture, wait
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner


@task
def noop(i: int) -> int:
    return i


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def cached_noop(i: int) -> int:
    return i


@task
def double(i: int) -> int:
    return i * 2


@task
def total(values: list[int]) -> int:
    return sum(values)


def states(futures: list[PrefectFuture[Any]]) -> dict[str, int]:
    wait(futures)
    return dict(Counter(f.state.name for f in futures))


@flow
def chain(steps: int, independent: bool = False, cached: bool = False) -> dict[str, int]:
    step = cached_noop if cached else noop
    futures: list[PrefectFuture[Any]] = []
    for i in range(steps):
        after = [futures[-1]] if futures and not independent else []
        futures.append(step.submit(i, wait_for=after))
    return states(futures)


@flow
def fanout(items: int) -> dict[str, Any]:
    doubled = double.map(range(items))
    summed = total.submit(doubled)
    return {"states": states(list(doubled)), "sum": summed.result()}


@flow
def warm_up() -> int:
    return noop.submit(1).result() + total([1, 2])


def timed(fn: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(**kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("chain")
    c.add_argument("--steps", type=int, required=True)
    c.add_argument("--independent", action="store_true")
    k = sub.add_parser("cached")
    k.add_argument("--steps", type=int, required=True)
    f = sub.add_parser("fanout")
    f.add_argument("--items", type=int, required=True)
    f.add_argument("--processes", action="store_true", help="ProcessPoolTaskRunner")
    args = parser.parse_args()

    began = time.perf_counter()
    warm_up()
    result: dict[str, Any] = {"setup_seconds": time.perf_counter() - began}
    if args.mode == "chain":
        seconds, found = timed(chain, steps=args.steps, independent=args.independent)
        result |= {"seconds": seconds, "states": found, "size": args.steps}
    elif args.mode == "cached":
        first, found = timed(chain, steps=args.steps, cached=True)
        result |= {"first_seconds": first, "first_states": found}
        seconds, found = timed(chain, steps=args.steps, cached=True)
        result |= {"seconds": seconds, "states": found, "size": args.steps}
    else:
        runner = ProcessPoolTaskRunner() if args.processes else ThreadPoolTaskRunner()
        run = fanout.with_options(task_runner=runner)
        seconds, found = timed(run, items=args.items)
        result |= {"seconds": seconds, "size": args.items, **found}
        result["runner"] = type(runner).__name__
    result["prefect"] = prefect.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
