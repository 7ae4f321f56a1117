"""What runs on an executor for one step call: load the inputs, call the function inside the
step's tracked run, write the result as files.

The call is a picklable :class:`Call`; in-process it carries the orchestrator's client,
elsewhere the settings to connect with (one client per worker process).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from dockyard.client.client import Client, connect_with
from dockyard.core.config import ENV_VARS, PRIVATE, Settings
from dockyard.core.errors import DigestMismatch, NotFound
from dockyard.core.paths import confined, confined_name
from dockyard.core.secrets import redact, redact_bytes
from dockyard.data.schemas import Version
from dockyard.pipelines import values
from dockyard.pipelines.values import ValueRef
from dockyard.registry.uris import RunRef
from dockyard.sdk.runs import _ACTIVE, ActiveRun

MAX_LOG_BYTES = 4 * 1024 * 1024
OUTPUTS = "outputs"
"""The folder of a step's run that holds the step's output (a model's folder layout)."""


@dataclass
class Input:
    """One argument taken from upstream: a stored value (its files on local disk), a
    dataset version, or the list of a fan-out's values."""

    ref: ValueRef | None = None
    files: dict[str, str] = field(default_factory=dict)
    dataset: Version | None = None
    dataset_files: list[str] = field(default_factory=list)
    items: list[Input] | None = None
    origin_run: str | None = None
    """The run whose artifacts hold the value (under OUTPUTS): the step's run, or for a
    cached step the run that made it. A model value carries it, so registering the model
    names the run that made it; the registry checks that run holds the model."""
    allow_pickle: bool = False
    """The step that made the value declares pickle=True: only then is a pickled value (or
    a model whose loading runs stored code) read."""
    source: str = "an upstream step"


@dataclass
class Call:
    fn: Callable[..., Any] | bytes
    """The step's function, or (for another process) the function pickled once per step,
    so that a fan-out of 10,000 items does not pickle it 10,000 times."""
    step: str
    inputs: dict[str, Input]
    params: dict[str, Any]
    out_dir: str
    allow_pickle: bool
    run_id: str | None
    project: str
    experiment: str
    settings: Settings
    client: Client | None = None
    failure_log: str = "dockyard/output.log"
    """Where in the step's run a failed call leaves its output and traceback."""
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """The project secrets the step declares, by name: its environment while it runs, and
    masked (``***``) in its log."""

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["client"] = None  # never shipped to another process: it reconnects there
        return state


@dataclass(frozen=True)
class _RunInfo:
    """What a step's active run needs to know of its run."""

    id: str
    project: str
    experiment: str


@dataclass
class Result:
    ref: ValueRef
    out_dir: str
    seconds: float
    log: bytes


@functools.lru_cache(maxsize=64)
def _function(pickled: bytes) -> Callable[..., Any]:
    """A step function sent pickled, unpickled once per worker process."""
    import cloudpickle

    fn: Callable[..., Any] = cloudpickle.loads(pickled)
    return fn


@functools.lru_cache(maxsize=4)
def _client_for(settings: Settings) -> Client:
    """One client per worker process and settings, reused by every call it runs."""
    return connect_with(settings)


def _materialize(value: Input, client: Client) -> Any:
    """An input's value. Its files are read where the orchestrator saw them; a worker on
    another machine (a Ray cluster) fetches them from the blob store by digest instead."""
    if value.items is not None:
        return [_materialize(item, client) for item in value.items]
    if value.dataset is not None:
        from dockyard.sdk.data import DatasetVersion

        # Its files are resolved (and verified) in this process when it is read.
        return DatasetVersion(client, value.dataset)
    assert value.ref is not None
    files = {k: Path(v) for k, v in value.files.items()}
    digests = {f.path: f.digest for f in value.ref.files}
    if not _verified(client, files, digests):
        files = fetch(value.ref, client)
    loaded = values.load_files(
        value.ref, files, allow_pickle=value.allow_pickle, where=f"the output of {value.source}"
    )
    if value.ref.kind == "model" and value.origin_run is not None:
        loaded.origin = RunRef(value.origin_run, OUTPUTS)
    return loaded


def _verified(client: Client, files: dict[str, Path], digests: dict[str, str]) -> bool:
    """Whether the files the orchestrator saw are all here and still hash to their
    digests (hashed once per process): the bytes are about to be deserialized."""
    try:
        for name, path in files.items():
            if name not in digests or not path.is_file():
                return False
            client.blobs.verify_file(path, digests[name])
    except DigestMismatch:
        return False
    return True


def fetch(ref: ValueRef, client: Client) -> dict[str, Path]:
    """A stored value's files from the blob store, verified, into this machine's cache (a
    model's in its folder layout). Every path and digest comes from a stored record, so
    each is confined to its folder before anything is written."""
    cache = client.settings.home / "cache" / "values"
    if ref.kind != "model":
        return {f.path: client.blobs.local_copy(f.digest, cache / "blobs") for f in ref.files}
    models = cache / "models"
    folder = confined_name(models, ref.digest, "value digest")
    if not folder.is_dir():
        models.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=models, prefix=".model-"))
        try:
            for f in ref.files:
                target = confined(staging, f.path, "value file")
                target.parent.mkdir(parents=True, exist_ok=True)
                client.blobs.download(f.digest, target)
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return {f.path: confined(folder, f.path, "value file") for f in ref.files}


