"""The zygote of the local process executor: on Linux, a fork server for its workers.

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

This module holds both sides: the zygote process (:func:`_zygote_main`, which a forked
worker leaves for :func:`dockyard.compute.pool_worker._worker_loop`), and what the
executor's process (:mod:`dockyard.compute.pool`) holds of it: :class:`_Zygote`, a
handle on one zygote; :class:`_ForkedProcess`, on one worker it forked; :data:`_ZYGOTES`,
this process's zygotes; and :func:`_kill`, which stops workers either forked or fresh.
Where a zygote does not fork (not Linux, threads in it, it failed to start),
:meth:`_Zygotes.fork` returns None and the executor starts a fresh interpreter instead.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from dockyard.compute.pool_worker import _import_quietly, _worker_loop

# ---------------------------------------------------------------- the zygote process side


_ZYGOTE_CODE = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from dockyard.compute.zygote import _zygote_main; "
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


# ---------------------------------------------------------------- the executor's side


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


class _Forked(NamedTuple):
    """A worker a zygote forked: the process, the executor's end of its socket pair, and a
    pidfd of it (readable once it has exited)."""

    process: _ForkedProcess
    conn: Connection
    pidfd: int


class _Zygote:
    """A fork server of this process for one ``preload``: a fresh interpreter that imported
    ``preload`` and never runs work, asked for each new worker over a Unix socket. (Not
    multiprocessing's forkserver, for the reason :func:`dockyard.compute.pool._start_worker`
    gives.)

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

    def fork(self) -> _Forked | bytes:
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
            return _Forked(process, Connection(ours.detach()), pidfd)
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

    def fork(self, preload: tuple[str, ...]) -> _Forked | None:
        """A worker forked by the zygote for ``preload`` (started first if need be), or
        None: use a fresh interpreter."""
        for _ in range(2):  # a zygote whose module files changed is replaced, once
            zygote = self._zygote(preload)
            if zygote is None:
                return None
            outcome = zygote.fork()
            if isinstance(outcome, _Forked):
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


# Here, not in dockyard.compute.pool: a zygote's handle stops its zygote with it, and it
# must tell a worker a zygote forked (signalled only while it has not exited) from a Popen.
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


# Per process by nature: the zygotes must end with the process (a zygote also ends when its
# socket closes, should the process die); dockyard.compute.pool closes them at exit.
_ZYGOTES = _Zygotes()
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_ZYGOTES.forget)
