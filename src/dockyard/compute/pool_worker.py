"""The worker process of the local process executor (:mod:`dockyard.compute.pool`).

A worker is a fresh interpreter started with :data:`_WORKER_CODE` (never a fork of the
caller, which may hold database connections and threads), or a child forked by a zygote
(:mod:`dockyard.compute.zygote`) that is as fresh. Either way it imports ``preload``, then
serves its executor over a socket pair, one message at a time: a context (the caller's
cwd, ``sys.path`` and environment, sent when they change), or work (a cloudpickled
callable), answered with its result or the exception it raised.

This module holds what both ends of that pipe share (the message tags and
:class:`_Context`) and imports nothing of the executor's, so a worker loads no more than
it needs.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import cloudpickle

# One-byte tags of the messages between the executor and a worker.
_CONTEXT, _WORK = b"C", b"W"
_RESULT, _RAISED, _UNPICKLABLE = b"R", b"E", b"U"


@dataclass(frozen=True)
class _Context:
    """What work sees of its caller besides its own closure: cwd, sys.path, environment."""

    cwd: str
    path: tuple[str, ...]
    env: dict[str, str]

    @classmethod
    def current(cls) -> _Context:
        return cls(str(Path.cwd()), tuple(sys.path), dict(os.environ))


_WORKER_CODE = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from dockyard.compute.pool_worker import _worker_main; "
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