def _store(ref: ValueRef, folder: Path, client: Client) -> None:
    """Put an output's files into the blob store from where they were written, so a worker
    on another machine leaves nothing behind that only it can read."""
    for f in ref.files:
        try:
            client.blobs.info(f.digest)
        except NotFound:
            client.blobs.put_file(folder / f.path, digest=f.digest)


class _Tee(io.TextIOBase):
    """Writes to the terminal as usual and keeps a copy (up to a limit) for the step's log,
    with the step's secret values masked in both."""

    def __init__(self, original: TextIO, sink: io.BytesIO, hidden: tuple[str, ...]) -> None:
        self._original = original
        self._sink = sink
        self._hidden = hidden

    def write(self, text: str) -> int:
        shown = redact(text, self._hidden) if self._hidden else text
        self._original.write(shown)
        if self._sink.tell() < MAX_LOG_BYTES:
            self._sink.write(shown.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        self._original.flush()


@contextlib.contextmanager
def _captured(hidden: tuple[str, ...] = ()) -> Iterator[io.BytesIO]:
    sink = io.BytesIO()
    with (
        contextlib.redirect_stdout(_Tee(sys.stdout, sink, hidden)),
        contextlib.redirect_stderr(_Tee(sys.stderr, sink, hidden)),
    ):
        yield sink


def _log_of(sink: io.BytesIO, hidden: tuple[str, ...]) -> bytes:
    """What the step printed, with its secrets masked again over the whole text (a value
    printed in pieces, or cut off at the size limit, is masked too)."""
    data = sink.getvalue()
    return redact_bytes(data, hidden, cut=len(data) >= MAX_LOG_BYTES) if hidden else data


_PRIVATE_VARS = tuple(ENV_VARS[name] for name in PRIVATE)


@contextlib.contextmanager
def _environment(secrets: dict[str, str]) -> Iterator[None]:
    """The step's secrets as environment variables (and the process's own secrets key out
    of sight) while it runs; the environment as it was afterwards (a pool worker serves
    the next step with its caller's environment)."""
    hidden = [name for name in _PRIVATE_VARS if name in os.environ]
    if not secrets and not hidden:
        yield
        return
    before = {name: os.environ.get(name) for name in (*secrets, *hidden)}
    for name in hidden:
        del os.environ[name]
    os.environ.update(secrets)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _leave_failure_log(call: Call, client: Client, log: bytes, exc: BaseException) -> None:
    """Store what a failing call printed, then its full traceback (the worker's own frames,
    which do not survive the trip back to the orchestrator), in the step's run; best effort:
    the step's own exception is what must reach the orchestrator."""
    if call.run_id is None:
        return
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    trace = redact(trace, tuple(call.secrets.values()))
    text = log + (b"\n" if log and not log.endswith(b"\n") else b"") + trace.encode()
    with contextlib.suppress(Exception):
        client.runs.upload_artifact(call.run_id, call.failure_log, io.BytesIO(text))


def run_call(call: Call) -> Result:
    """Run one step call; exceptions propagate to the executor's future."""
    client = call.client or _client_for(call.settings)
    args = dict(call.params)
    for name, value in call.inputs.items():
        args[name] = _materialize(value, client)
    started = time.monotonic()
    attached = None
    if call.run_id is not None:
        info = _RunInfo(call.run_id, call.project, call.experiment)
        # The orchestrator keeps the step's run alive; the sender starts with a first metric.
        attached = ActiveRun(client, info, owns_client=False, lazy=True)
    token = _ACTIVE.set((*_ACTIVE.get(), attached)) if attached is not None else None
    hidden = tuple(call.secrets.values())
    try:
        with _captured(hidden) as log, _environment(call.secrets):
            fn = _function(call.fn) if isinstance(call.fn, bytes) else call.fn
            try:
                result = fn(**args)
            except BaseException as exc:
                _leave_failure_log(call, client, _log_of(log, hidden), exc)
                raise
    finally:
        if token is not None:
            _ACTIVE.reset(token)
        if attached is not None:
            attached.release()
    seconds = time.monotonic() - started
    ref = values.dump(
        result,
        Path(call.out_dir) / "value",
        allow_pickle=call.allow_pickle,
        where=f"step {call.step}",
    )
    folder = Path(call.out_dir) / "value"
    _store(ref, folder, client)  # where it was written: the worker may be on another machine
    return Result(ref=ref, out_dir=str(folder), seconds=seconds, log=_log_of(log, hidden))
