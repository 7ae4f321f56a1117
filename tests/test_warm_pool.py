"""The process pool's warm workers: started ahead with modules preloaded, handed from one
executor to the next in a process, never after running any work. Where a zygote forks the
workers (Linux, see test_pool_zygote.py), none are kept: these tests turn it off."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import dockyard as dy
from dockyard.client.client import Client
from dockyard.compute import pool
from dockyard.compute.pool import ProcessExecutor
from dockyard.compute.zygote import _ZYGOTES, _kill


def _pid() -> int:
    return os.getpid()


def _loaded(module: str) -> bool:
    return module in sys.modules


@pytest.fixture
def preload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ...]]:
    """A module of this test's own to preload (so no other test's warm workers match)."""
    name = f"preloaded_{os.getpid()}_{tmp_path.name}".replace("-", "_")
    (tmp_path / f"{name}.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield (name,)
    _ZYGOTES.discard((name,))
    while (worker := pool._WARM.take((name,))) is not None:
        _kill([worker.process], grace=0.2)
        worker.close()


def test_workers_import_the_preload_before_any_work(preload: tuple[str, ...]) -> None:
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        assert executor.submit(lambda: _loaded(preload[0])).result(timeout=60)
    with ProcessExecutor(max_workers=1) as executor:
        assert not executor.submit(lambda: _loaded(preload[0])).result(timeout=60)


@pytest.fixture
def no_zygote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers are fresh interpreters, as where forking is not safe (macOS, Windows)."""
    monkeypatch.setattr(_ZYGOTES, "enabled", False)


@pytest.mark.usefixtures("no_zygote")
def test_a_warm_executor_leaves_fresh_workers_that_the_next_one_takes(
    preload: tuple[str, ...],
) -> None:
    with ProcessExecutor(max_workers=2, preload=preload, keep_warm=True) as first:
        used = first.submit(_pid).result(timeout=60)
    # it leaves as many fresh workers as it started (one), never the one that ran work
    waiting = pool._WARM.take(preload)
    assert waiting is not None and waiting.alive
    assert waiting.process.pid != used
    assert pool._WARM.take(preload) is None
    pool._WARM._waiting[preload].append(waiting)  # put back for the next executor
    with ProcessExecutor(max_workers=1, preload=preload, keep_warm=True) as second:
        assert second.submit(_pid).result(timeout=60) == waiting.process.pid


@pytest.mark.usefixtures("no_zygote")
def test_without_keep_warm_nothing_is_left_behind(preload: tuple[str, ...]) -> None:
    with ProcessExecutor(max_workers=2, preload=preload) as executor:
        executor.submit(_pid).result(timeout=60)
    assert pool._WARM.take(preload) is None


@pytest.mark.usefixtures("no_zygote")
def test_a_dead_warm_worker_is_replaced(preload: tuple[str, ...]) -> None:
    pool._WARM.refill(preload, 1)
    waiting = pool._WARM.take(preload)
    assert waiting is not None
    _kill([waiting.process], grace=0.2)
    pool._WARM._waiting[preload].append(waiting)  # dead, still listed
    with ProcessExecutor(max_workers=1, preload=preload, keep_warm=True) as executor:
        pid = executor.submit(_pid).result(timeout=60)
    assert pid != waiting.process.pid
    waiting.close()


@dy.step
def whose(i: int) -> int:
    return os.getpid()


@dy.pipeline
def two(i: int = 0) -> None:
    whose(i)


def test_consecutive_pipeline_runs_never_share_a_worker(tmp_path: Path) -> None:
    pids = []
    for i in range(3):
        with dy.connect(home=tmp_path / f"home{i}") as client:
            assert isinstance(client, Client)
            client.projects.create("p")
            result = dy.run(two, project="p", client=client, i=i)
            assert result.status == "succeeded"
            pids.append(result.output("whose"))
    assert len(set(pids)) == 3 and os.getpid() not in pids
