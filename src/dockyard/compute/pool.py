"""The local process executor (the default): long-lived worker processes on this machine.

Workers are fresh (never a fork of the caller, which may hold database connections and
threads), start when work first needs them and live until ``close()``. Work is shipped with
cloudpickle, so lambdas, closures and functions of ``__main__`` or a test module run. The
executor counts CPUs, GPUs and memory: work waits, first come first served, until what it
asks for is free. Work running past its timeout has its worker killed; a worker that dies
fails only its own work; both are replaced on the next task.

Starting an interpreter, then the imports its work needs (``preload``), takes most of a
second. On Linux a zygote does it once: a helper process per process and ``preload``,
started as a fresh interpreter when workers are first needed, that imports ``preload``
and then only forks, on request, a new worker that serves its executor over a socket pair
(a fork takes milliseconds). No work ever runs in the zygote, so a worker it forks is as
fresh as a new interpreter: no module of the user's, no global a run changed. It forks
only while it runs no thread but its own (an import may start native threads, and a fork
copies only the forking thread); it reaps the workers it forks and reports their exit
status. If a module file it imported changes on disk, a new zygote replaces it. When the
process that owns it closes its socket or dies, it stops its workers and exits; a worker
it forked dies with it (``PR_SET_PDEATHSIG``).

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
import importlib
import json
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
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
from dockyard.core.errors import DockyardError, InvalidInput, Unavailable

T = TypeVar("T")

# One-byte tags of the messages between the executor and a worker.
_CONTEXT, _WORK = b"C", b"W"
_RESULT, _RAISED, _UNPICKLABLE = b"R", b"E", b"U"


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, attached as its ``__cause__``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------- the worker process side


_WORKER_CODE = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from dockyard.compute.pool import _worker_main; "
    "_worker_main(int(sys.argv[2]), json.loads(sys.argv[3]))"
)


def _worker_main(fd: int, preload: Sequence[str] = ()) -> None:
    """A fresh worker: import ``preload``, then serve its executor (:func:`_worker_loop`).

    ``preload``: modules imported before the first work arrives (a module that fails to
    import here fails the work that needs it, later, with its own error)."""
    os.set_inheritable(fd, False)
    _import_quietly(preload)
    _worker_loop(fd)


def _import_quietly(modules: Sequence[str]) -> None:
    for module in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(module)


def _worker_loop(fd: int) -> None:
    """A worker's loop: take work, run it, send back its result or exception, repeat."""
    conn = Connection(fd)
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):  # the executor closed or died
            return
        if message[:1] == _CONTEXT:
            _apply_context(pickle.loads(message[1:]))
            continue
        reply = _run_work(message[1:])
        try:
            conn.send_bytes(reply)
        except OSError:
            return


def _apply_context(context: _Context) -> None:
    sys.path[:] = context.path
    if dict(os.environ) != context.env:
        os.environ.clear()
        os.environ.update(context.env)
    with contextlib.suppress(OSError):
        os.chdir(context.cwd)


def _run_work(payload: bytes) -> bytes:
    try:
        result = pickle.loads(payload)()
    except BaseException as exc:  # every failure goes back to the caller's future
        return _RAISED + _pickle_exception(exc)
    try:
        return _RESULT + bytes(cloudpickle.dumps(result))
    except Exception as exc:
        return _UNPICKLABLE + f"{type(result).__name__}: {exc}".encode()


def _pickle_exception(exc: BaseException) -> bytes:
    text = "".join(traceback.format_exception(exc))
    original: bytes | None
    try:
        original = cloudpickle.dumps(exc)
        pickle.loads(original)  # an exception whose __init__ needs other args won't load
    except Exception:
        original = None
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return pickle.dumps((original, kind, str(exc), text))


# ---------------------------------------------------------------- the zygote process side


_ZYGOTE_CODE = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from dockyard.compute.pool import _zygote_main; "
    "_zygote_main(int(sys.argv[2]), json.loads(sys.argv[3]))"
)

