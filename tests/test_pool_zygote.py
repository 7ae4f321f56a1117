"""The process pool's zygote: on Linux, fresh workers are forked by a helper process that
imported ``preload`` once and never runs work, instead of each starting an interpreter."""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dockyard.compute import pool
from dockyard.compute.executor import WorkerLost, WorkTimedOut
from dockyard.compute.pool import ProcessExecutor
from dockyard.compute.zygote import _ZYGOTES, _kill

pytestmark = pytest.mark.skipif(
    not _ZYGOTES.enabled, reason="the zygote forks workers on Linux only"
)

SRC = str(Path(pool.__file__).resolve().parents[2])


def _ids() -> tuple[int, int, int]:
    return os.getpid(), os.getppid(), os.getsid(0)


def _value(module: str) -> int:
    return int(importlib.import_module(module).VALUE)


def _bump(module: str) -> int:
    loaded = importlib.import_module(module)
    loaded.VALUE += 100
    return int(loaded.VALUE)


def _nap_after_noting_pids(path: str, seconds: float) -> None:
    child = subprocess.Popen(["sleep", str(seconds)])  # the work's own process
    Path(path).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(seconds)


def _die(sig: int) -> None:
    os.kill(os.getpid(), sig)


def _exit_code(code: int) -> None:
    os._exit(code)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pids: list[int], seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(_gone(pid) for pid in pids):
            return []
        time.sleep(0.05)
    return [pid for pid in pids if not _gone(pid)]


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "modules"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def preload(module_dir: Path, tmp_path: Path) -> Iterator[tuple[str, ...]]:
    """A module of this test's own to preload (so this test has a zygote of its own)."""
    name = f"zygote_preload_{os.getpid()}_{tmp_path.name}".replace("-", "_")
    (module_dir / f"{name}.py").write_text("VALUE = 1\n")
    yield (name,)
    _ZYGOTES.discard((name,))


def _zygote_pid(preload: tuple[str, ...]) -> int:
    return _ZYGOTES._zygotes[preload].process.pid


def test_workers_are_forked_by_the_zygote(preload: tuple[str, ...]) -> None:
    with ProcessExecutor(max_workers=2, preload=preload) as executor:
        first = [executor.submit(_ids).result(timeout=60) for _ in range(2)]
        loaded = executor.submit(functools.partial(_value, preload[0])).result(timeout=60)
    zygote = _zygote_pid(preload)
    assert zygote != os.getpid()
    assert psutil.Process(zygote).ppid() == os.getpid()
    for pid, parent, session in first:
        assert parent == zygote  # forked by the zygote, never by this process
        assert session == pid  # a session of its own, as a fresh worker's
    assert loaded == 1
    # the next executor forks new workers from the same zygote
    with ProcessExecutor(max_workers=1, preload=preload, keep_warm=True) as executor:
        pid, parent, _ = executor.submit(_ids).result(timeout=60)
    assert parent == zygote and pid not in {p for p, _, _ in first}
    assert _ZYGOTES.serves(preload)
    assert pool._WARM.take(preload) is None  # nothing kept warm: forking is cheap


def test_a_worker_sees_a_module_edited_since(
    preload: tuple[str, ...], module_dir: Path, tmp_path: Path
) -> None:
    name = f"user_pipeline_{tmp_path.name}".replace("-", "_")
    source = module_dir / f"{name}.py"
    source.write_text("VALUE = 1\n\ndef value():\n    return VALUE\n")
    user = importlib.import_module(name)  # the caller's copy: pickled by reference
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        assert executor.submit(user.value).result(timeout=60) == 1
    source.write_text("VALUE = 222\n\ndef value():\n    return VALUE\n")
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        assert executor.submit(user.value).result(timeout=60) == 222
        assert executor.submit(_ids).result(timeout=60)[1] == _zygote_pid(preload)
    sys.modules.pop(name, None)


def test_an_edited_preload_module_gets_a_new_zygote(
    preload: tuple[str, ...], module_dir: Path
) -> None:
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        assert executor.submit(functools.partial(_value, preload[0])).result(timeout=60) == 1
    old = _zygote_pid(preload)
    (module_dir / f"{preload[0]}.py").write_text("VALUE = 333\n")
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        value = executor.submit(functools.partial(_value, preload[0])).result(timeout=60)
        parent = executor.submit(_ids).result(timeout=60)[1]
    assert value == 333
    assert parent == _zygote_pid(preload) != old
    assert _wait_gone([old]) == []  # retired: it exits once its workers have


def test_globals_a_run_changed_are_not_seen_by_the_next(preload: tuple[str, ...]) -> None:
    bump = functools.partial(_bump, preload[0])
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        assert executor.submit(bump).result(timeout=60) == 101
        assert executor.submit(bump).result(timeout=60) == 201  # same worker, same run
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        assert executor.submit(bump).result(timeout=60) == 101


def test_a_timed_out_work_stops_only_its_worker(preload: tuple[str, ...], tmp_path: Path) -> None:
    noted = tmp_path / "pid"
    with ProcessExecutor(max_workers=2, preload=preload) as executor:
        bystander = executor.submit(functools.partial(time.sleep, 1.0))
        # the timeout counts from submit: long enough for the work to start (and note its
        # pids) on a loaded machine, far shorter than its nap
        slow = executor.submit(
            functools.partial(_nap_after_noting_pids, str(noted), 120), timeout=10.0, label="nap"
        )
        with pytest.raises(WorkTimedOut, match="nap"):
            slow.result(timeout=60)
        assert bystander.result(timeout=30) is None
        # its worker is stopped, with the process its work started
        assert _wait_gone([int(pid) for pid in noted.read_text().split()]) == []
        assert psutil.pid_exists(_zygote_pid(preload))
        assert executor.submit(_ids).result(timeout=30)[1] == _zygote_pid(preload)


