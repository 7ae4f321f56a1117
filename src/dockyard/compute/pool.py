"""The local process executor (the default): long-lived worker processes on this machine.

Workers are fresh (never a fork of the caller, which may hold database connections and
threads), start when work first needs them and live until ``close()``. Work is shipped with
cloudpickle, so lambdas, closures and functions of ``__main__`` or a test module run. The
executor counts CPUs, GPUs and memory: work waits, first come first served, until what it
asks for is free. Work running past its timeout has its worker killed; a worker that dies
fails only its own work; both are replaced on the next task.

On Linux a fresh worker is forked by a zygote (:mod:`dockyard.compute.zygote`): a helper
process that imported ``preload`` once and never runs work. What runs in a worker, and the
messages it exchanges with its executor, are in :mod:`dockyard.compute.pool_worker`.

Where a zygote does not fork (not Linux, threads in it, it failed to start) workers are
fresh interpreters, and an executor made with ``keep_warm=True`` (``dy.run`` makes its
pool so) leaves as many fresh workers behind as it used when it closes: started, with
``preload`` imported, never given any work. The next executor of the same process with the
same ``preload`` takes them instead of starting its own. They hold no user code (work
never ran in them), so nothing of one pipeline run leaks into the next; they exit with the
process. With a zygote, nothing needs keeping warm: the zygote is that, for every executor.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

import cloudpickle
import psutil

from dockyard.compute.executor import (
    Resources,
    WorkerLost,
    WorkTimedOut,
    parse_duration,
    parse_memory,
)
from dockyard.compute.pool_worker import (
    _CONTEXT,
    _RESULT,
    _UNPICKLABLE,
    _WORK,
    _WORKER_CODE,
    _Context,
)
from dockyard.compute.zygote import _ZYGOTES, _ForkedProcess, _kill
from dockyard.core.errors import DockyardError, InvalidInput, Unavailable

T = TypeVar("T")


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, attached as its ``__cause__``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


@dataclass(eq=False)
class _Task:
    future: Future[Any]
    payload: bytes
    context: _Context
    resources: Resources
    timeout: float | None
    label: str


@dataclass(eq=False)
class _Worker:
    process: subprocess.Popen[bytes] | _ForkedProcess
    conn: Connection
    pidfd: int | None  # readable once the process has exited (Linux)
    context: _Context | None = None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self.conn.closed

    def wait_for_reply(self, timeout: float | None) -> bytes | None:
        """The worker's reply; None if ``timeout`` passed; EOFError if the worker died."""
        watched: list[Any] = [self.conn] if self.pidfd is None else [self.conn, self.pidfd]
        ready = wait(watched, timeout=timeout)
        if not ready:
            return None
        if self.conn not in ready:
            raise EOFError("the worker exited")
        return self.conn.recv_bytes()

    def close(self) -> None:
        self.conn.close()
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None


@dataclass(eq=False)
class _Slot:
    """One thread that feeds one worker process, one task at a time."""

    thread: threading.Thread | None = None
    worker: _Worker | None = None