# Messages on a zygote's control socket (SOCK_SEQPACKET: one message per send). To the
# zygote: fork (with the new worker's socket, then the caller's stdout and stderr digits
# name which), retire (fork no more, exit once no worker it forked runs). From it: ready
# (once, after ``preload``), forked (pid, with a pidfd), refused (threads run in the
# zygote), stale (a module file it imported changed on disk), failed (fork() failed this
# time), exited (pid, exit code).
_FORK, _RETIRE = b"F", b"R"
_READY, _FORKED, _REFUSED, _STALE, _FAILED, _EXITED = b"Y", b"P", b"N", b"S", b"E", b"X"
_PR_SET_PDEATHSIG = 1


def _zygote_main(fd: int, preload: Sequence[str]) -> None:
    """A zygote: a fresh interpreter that imports ``preload`` once, never runs work, and
    forks a fresh worker each time its executor's process asks, until that process closes
    the socket or dies (its workers are then stopped too)."""
    control = socket.socket(fileno=fd)
    control.set_inheritable(False)
    _import_quietly(preload)
    files = _module_files()
    refusal = _fork_refusal({})
    with contextlib.suppress(OSError):
        control.send(_READY if refusal is None else refusal[0] + refusal[1].encode())
    if refusal is not None:
        return
    worker = _fork_on_request(control, files)
    if worker is not None:  # in a forked worker: this process serves an executor now
        _worker_loop(worker)


def _fork_on_request(control: socket.socket, files: dict[str, tuple[int, int]]) -> int | None:
    """The zygote's loop: fork on request, reap and report the children that exit.

    Returns only in a forked child (its executor's socket), or once the executor's process
    has gone (None)."""
    import ctypes  # here: only a zygote needs it (prctl)

    zygote = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)
    children: dict[int, int] = {}  # pidfd -> pid
    retiring = False
    try:
        while not retiring or children:
            ready, _, _ = select.select([control.fileno(), *children], [], [])
            for pidfd in ready:
                if pidfd not in children:
                    continue
                pid = children.pop(pidfd)
                os.close(pidfd)
                _, status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(status)
                control.send(_EXITED + f"{pid} {code}".encode())
            if control.fileno() not in ready:
                continue
            message, fds, _, _ = socket.recv_fds(control, 64, 3)
            if not message:
                return None  # the executor's process closed the socket, or died
            if message[:1] == _RETIRE:
                retiring = True
                continue
            refusal = _fork_refusal(files)
            if message[:1] != _FORK or not fds or retiring or refusal is not None:
                for received in fds:
                    os.close(received)
                tag, reason = refusal or (_FAILED, "not a fork request, or retiring")
                control.send(tag + reason.encode())
                continue
            try:
                pid = os.fork()
            except OSError as exc:  # out of memory or processes, perhaps for a moment
                for received in fds:
                    os.close(received)
                control.send(_FAILED + str(exc).encode())
                continue
            if pid == 0:
                targets = [int(digit) for digit in message[1:].decode()]
                return _become_worker(zygote, libc, control, children, fds, targets)
            for received in fds:
                os.close(received)  # the new worker's pipe is its executor's business
            pidfd = os.pidfd_open(pid)
            children[pidfd] = pid
            socket.send_fds(control, [_FORKED + str(pid).encode()], [pidfd])
        return None  # retired, and the last of its workers has exited
    except OSError:
        return None  # the executor's process has gone
    finally:
        if os.getpid() == zygote:
            _stop_children(children)


def _become_worker(
    zygote: int,
    libc: Any,
    control: socket.socket,
    children: dict[int, int],
    fds: list[int],
    targets: list[int],
) -> int:
    """In a child just forked: become a fresh worker. Returns its executor's socket."""
    try:
        os.setsid()  # as start_new_session: a kill takes the work's own processes too
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # never outlive the zygote
        if os.getppid() != zygote:
            os._exit(1)
        control.close()
        for pidfd in children:
            os.close(pidfd)
        work, *std = fds
        for target, received in zip(targets, std, strict=True):
            os.dup2(received, target)  # the caller's stdout and stderr, as they are now
            os.close(received)
        importlib.invalidate_caches()  # look at the folders afresh, as a new interpreter
        _reseed()
        return work
    except BaseException:
        os._exit(1)


