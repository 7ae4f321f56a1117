"""One conformance suite for every executor: in-process, the local process pool and Ray.

Ray runs for real: a local Ray with 2 CPUs, started once per test session. Outside CI a Ray
that cannot start skips its tests; in CI (CI=true) it fails them.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.compute.executor import Executor, Resources, WorkerLost, WorkTimedOut
from dockyard.compute.inprocess import InProcessExecutor
from dockyard.compute.pool import ProcessExecutor, RemoteTraceback
from dockyard.compute.registry import open_executor
from dockyard.core.errors import DockyardError, InvalidInput, Unavailable

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# What each executor can promise, beyond the common contract.
ISOLATES_CRASHES = {"process", "ray"}  # a dying worker fails only its own work
CHECKS_CAPACITY = {"process", "ray"}  # work larger than the whole executor is refused
PICKLES_ERRORS = {"process", "ray"}  # exceptions cross a process boundary


@pytest.fixture(params=["inprocess", "process", "ray"])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    options: dict[str, Any] = {}
    if request.param == "ray":
        request.getfixturevalue("local_ray")
    elif request.param == "process":
        options = {"max_workers": 3, "cpus": 2}  # CPUs, not workers, limit what runs
    built = open_executor(request.param, **options)
    yield built
    built.close()


class StepFailed(Exception):
    """An exception class of the caller's own, pickled by reference."""


class NeedsTwoArgs(Exception):
    """Pickles, but does not unpickle: its __init__ needs two arguments."""

    def __init__(self, step: str, code: int) -> None:
        super().__init__(f"{step} failed with {code}")


def _square(number: int) -> int:
    return number * number


def _interval(seconds: float) -> tuple[float, float]:
    started = time.time()
    time.sleep(seconds)
    return started, time.time()


def _raise(exc: Exception) -> None:
    raise exc


def _fail_in_training() -> None:
    raise NeedsTwoArgs("train", 7)


def _crash() -> None:
    os._exit(3)


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    return max(sum(1 for s, e in intervals if s <= start < e) for start, _ in intervals)


# ---------------------------------------------------------------- the conformance suite


def test_returns_the_value(executor: Executor) -> None:
    assert executor.submit(functools.partial(_square, 12), label="square").result() == 144


def test_runs_lambdas_and_closures(executor: Executor) -> None:
    base = 41
    seen = ["a", "b"]

    def joined() -> str:
        return "-".join(seen) + str(base)

    assert executor.submit(lambda: base + 1).result(timeout=30) == 42
    assert executor.submit(joined).result(timeout=30) == "a-b41"


@pytest.mark.parametrize("error", [ValueError("bad input 42"), StepFailed("step 3 broke")])
def test_an_exception_keeps_its_type_and_message(executor: Executor, error: Exception) -> None:
    future = executor.submit(functools.partial(_raise, error), label="failing")
    with pytest.raises(type(error), match=str(error)) as info:
        future.result(timeout=30)
    if executor.name in PICKLES_ERRORS:
        assert isinstance(info.value.__cause__, RemoteTraceback)
        assert "_raise" in str(info.value.__cause__)


def test_an_exception_that_does_not_unpickle_is_described(executor: Executor) -> None:
    future = executor.submit(_fail_in_training)
    if executor.name not in PICKLES_ERRORS:
        with pytest.raises(NeedsTwoArgs):
            future.result()
        return
    with pytest.raises(DockyardError, match="NeedsTwoArgs: train failed with 7") as info:
        future.result(timeout=30)
    assert info.value.details["type"].endswith("NeedsTwoArgs")
    assert "_fail_in_training" in info.value.details["traceback"]


def test_work_past_its_timeout_times_out(executor: Executor) -> None:
    # in-process work cannot be stopped: it is reported late once it returns
    seconds = 0.2 if executor.name == "inprocess" else 60
    future = executor.submit(functools.partial(time.sleep, seconds), timeout=0.1, label="nap")
    with pytest.raises(WorkTimedOut, match="nap") as info:
        future.result(timeout=30)
    assert "0.1" in str(info.value)
    assert executor.submit(functools.partial(_square, 3)).result(timeout=30) == 9


