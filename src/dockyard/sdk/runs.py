"""``dy.start_run``: a tracked run as a context manager, and the module-level logging API."""

from __future__ import annotations

import atexit
import contextvars
import io
import os
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from dockyard.client.client import Client, connect
from dockyard.core.errors import InvalidInput, Unavailable
from dockyard.sdk.batcher import FLUSH_SECONDS, MetricBatcher, checked_flush_interval
from dockyard.sdk.capture import Capture, OutputCapture, OutputShipper, SystemSampler
from dockyard.sdk.run_capture import BackgroundCapture
from dockyard.sdk.spool import Spool
from dockyard.tracking.schemas import Run, RunStatus

OUTPUT_LOG = "dockyard/output.log"  # the artifact holding a run's printed output
FLUSH_INTERVAL_ENV = "DOCKYARD_FLUSH_INTERVAL"
_ACTIVE: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "dockyard_active_runs", default=()
)


class RunInfo(Protocol):
    """What an active run needs of its run: a :class:`Run` has it."""

    @property
    def id(self) -> str: ...

    @property
    def project(self) -> str: ...

    @property
    def experiment(self) -> str: ...


class ActiveRun:
    """A run being recorded. Metrics are batched in the background; use it as a context
    manager (or call :meth:`end`) so that everything is delivered and the run is closed."""

    def __init__(
        self,
        client: Client,
        run: RunInfo,
        *,
        owns_client: bool,
        capture: Capture = Capture.off(),
        lazy: bool = False,
        user_tags: Iterable[str] = (),
        flush_interval: float = FLUSH_SECONDS,
    ) -> None:
        """``lazy``: start the metric sender (and its heartbeats) only when a metric is
        logged; for runs someone else keeps alive, such as a pipeline's step runs.
        ``user_tags``: keys the caller set, which the git and environment capture (run in
        the background, finished by :meth:`end`) leaves alone. ``flush_interval``: see
        :func:`start_run`."""
        self.client = client
        self.id = run.id
        self.project = run.project
        self.experiment = run.experiment
        self._owns_client = owns_client
        self._flush_interval = checked_flush_interval(flush_interval)
        self._sender: MetricBatcher | None = None if lazy else self._start_sender()
        self._ended = False
        self._output = OutputCapture() if capture.output else None
        self._shipper = (
            OutputShipper(
                self._output, self._upload_output, capture.output_interval, f"run {run.id}"
            )
            if self._output is not None and capture.output_interval is not None
            else None
        )
        self._sampler = (
            SystemSampler(self.log_metrics, capture.system_interval)
            if capture.system_metrics
            else None
        )
        # Started last: its thread keeps the interpreter busy while the others start.
        self._background = (
            BackgroundCapture(
                capture,
                Path.cwd(),
                self._set_captured_tags,
                self._upload_file,
                claimed=user_tags,
                what=f"run {run.id}",
            )
            if capture.git or capture.environment
            else None
        )
        atexit.register(self.end)  # a script that never ends its run still flushes at exit

    def _start_sender(self) -> MetricBatcher:
        spool = Spool.of(self.client.settings)
        self._sender = MetricBatcher(self.client.runs, self.id, spool, self._flush_interval)
        return self._sender

    def _upload_output(self, log: bytes) -> None:
        self.client.runs.upload_artifact(self.id, OUTPUT_LOG, io.BytesIO(log))

    def _upload_file(self, path: str, content: bytes) -> None:
        self.client.runs.upload_artifact(self.id, path, io.BytesIO(content))

    def _set_captured_tags(self, tags: Mapping[str, str]) -> None:
        self.client.runs.set_tags(self.id, tags)

    @property
    def _batcher(self) -> MetricBatcher:
        return self._sender if self._sender is not None else self._start_sender()

    def log_metrics(
        self, metrics: Mapping[str, float], *, step: int = 0, timestamp_ms: int | None = None
    ) -> None:
        """Record one value per metric at ``step``; returns at once (sent in the background)."""
        stamp = timestamp_ms if timestamp_ms is not None else time.time_ns() // 1_000_000
        self._batcher.add(metrics, step, stamp)

    def log_metric(self, key: str, value: float, *, step: int = 0) -> None:
        """Record one metric value at ``step``."""
        self.log_metrics({key: value}, step=step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record params (each key once; logging it again with another value is refused)."""
        self.client.runs.log_params(self.id, params)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set tags (a key set again takes the new value)."""
        if self._background is not None:
            self._background.claim(tags)
        self.client.runs.set_tags(self.id, tags)

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        """Upload a file or a whole folder as the run's artifact(s)."""
        self.client.runs.log_artifact(self.id, local_path, artifact_path)

    def flush(self) -> None:
        """Deliver every metric point logged so far."""
        if self._sender is not None:
            self._sender.flush()

    def info(self) -> Run:
        """The run as stored now (params, tags, metric summaries, status)."""
        self.flush()
        return self.client.runs.get(self.id)

    def release(self) -> None:
        """Deliver what is pending and stop recording, leaving the run open (its owner, e.g.
        a pipeline orchestrator, ends it)."""
        if self._ended:
            return
        self._ended = True
        atexit.unregister(self.end)
        if self._background is not None:
            self._background.finish()
        if self._shipper is not None:
            self._shipper.stop()
        if self._sampler is not None:
            self._sampler.stop()
        if self._sender is not None:
            self._sender.close()
        if self._owns_client:
            self.client.close()

    def end(self, status: RunStatus = "finished") -> Run | None:
        """Deliver what is pending and close the run with ``status``.

        If the server cannot be reached, the points stay in the local spool (delivered by
        the next run or :func:`deliver_spool`) and a warning says so instead of failing
        the program at its very end.
        """
        if self._ended:
            return None
        self._ended = True
        atexit.unregister(self.end)
        try:
            if self._background is not None:
                self._background.finish()
            if self._sampler is not None:
                self._sampler.stop()
            if self._shipper is not None:
                self._shipper.stop()
            if self._output is not None:
                log = self._output.stop()
                shipped = self._shipper is not None and self._shipper.shipped(self._output.size())
                if log and not shipped:
                    self._upload_output(log)
            if self._sender is not None:
                self._sender.close()
            return self.client.runs.end(self.id, status)
        except Unavailable as exc:
            warnings.warn(
                f"run {self.id} could not be closed ({exc}); its metrics stay in the local "
                "spool and are delivered by the next run or dy.deliver_spool()",
                stacklevel=2,
            )
            return None
        finally:
            if self._owns_client:
                self.client.close()

    def __enter__(self) -> ActiveRun:
        _ACTIVE.set((*_ACTIVE.get(), self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack = _ACTIVE.get()
        _ACTIVE.set(tuple(r for r in stack if r is not self))
        if exc_type is None:
            status: RunStatus = "finished"
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "killed"
        else:
            status = "failed"
        self.end(status)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} in {self.project}/{self.experiment}>"

    def _repr_html_(self) -> str:
        return self.info()._repr_html_()


def start_run(
    project: str,
    *,
    experiment: str = "default",
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    note: str = "",
    nested: bool = False,
    capture: Capture | None = None,
    client: Client | None = None,
    flush_interval: float | None = None,
) -> ActiveRun:
    """Start recording a run; ``with dy.start_run("fraud") as run: run.log_metrics(...)``.

    With ``nested=True`` inside another run, the new run is its child. ``client`` defaults
    to ``dy.connect()`` (embedded, or the server in ``DOCKYARD_URL``). Batches a crashed
    process left in the spool are delivered first, and (embedded; a server does it by
    itself) runs whose process died are marked failed. ``capture`` chooses what is recorded
    automatically: the git commit, branch, remote and uncommitted diff; the environment
    (Python, packages, OS, CPU, memory, GPUs, command line); the run's printed output;
    system metrics (default: all of them). The
    git and environment capture runs on a background thread and is stored by the time the
    run ends (only a process killed outright before then loses it).

    Metrics are written to a local spool every ``flush_interval`` seconds (default: the
    ``DOCKYARD_FLUSH_INTERVAL`` environment variable, else 1) or 20k points, then sent; a
    killed process loses at most the points of the last interval. ``flush_interval=0``
    writes every ``log_metrics`` call to the spool (fsynced) before it returns: nothing
    logged is lost, at the cost of a disk write per call.
    """
    interval = _flush_interval(flush_interval)
    wanted = capture if capture is not None else Capture()
    owns = client is None
    active_client = client if client is not None else connect()
    try:
        parent = _ACTIVE.get()[-1].id if nested and _ACTIVE.get() else None
        Spool.of(active_client.settings).deliver(active_client.runs.log_batch)
        embedded = getattr(active_client.transport, "principal", None)
        if embedded is not None and embedded.is_admin:  # a server reaps by itself (admin)
            active_client.runs.reap()
        run = active_client.runs.create(
            project,
            experiment=experiment,
            name=name,
            parent_id=parent,
            params=params,
            tags=tags,
            note=note,
            create_project=True,  # made on first use, as MLflow makes experiments
        )
    except BaseException:
        if owns:
            active_client.close()
        raise
    # The git and environment capture finishes in the background (see sdk/run_capture.py).
    return ActiveRun(
        active_client,
        run,
        owns_client=owns,
        capture=wanted,
        user_tags=tags or (),
        flush_interval=interval,
    )


def _flush_interval(explicit: float | None) -> float:
    """The explicit argument, else ``DOCKYARD_FLUSH_INTERVAL``, else the default."""
    if explicit is not None:
        return checked_flush_interval(explicit)
    text = os.environ.get(FLUSH_INTERVAL_ENV, "").strip()
    if not text:
        return FLUSH_SECONDS
    try:
        return checked_flush_interval(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{FLUSH_INTERVAL_ENV}={text!r}: {exc}") from None


def active_run() -> ActiveRun:
    """The innermost run started with ``with dy.start_run(...)`` in this context."""
    stack = _ACTIVE.get()
    if not stack:
        raise InvalidInput("no active run: use `with dy.start_run(project=...) as run:` first")
    return stack[-1]


def log_metrics(metrics: Mapping[str, float], *, step: int = 0) -> None:
    """Log metrics to the active run."""
    active_run().log_metrics(metrics, step=step)


def log_metric(key: str, value: float, *, step: int = 0) -> None:
    """Log one metric to the active run."""
    active_run().log_metrics({key: value}, step=step)


def log_params(params: Mapping[str, Any]) -> None:
    """Log params to the active run."""
    active_run().log_params(params)


def set_tags(tags: Mapping[str, str]) -> None:
    """Set tags on the active run."""
    active_run().set_tags(tags)


def deliver_spool(client: Client | None = None) -> int:
    """Send metric batches a crashed or disconnected process left behind; return the count."""
    target = client if client is not None else connect()
    try:
        return Spool.of(target.settings).deliver(target.runs.log_batch)
    finally:
        if client is None:
            target.close()