@pytest.mark.parametrize(
    ("work", "described"),
    [
        (functools.partial(_exit_code, 3), "exit code 3"),
        (functools.partial(_die, signal.SIGKILL), "killed by SIGKILL"),
        (functools.partial(_die, signal.SIGSEGV), "killed by SIGSEGV"),
    ],
)
def test_a_dead_worker_gives_worker_lost(
    preload: tuple[str, ...], work: functools.partial[None], described: str
) -> None:
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        with pytest.raises(WorkerLost, match=described):
            executor.submit(work, label="crasher").result(timeout=30)
        assert executor.submit(_ids).result(timeout=30)[1] == _zygote_pid(preload)


def test_the_zygote_reaps_the_workers_it_forked(preload: tuple[str, ...]) -> None:
    with ProcessExecutor(max_workers=2, preload=preload) as executor:
        pids = [executor.submit(_ids).result(timeout=60)[0] for _ in range(4)]
        with pytest.raises(WorkerLost):
            executor.submit(functools.partial(_exit_code, 5)).result(timeout=30)
    zygote = psutil.Process(_zygote_pid(preload))
    assert _wait_gone(pids) == []
    deadline = time.monotonic() + 10
    while zygote.children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert zygote.children() == []  # no zombie left: each was reaped
    assert zygote.num_fds() < 10  # nor any worker's pipe or pidfd held


def test_a_zygote_that_died_is_replaced(preload: tuple[str, ...], tmp_path: Path) -> None:
    noted = tmp_path / "pid"
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        nap = functools.partial(_nap_after_noting_pids, str(noted), 60)
        running = executor.submit(nap, label="sleeper")
        deadline = time.monotonic() + 60
        while not noted.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        old = _zygote_pid(preload)
        os.kill(old, signal.SIGKILL)
        # its workers die with it (PR_SET_PDEATHSIG): the work fails as on any lost worker
        with pytest.raises(WorkerLost, match="sleeper"):
            running.result(timeout=30)
        assert executor.submit(_ids).result(timeout=60)[1] == _zygote_pid(preload) != old
    with contextlib.suppress(OSError):  # the work's own process outlives a lost worker
        os.kill(int(noted.read_text().split()[1]), signal.SIGKILL)


def test_a_zygote_running_a_thread_refuses_and_workers_start_fresh(
    module_dir: Path, tmp_path: Path
) -> None:
    name = f"threaded_preload_{tmp_path.name}".replace("-", "_")
    (module_dir / f"{name}.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    )
    preload = (name,)
    try:
        with ProcessExecutor(max_workers=2, preload=preload, keep_warm=True) as executor:
            seen = [executor.submit(_ids).result(timeout=60) for _ in range(3)]
        assert all(parent == os.getpid() for _, parent, _ in seen)  # fresh interpreters
        assert preload in _ZYGOTES._refused
        assert not _ZYGOTES.serves(preload)
        warm = pool._WARM.take(preload)  # the fallback keeps fresh workers warm, as before
        assert warm is not None
        _kill([warm.process], grace=0.2)
        warm.close()
    finally:
        _ZYGOTES.discard(preload)
        while (worker := pool._WARM.take(preload)) is not None:
            _kill([worker.process], grace=0.2)
            worker.close()


def test_without_the_zygote_workers_start_fresh(
    preload: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ZYGOTES, "enabled", False)
    with ProcessExecutor(max_workers=1, preload=preload) as executor:
        assert executor.submit(_ids).result(timeout=60)[1] == os.getpid()
        assert executor.submit(functools.partial(_value, preload[0])).result(timeout=60) == 1
    assert preload not in _ZYGOTES._zygotes


ORPHAN = textwrap.dedent(
    """
    import json, os, sys, time
    from dockyard.compute import pool
    from dockyard.compute.pool import ProcessExecutor

    def ids():
        return os.getpid(), os.getppid()

    def say(**pids):
        os.write(1, (json.dumps(pids) + "\\n").encode())  # one write: lines never mix

    def busy():
        say(busy=os.getpid())
        time.sleep(600)

    executor = ProcessExecutor(max_workers=2)
    idle, zygote = executor.submit(ids).result(timeout=60)
    executor.submit(busy)
    if "fork" in sys.argv:  # a child of the caller's own, alive when the caller dies
        child = os.fork()
        if child == 0:
            time.sleep(600)
            os._exit(0)
        say(child=child)
    say(idle=idle, zygote=zygote)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("fork", [False, True])
def test_killing_the_caller_leaves_no_zygote_or_worker_behind(fork: bool) -> None:
    env = os.environ | {"PYTHONPATH": SRC}
    argv = [sys.executable, "-c", ORPHAN, *(["fork"] if fork else [])]
    caller = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    seen: dict[str, int] = {}
    try:
        assert caller.stdout is not None
        while len(seen) < 3 + fork:
            line = caller.stdout.readline()
            assert line, "the caller ended early"
            seen |= json.loads(line)
        assert seen["zygote"] != caller.pid
        assert psutil.Process(seen["zygote"]).ppid() == caller.pid
        assert all(not _gone(pid) for pid in seen.values())
        caller.send_signal(signal.SIGKILL)
        caller.wait(10)
        # a forked child of the caller holds no copy of the zygote's socket: it ends anyway
        assert _wait_gone([pid for name, pid in seen.items() if name != "child"]) == []
    finally:
        if "child" in seen:
            with contextlib.suppress(OSError):
                os.kill(seen["child"], signal.SIGKILL)
        if caller.poll() is None:
            caller.kill()
            caller.wait(10)
        if caller.stdout is not None:
            caller.stdout.close()