def _reseed() -> None:
    """Random states a fork copies: ``random`` reseeds itself (an at-fork hook), numpy's
    global generator, if the preload imported it, is reseeded here."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        with contextlib.suppress(Exception):
            numpy_random.seed()


def _fork_refusal(files: dict[str, tuple[int, int]]) -> tuple[bytes, str] | None:
    """Why this zygote must not fork now: a thread besides this one (a fork copies only
    the forking thread, and locks other threads hold stay locked in the child), or a module
    file it imported changed on disk since (a fresh interpreter would read the new one)."""
    if threading.active_count() != 1:
        return _REFUSED, f"{threading.active_count()} Python threads run in the zygote"
    try:
        tasks = sum(1 for _ in Path("/proc/self/task").iterdir())
    except OSError as exc:
        return _REFUSED, f"cannot count the zygote's threads: {exc}"
    if tasks != 1:
        return _REFUSED, f"{tasks} threads run in the zygote"
    for path, stamp in files.items():
        try:
            stat = Path(path).stat()
        except OSError:
            return _STALE, path
        if (stat.st_mtime_ns, stat.st_size) != stamp:
            return _STALE, path
    return None


def _module_files() -> dict[str, tuple[int, int]]:
    """The source file of each module imported, with its modification time and size."""
    files: dict[str, tuple[int, int]] = {}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str):
            continue
        with contextlib.suppress(OSError):
            stat = Path(path).stat()
            files[path] = (stat.st_mtime_ns, stat.st_size)
    return files


def _stop_children(children: dict[int, int]) -> None:
    """SIGTERM each child's group, SIGKILL what still runs a second later, reap them all."""
    for sig, grace in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
        for pid in children.values():
            with contextlib.suppress(OSError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while children:
            ready, _, _ = select.select(
                list(children), [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                break
            for pidfd in ready:
                with contextlib.suppress(OSError):
                    os.waitpid(children.pop(pidfd), 0)
                os.close(pidfd)


# ---------------------------------------------------------------- the executor side


@dataclass(frozen=True)
class _Context:
    """What work sees of its caller besides its own closure: cwd, sys.path, environment."""

    cwd: str
    path: tuple[str, ...]
    env: dict[str, str]

    @classmethod
    def current(cls) -> _Context:
        return cls(str(Path.cwd()), tuple(sys.path), dict(os.environ))


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
    return _ZYGOTES.fork(preload) or _start_worker(preload)


class _ForkedProcess:
    """A worker a zygote forked, seen through the calls the executor makes on a Popen: the
    zygote reaps it and reports its exit status."""

    def __init__(self, pid: int, pidfd: int, zygote: _Zygote) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd: int | None = pidfd  # readable once it has exited; closed once reaped
        self._zygote = zygote

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._zygote.cond:
            if not self._zygote.cond.wait_for(lambda: self.returncode is not None, timeout):
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def signal_group(self, sig: int) -> None:
        """``sig`` to its process group (its session: its own children too), unless it
        has exited: its pid may be another process's once the zygote reaped it."""
        with self._zygote.cond:
            if self.returncode is not None or self._pidfd is None:
                return
            if select.select([self._pidfd], [], [], 0)[0]:
                return  # exited, perhaps reaped already
            try:
                os.killpg(self.pid, sig)
            except OSError:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(self._pidfd, sig)

    def exited(self, code: int) -> None:
        """Called with the zygote's condition held."""
        self.returncode = code
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self._pidfd)
            self._pidfd = None


class _Zygote:
    """A fork server of this process for one ``preload``: a fresh interpreter that imported
    ``preload`` and never runs work, asked for each new worker over a Unix socket. (Not
    multiprocessing's forkserver, for the reason :func:`_start_worker` gives.)

    A thread reads what it sends: its replies to fork requests, and the exit status of
    each worker it reaps."""

    START_TIMEOUT = 60.0
    FORK_TIMEOUT = 10.0

    def __init__(self, preload: tuple[str, ...]) -> None:
        self.preload = preload
        self.cond = threading.Condition()
        self.ready = False
        self.gone = False
        self.refusal: str | None = None  # why it never forks
        self.retired = False
        self._request = threading.Lock()
        self._reply: tuple[_ForkedProcess, int] | bytes | None = None
        self._running: dict[int, _ForkedProcess] = {}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _ZYGOTE_CODE,
                    json.dumps(sys.path),
                    str(theirs.fileno()),
                    json.dumps(list(preload)),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches only the caller
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        self._reader = threading.Thread(
            target=self._read, name=f"dockyard-zygote-{self.process.pid}", daemon=True
        )
        self._reader.start()

    @property
    def serving(self) -> bool:
        return not self.gone and not self.retired and self.refusal is None

    def fork(self) -> _Worker | bytes:
        """A fresh worker, or why not: _REFUSED (it never forks: threads run in it, or it
        did not start), _STALE (a module file changed: a new zygote would fork), _FAILED
        (fork() failed this time) or b"" (it has gone, or does not answer)."""
        with self._request:
            with self.cond:
                self.cond.wait_for(lambda: self.ready or self.gone, self.START_TIMEOUT)
                if not self.ready:
                    self.refusal = self.refusal or "it did not start"
                    return _REFUSED
                if self.gone or self.retired:
                    return b""
                self._reply = None
            ours, theirs = socket.socketpair()
            try:
                std = [fd for fd in (1, 2) if _is_open(fd)]
                message = _FORK + "".join(map(str, std)).encode()
                socket.send_fds(self._sock, [message], [theirs.fileno(), *std])
            except OSError:
                ours.close()
                return b""
            finally:
                theirs.close()
            with self.cond:
                self.cond.wait_for(lambda: self._reply is not None or self.gone, self.FORK_TIMEOUT)
                reply, self._reply = self._reply, None
        if isinstance(reply, tuple):
            process, pidfd = reply
            return _Worker(process, Connection(ours.detach()), pidfd)
        ours.close()
        return reply or b""

    def retire(self) -> None:
        """Fork no more: the zygote exits once the workers it forked have all exited."""
        with self._request:
            self.retired = True
            with contextlib.suppress(OSError):
                self._sock.send(_RETIRE)

    def _read(self) -> None:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self._sock, 256, 1)
            except OSError:
                message, fds = b"", []
            tag, body = message[:1], message[1:].decode()
            with self.cond:
                if tag == _EXITED:
                    pid, code = map(int, body.split())
                    process = self._running.pop(pid, None)
                    if process is not None:
                        process.exited(code)
                elif tag == _FORKED and fds:
                    process = _ForkedProcess(int(body), fds[0], self)
                    self._running[process.pid] = process
                    self._reply = (process, os.dup(fds[0]))
                elif tag == _READY:
                    self.ready = True
                elif tag in (_REFUSED, _STALE, _FAILED):
                    if tag == _REFUSED:
                        self.refusal = body
                    self._reply = tag
                elif message:
                    for received in fds:
                        os.close(received)
                else:  # closed: the zygote has gone, and its workers with it (PDEATHSIG)
                    self.gone = True
                    for process in self._running.values():
                        process.exited(-signal.SIGKILL)
                    self._running.clear()
                    self.cond.notify_all()
                    break
                self.cond.notify_all()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5.0)  # it exits right after its socket closes: reap it

    def close(self) -> None:
        """End the zygote: it stops the workers it forked that still run, then exits."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(3.0)
        _kill([self.process], grace=0.0)
        self._reader.join(timeout=2.0)
        self._sock.close()


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class _Zygotes:
    """This process's zygotes, one per ``preload``, started when workers are first needed.

    Forking is used only where it is safe: on Linux, and in a zygote that runs no thread
    but its own (one that does refuses; its ``preload`` then gets fresh interpreters)."""

    def __init__(self) -> None:
        self.enabled = (
            sys.platform.startswith("linux")
            and hasattr(os, "pidfd_open")
            and hasattr(socket, "send_fds")
        )
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._zygotes: dict[tuple[str, ...], _Zygote] = {}
        self._refused: set[tuple[str, ...]] = set()
        self._retired: list[_Zygote] = []  # no longer forking; each exits after its workers
        self._closed = False

    def fork(self, preload: tuple[str, ...]) -> _Worker | None:
        """A worker forked by the zygote for ``preload`` (started first if need be), or
        None: use a fresh interpreter."""
        for _ in range(2):  # a zygote whose module files changed is replaced, once
            zygote = self._zygote(preload)
            if zygote is None:
                return None
            outcome = zygote.fork()
            if isinstance(outcome, _Worker):
                return outcome
            if outcome == _FAILED:
                return None
            # Retired, not closed: the workers it forked may still run work.
            self._retire(preload, zygote)
            if outcome == _REFUSED:
                with self._lock:
                    self._refused.add(preload)
            if outcome != _STALE:
                return None
        return None

    def serves(self, preload: tuple[str, ...]) -> bool:
        """Whether a zygote forks the workers of ``preload`` (so none need keeping warm)."""
        with self._lock:
            zygote = self._zygotes.get(preload)
            return zygote is not None and zygote.serving

    def _zygote(self, preload: tuple[str, ...]) -> _Zygote | None:
        with self._lock:
            if not self.enabled or self._closed or preload in self._refused:
                return None
            zygote = self._zygotes.get(preload)
            if zygote is None or zygote.gone:
                try:
                    zygote = self._zygotes[preload] = _Zygote(preload)
                except OSError:
                    return None
            return zygote

    def _retire(self, preload: tuple[str, ...], zygote: _Zygote) -> None:
        with self._lock:
            if self._zygotes.get(preload) is zygote:
                del self._zygotes[preload]
            self._retired = [z for z in self._retired if not z.gone] + [zygote]
        zygote.retire()

    def forget(self) -> None:
        """In a child this process forked (its own code did): the zygotes are the
        parent's. Close this copy of their sockets (so that the parent's death still ends
        them) and start zygotes of its own if it needs workers."""
        for zygote in [*self._zygotes.values(), *self._retired]:
            with contextlib.suppress(OSError):
                zygote._sock.close()
        self._reset()

    def discard(self, preload: tuple[str, ...]) -> None:
        """Close the zygote of ``preload``: the workers it forked stop too."""
        with self._lock:
            zygote = self._zygotes.pop(preload, None)
            self._refused.discard(preload)
        if zygote is not None:
            zygote.close()

    def close(self) -> None:
        """Close every zygote, and start none from now on (the process is ending)."""
        with self._lock:
            self._closed = True
            zygotes = [*self._zygotes.values(), *self._retired]
            self._zygotes.clear()
            self._retired = []
        for zygote in zygotes:
            zygote.close()


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


def _kill(processes: Sequence[subprocess.Popen[bytes] | _ForkedProcess], *, grace: float) -> None:
    """SIGTERM each process's group, SIGKILL what still runs after ``grace`` seconds."""
    for sig, wait_for in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        running = [process for process in processes if process.poll() is None]
        for process in running:
            if isinstance(process, _ForkedProcess):
                process.signal_group(sig)
                continue
            try:
                os.killpg(process.pid, sig)  # its own session: its children go too
            except OSError:
                with contextlib.suppress(OSError):
                    process.send_signal(sig)
        deadline = time.monotonic() + wait_for
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))


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
# open, the warm workers kept between executors and the zygotes (which must end with the
# process; a zygote also ends when its socket closes, should the process die).
_LIVE: weakref.WeakSet[ProcessExecutor] = weakref.WeakSet()
_WARM = _WarmWorkers()
_ZYGOTES = _Zygotes()
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_ZYGOTES.forget)


@atexit.register
def _close_all() -> None:
    _WARM.close()
    for executor in list(_LIVE):
        executor.close()
    _ZYGOTES.close()  # last: it reports the exit of the workers the executors stop