class ProcessExecutor:
    """Runs work in up to ``max_workers`` local worker processes, within ``cpus``, ``gpus``
    and ``memory`` (defaults: every CPU, no GPU, all of the RAM).

    ``kill_grace`` is how long a worker past its timeout gets between SIGTERM and SIGKILL.
    ``preload``: modules each worker imports as it starts (before its first work; a
    zygote imports them once for all the workers it forks);
    ``keep_warm``: where no zygote forks workers, take fresh workers another executor of
    this process left, and leave some behind at :meth:`close` (see the module's docstring).
    """

    name = "process"

    def __init__(
        self,
        *,
        max_workers: int | None = None,
        cpus: float | None = None,
        gpus: float = 0.0,
        memory: int | str | None = None,
        kill_grace: float | str = 1.0,
        preload: Sequence[str] = (),
        keep_warm: bool = False,
    ) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        if self.max_workers < 1:
            raise InvalidInput("max_workers must be at least 1")
        self.capacity = {
            "cpu": float(cpus if cpus is not None else os.cpu_count() or 1),
            "gpu": float(gpus),
            "memory": float(parse_memory(memory) or psutil.virtual_memory().total),
        }
        self.kill_grace = parse_duration(kill_grace) or 1.0
        self.preload = tuple(preload)
        self.keep_warm = keep_warm
        self._started = 0  # workers this executor ran work on (at most max_workers at once)
        self._used = dict.fromkeys(self.capacity, 0.0)
        self._cond = threading.Condition()
        self._queue: deque[_Task] = deque()
        self._slots: list[_Slot] = []
        self._idle = 0
        self._closed = False
        _LIVE.add(self)

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(
        self,
        work: Callable[[], T],
        *,
        resources: Resources = Resources(),
        timeout: float | None = None,
        label: str = "",
    ) -> Future[T]:
        label = work_label(work, label)
        for resource, need in _needs(resources).items():
            if need > self.capacity[resource]:
                raise InvalidInput(
                    f"{label} needs {_show(resource, need)}, but the process executor has "
                    f"{_show(resource, self.capacity[resource])} in all"
                )
        try:
            payload = cloudpickle.dumps(work)
        except Exception as exc:
            raise InvalidInput(f"{label} cannot be pickled to run in a worker: {exc}") from exc
        future: Future[T] = Future()
        task = _Task(future, payload, _Context.current(), resources, timeout, label)
        with self._cond:
            if self._closed:
                raise Unavailable("the process executor is closed")
            self._queue.append(task)
            if len(self._queue) > self._idle and len(self._slots) < self.max_workers:
                self._add_slot()
            self._cond.notify_all()
        return future

    def close(self) -> None:
        """Cancel waiting work, kill the workers (running work fails with WorkerLost)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            while self._queue:
                self._queue.popleft().future.cancel()
            slots = list(self._slots)
            self._cond.notify_all()
        _LIVE.discard(self)
        # Only signals here: each slot's thread sees its worker end and closes its pipe.
        _kill([slot.worker.process for slot in slots if slot.worker is not None], grace=0.2)
        if self.keep_warm and not _ZYGOTES.serves(self.preload):
            _WARM.refill(self.preload, min(self._started, self.max_workers))
        current = threading.current_thread()
        for slot in slots:
            if slot.thread is not None and slot.thread is not current:
                slot.thread.join(timeout=2.0)

    # ---- scheduling

    def _add_slot(self) -> None:
        slot = _Slot()
        slot.thread = threading.Thread(
            target=self._serve, args=(slot,), name=f"dockyard-process-{len(self._slots)}"
        )
        slot.thread.daemon = True
        self._slots.append(slot)
        slot.thread.start()

    def _serve(self, slot: _Slot) -> None:
        while True:
            task = self._take()
            if task is None:
                if slot.worker is not None:
                    _kill([slot.worker.process], grace=0.2)
                    slot.worker.close()
                return
            try:
                self._run(slot, task)
            except BaseException as exc:  # a bug here must not leave the future hanging
                settle(task.future, exc=exc)
            finally:
                with self._cond:
                    for resource, need in _needs(task.resources).items():
                        self._used[resource] -= need
                    self._cond.notify_all()

    def _take(self) -> _Task | None:
        """The first waiting task, once what it needs is free; None once closed."""
        with self._cond:
            while not self._closed:
                while self._queue and self._queue[0].future.cancelled():
                    self._queue.popleft()
                if self._queue and self._fits(self._queue[0].resources):
                    task = self._queue.popleft()
                    if not task.future.set_running_or_notify_cancel():
                        continue
                    for resource, need in _needs(task.resources).items():
                        self._used[resource] += need
                    return task
                self._idle += 1
                self._cond.wait()
                self._idle -= 1
            return None

    def _fits(self, resources: Resources) -> bool:
        return all(
            self._used[resource] + need <= self.capacity[resource] + 1e-9
            for resource, need in _needs(resources).items()
        )

    # ---- running one task on one worker

    def _run(self, slot: _Slot, task: _Task) -> None:
        worker = slot.worker
        if worker is None or not worker.alive:
            taken = _WARM.take(self.preload) if self.keep_warm else None
            worker = slot.worker = taken or _new_worker(self.preload)
            self._started += 1
            if self._closed:  # close() came while it started and did not see it
                _kill([worker.process], grace=0.2)
        try:
            if worker.context != task.context:
                worker.conn.send_bytes(_CONTEXT + pickle.dumps(task.context))
                worker.context = task.context
            worker.conn.send_bytes(_WORK + task.payload)
            reply = worker.wait_for_reply(task.timeout)
        except (EOFError, OSError):
            lost = True
        else:
            if reply is not None:
                self._deliver(task, reply)
                return
            lost = False
        slot.worker = None
        if not lost and not self._closed:
            _kill([worker.process], grace=self.kill_grace)
            worker.close()
            settle(
                task.future,
                exc=WorkTimedOut(
                    f"{task.label} ran over its {task.timeout:g} s timeout and was stopped",
                    details={"label": task.label, "timeout": task.timeout},
                ),
            )
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(2.0)  # it is on its way out: wait for its exit status
        _kill([worker.process], grace=0.5)
        worker.close()
        how = _exit_description(worker.process.returncode)
        message = (
            f"{task.label} did not finish: the process executor was closed"
            if self._closed
            else f"the worker running {task.label} died ({how})"
        )
        settle(task.future, exc=WorkerLost(message, details={"label": task.label, "exit": how}))

    def _deliver(self, task: _Task, reply: bytes) -> None:
        tag, body = reply[:1], reply[1:]
        if tag == _RESULT:
            try:
                settle(task.future, result=pickle.loads(body))
            except Exception as exc:
                settle(
                    task.future,
                    exc=DockyardError(f"the result of {task.label} cannot be loaded: {exc}"),
                )
        elif tag == _UNPICKLABLE:
            settle(
                task.future,
                exc=DockyardError(f"the result of {task.label} cannot be pickled: {body.decode()}"),
            )
        else:
            settle(task.future, exc=_load_exception(task.label, body))


def _start_worker(preload: tuple[str, ...]) -> _Worker:
    """A fresh interpreter running :func:`_worker_main`, importing ``preload`` first.

    Not multiprocessing's spawn or fork server: those run the caller's __main__ script
    again in the worker, and a pipeline script without an ``if __name__ == "__main__"``
    guard would start itself over in every worker.
    """
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER_CODE,
                json.dumps(sys.path),
                str(theirs.fileno()),
                json.dumps(list(preload)),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only the caller; a kill takes
            # the work's own child processes too
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    pidfd: int | None = None
    with contextlib.suppress(AttributeError, OSError):
        pidfd = os.pidfd_open(process.pid)
    return _Worker(process, Connection(ours.detach()), pidfd)


def _new_worker(preload: tuple[str, ...]) -> _Worker:
    """A fresh worker: forked by this process's zygote for ``preload`` where it can, else a
    fresh interpreter."""
    forked = _ZYGOTES.fork(preload)
    if forked is None:
        return _start_worker(preload)
    return _Worker(forked.process, forked.conn, forked.pidfd)


class _WarmWorkers:
    """Fresh workers (started, ``preload`` imported, never given work) waiting for the
    next executor of this process that asks for the same ``preload``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, ...], list[_Worker]] = {}
        self._closed = False

    def take(self, preload: tuple[str, ...]) -> _Worker | None:
        with self._lock:
            waiting = self._waiting.get(preload, [])
            while waiting:
                worker = waiting.pop()
                if worker.alive:
                    return worker
                worker.close()
        return None

    def refill(self, preload: tuple[str, ...], count: int) -> None:
        """Start workers until ``count`` wait for ``preload``."""
        with self._lock:
            if self._closed:
                return
            waiting = self._waiting.setdefault(preload, [])
            waiting[:] = [w for w in waiting if w.alive]
            for _ in range(count - len(waiting)):
                waiting.append(_start_worker(preload))

    def close(self) -> None:
        """Stop the waiting workers, and keep none from now on (the process is ending)."""
        with self._lock:
            self._closed = True
            workers = [w for waiting in self._waiting.values() for w in waiting]
            self._waiting.clear()
        _kill([w.process for w in workers], grace=0.2)
        for worker in workers:
            worker.close()