def test_a_dead_worker_fails_only_its_work(executor: Executor) -> None:
    if executor.name not in ISOLATES_CRASHES:
        pytest.skip(f"{executor.name} runs work in the caller's process")
    bystander = executor.submit(functools.partial(_interval, 0.3), label="bystander")
    crashed = executor.submit(_crash, label="crasher")
    with pytest.raises(WorkerLost, match="crasher") as info:
        crashed.result(timeout=30)
    if executor.name == "process":
        assert "exit code 3" in str(info.value)
    started, ended = bystander.result(timeout=30)
    assert ended > started
    assert executor.submit(functools.partial(_square, 5)).result(timeout=30) == 25


def test_no_more_runs_at_once_than_the_cpus_allow(executor: Executor) -> None:
    # every executor here has 2 CPUs (in-process runs one thing at a time anyway)
    futures = [
        executor.submit(functools.partial(_interval, 0.5), resources=Resources(cpu=1))
        for _ in range(3)
    ]
    intervals = [future.result(timeout=30) for future in futures]
    assert _most_at_once(intervals) <= 2


@pytest.mark.parametrize(
    ("resources", "named"), [(Resources(cpu=64), "CPU"), (Resources(memory="1000TiB"), "memory")]
)
def test_work_larger_than_the_executor_is_refused(
    executor: Executor, resources: Resources, named: str
) -> None:
    if executor.name not in CHECKS_CAPACITY:
        pytest.skip(f"{executor.name} does not count resources")
    with pytest.raises(InvalidInput, match=named):
        executor.submit(functools.partial(_square, 2), resources=resources, label="huge")


def test_many_small_tasks_all_complete(executor: Executor) -> None:
    futures = [executor.submit(functools.partial(_square, n)) for n in range(200)]
    assert [future.result(timeout=60) for future in futures] == [n * n for n in range(200)]


def test_close_is_idempotent(executor: Executor) -> None:
    assert executor.submit(functools.partial(_square, 2)).result(timeout=30) == 4
    executor.close()
    executor.close()


# ---------------------------------------------------------------- the process executor


def test_process_work_sees_the_callers_environment_and_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with ProcessExecutor(max_workers=1) as pool:
        assert pool.submit(lambda: 1).result(timeout=30) == 1  # the worker is warm now
        monkeypatch.setenv("DOCKYARD_EXECUTOR_TEST", "yes")
        monkeypatch.chdir(tmp_path)
        seen = pool.submit(lambda: (os.environ.get("DOCKYARD_EXECUTOR_TEST"), str(Path.cwd())))
        assert seen.result(timeout=30) == ("yes", str(tmp_path))


def test_process_refuses_work_that_does_not_pickle() -> None:
    lock = threading.Lock()
    with ProcessExecutor(max_workers=1) as pool, pytest.raises(InvalidInput, match="pickled"):
        pool.submit(lambda: lock.locked(), label="locked")


def test_process_close_cancels_waiting_work_and_refuses_more() -> None:
    pool = ProcessExecutor(max_workers=1, cpus=1)
    running = pool.submit(functools.partial(time.sleep, 60))
    waiting = pool.submit(functools.partial(_square, 2))
    while not running.running():  # taken by a worker: close() cannot just cancel it
        time.sleep(0.01)
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 10
    assert waiting.cancelled()
    with pytest.raises(WorkerLost, match="closed"):
        running.result(timeout=10)
    with pytest.raises(Unavailable):
        pool.submit(functools.partial(_square, 2))


# ---------------------------------------------------------------- choosing an executor


def test_open_executor_by_name() -> None:
    default = open_executor(None)
    try:
        assert isinstance(default, ProcessExecutor)
    finally:
        default.close()
    chosen = InProcessExecutor()
    assert open_executor(chosen) is chosen
    assert isinstance(open_executor("inprocess"), InProcessExecutor)


def test_open_executor_lists_the_known_names() -> None:
    with pytest.raises(InvalidInput, match=r"unknown executor 'slurm'.*inprocess, process, ray"):
        open_executor("slurm")