def _needs(resources: Resources) -> dict[str, float]:
    return {
        "cpu": resources.cpu,
        "gpu": resources.gpu,
        "memory": float(resources.memory_bytes or 0),
    }


def _show(resource: str, amount: float) -> str:
    if resource == "memory":
        return f"{amount / 2**30:.1f} GiB of memory"
    return f"{amount:g} {'CPU' if resource == 'cpu' else 'GPU'}{'' if amount == 1 else 's'}"


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = ", perhaps out of memory" if -exitcode == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {exitcode}"


def _load_exception(label: str, body: bytes) -> BaseException:
    original, kind, message, text = pickle.loads(body)
    exc: BaseException | None = None
    if original is not None:
        with contextlib.suppress(Exception):
            exc = pickle.loads(original)
    if exc is None:
        exc = DockyardError(
            f"{label} raised {kind}: {message}",
            details={"type": kind, "message": message, "traceback": text},
        )
    exc.__cause__ = RemoteTraceback(text)
    return exc


def work_label(work: Callable[[], Any], label: str = "") -> str:
    """``label``, else the name of the work's function (through functools.partial)."""
    function = getattr(work, "func", work)
    return label or str(getattr(function, "__qualname__", None) or "work")


def settle(future: Future[Any], *, result: Any = None, exc: BaseException | None = None) -> None:
    """Give ``future`` its result or exception unless it has one already (a timeout or
    ``close()`` may have settled it first)."""
    with contextlib.suppress(InvalidStateError):
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)


# Workers leave when their pipe closes, so they end with the caller; closing at exit also
# stops work that is still running. All are per process by nature: the executors still
# open, the warm workers kept between executors and the zygotes (dockyard.compute.zygote's
# _ZYGOTES, which must end with the process; a zygote also ends when its socket closes,
# should the process die).
_LIVE: weakref.WeakSet[ProcessExecutor] = weakref.WeakSet()
_WARM = _WarmWorkers()


@atexit.register
def _close_all() -> None:
    _WARM.close()
    for executor in list(_LIVE):
        executor.close()
    _ZYGOTES.close()  # last: it reports the exit of the workers the executors stop
