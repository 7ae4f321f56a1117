"""``dy.predict_batch``: score a dataset version with a registered model into a new version.

The model URI is resolved once, at the start (an alias that moves during the job changes
nothing: every share predicts with the version resolved then). The input version's files
are cut in shares (:mod:`dockyard.serving.batch`) that run in this process, one after the
other ("local"), on the process pool or on Ray, each streaming its rows in record batches and
uploading its Parquet parts; the output version is committed once, when every share is done,
so a failure leaves no version behind (the parts already uploaded are freed by ``gc``).

The job is a run: the run that is active, else a new run in the output's project (experiment
``batch-inference``). The run reads the input version and the model version and writes the
output version, so the output's lineage reaches the data and the model, and through the
model's run its code and training data.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.client.client import Client, connect
from dockyard.compute.executor import Executor, Resources
from dockyard.compute.registry import open_executor
from dockyard.core.errors import InvalidInput
from dockyard.core.schemas import valid_name
from dockyard.data.schemas import Version, VersionFile
from dockyard.registry.schemas import ModelVersion
from dockyard.registry.uris import RegistryRef, parse_model_uri
from dockyard.sdk.capture import Capture
from dockyard.sdk.data import DatasetVersion
from dockyard.sdk.predict_worker import Part, PredictTask
from dockyard.sdk.projects import ensure_project
from dockyard.sdk.runs import _ACTIVE, start_run
from dockyard.serving.batch import (
    BATCH_ROWS,
    TASK_ROWS,
    OutputPlan,
    Share,
    check_sizes,
    plan_output,
    plan_shares,
)

if TYPE_CHECKING:
    import pandas as pd

EXPERIMENT = "batch-inference"
LOCAL = ("local", "inprocess")
POOL = ("pool", "process")
Progress = Callable[[int, int], None]
"""Called as ``progress(rows_done, rows_total)``."""


@dataclass(frozen=True)
class BatchPredictions:
    """What :func:`predict_batch` made: the output version, the model version and input
    version it came from, the run that recorded it, and how long it took."""

    output: DatasetVersion
    model: ModelVersion
    input: Version
    run_id: str
    rows: int
    seconds: float
    executor: str

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def to_pandas(self) -> pd.DataFrame:
        """The output version's rows."""
        return self.output.to_pandas()

    def __repr__(self) -> str:
        return (
            f"<BatchPredictions {self.output.ref} from {self.input.ref} by "
            f"{self.model.model}/v{self.model.version}: {self.rows:,} rows in "
            f"{self.seconds:.1f} s on {self.executor}>"
        )


def predict_batch(
    model: str | ModelVersion,
    input: str | DatasetVersion | Version,
    output: str,
    *,
    executor: str | Executor = "local",
    batch_size: int = BATCH_ROWS,
    columns: Sequence[str] | None = None,
    keep: Sequence[str] | None = None,
    proba: bool = False,
    project: str | None = None,
    message: str = "",
    task_rows: int = TASK_ROWS,
    trusted: bool = False,
    progress: Progress | None = None,
    client: Client | None = None,
) -> BatchPredictions:
    """Score the dataset version ``input`` with ``model`` into a new version of ``output``.

    ``model``: ``models:/name@alias``, ``models:/name/3``, ``models:/name`` (latest) or a
    :class:`ModelVersion`; an alias is resolved once, at the start. ``input``:
    ``project/dataset@version`` (``@latest`` or no ``@`` for the latest; no ``project/`` for
    ``project``), or a version object. ``output``: ``project/dataset`` or ``dataset``.

    The output holds the ``keep`` columns of the input (default: every column the model
    does not take, such as keys, timestamps and labels; ``keep=[]`` for none), then
    ``prediction`` (``prediction_0``... for several values per row) and, with
    ``proba=True``, ``proba_<class>`` per class. ``columns`` are the input columns the model
    takes (default: its signature's inputs); they are checked, and missing ones named,
    before any work starts.

    ``executor``: ``"local"`` (this process, streaming), ``"pool"`` (a process pool on this
    machine), ``"ray"`` (a local Ray, or the Ray this process joined), ``"ray://host:port"``
    or ``"ray:auto"``, or an executor object (left open). Each file of the input is cut in
    shares of about ``task_rows`` rows (whole row groups), each a unit of work that loads the
    model itself; the cut is the same on every executor, and so is the output. Memory per
    worker holds a few batches of ``batch_size`` rows and a row group in and out (at most
    64 MiB each as dockyard writes them), not the dataset.

    ``progress(rows_done, rows_total)`` is called as rows are done (per batch locally, per
    share elsewhere). An empty input version is refused. Inside an active run, the run
    records the input, the model and the output; otherwise a run is made for the job.
    """
    check_sizes(batch_size, task_rows)
    started = time.monotonic()
    out_project, out_name = _output_ref(output, project)
    name = _executor_name(executor)
    c, owned = _client(client)
    try:
        version = _model_version(c, model)
        source = _input_version(c, input, project)
        if source.rows == 0:
            raise InvalidInput(
                f"{source.ref} has no rows: there is nothing to predict (an empty input makes "
                "no output version)"
            )
        plan = plan_output(
            version.manifest.signature,
            source.columns,
            columns=columns,
            keep=keep,
            proba=proba,
            has_proba=version.manifest.predict_proba,
            where=source.ref,
        )
        shares = plan_shares(source.files, task_rows)
        ensure_project(c, out_project)
        job = _Job(c, version, plan, batch_size, trusted, source.rows, progress)
        params = {
            "model": version.uri,
            "input": source.ref,
            "output": f"{out_project}/{out_name}",
            "executor": name,
            "batch_size": batch_size,
            "proba": proba,
        }
        with (
            _runner(executor, len(shares)) as runner,
            _job_run(c, out_project, f"predict {version.model}/v{version.version}", params) as run,
        ):
            c.datasets.record_use(source.project, source.dataset, source.number, run.id, "input")
            c.models.record_use(version.model, version.version, run.id)
            rows, parts = job.here(shares) if runner is None else job.on(runner, shares)
            written = c.datasets.commit(
                out_project,
                out_name,
                [VersionFile(digest=d, size=s, rows=r) for d, s, r in parts],
                message=message or f"predictions of {version.uri} on {source.ref}",
                source=f"{version.uri} on {source.ref}",
                run_id=run.id,
            )
            seconds = time.monotonic() - started
            run.log({"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds})
    except BaseException:
        if owned:
            c.close()
        raise
    # a client made here stays open: the output version reads through it (as dy.dataset's)
    return BatchPredictions(
        output=DatasetVersion(c, written),
        model=version,
        input=source,
        run_id=run.id,
        rows=rows,
        seconds=seconds,
        executor=name,
    )


# -- what the job takes -------------------------------------------------------------------


def _client(client: Client | None) -> tuple[Client, bool]:
    """The given client, else the active run's, else a new one (and whether it is new)."""
    if client is not None:
        return client, False
    stack = _ACTIVE.get()
    if stack:
        return stack[-1].client, False
    return connect(), True


def _model_version(client: Client, model: str | ModelVersion) -> ModelVersion:
    if isinstance(model, ModelVersion):
        return model
    if not isinstance(model, str):
        raise InvalidInput(f"model must be a models:/ URI or a ModelVersion, not {model!r}")
    ref = parse_model_uri(model)
    if not isinstance(ref, RegistryRef):
        raise InvalidInput(
            f"{model} is a run's model; batch inference takes a registered version "
            "(models:/name@alias, models:/name/3), whose lineage it records: register it first"
        )
    return client.models.version(ref.name, ref.ref)


def _split(ref: str, project: str | None, what: str) -> tuple[str, str, str | None]:
    """``project/dataset@version`` -> (project, dataset, version or None)."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(f"{what} must name a dataset as project/dataset, not {ref!r}")
    path, at, number = ref.strip().partition("@")
    owner, slash, name = path.rpartition("/")
    if not slash:
        owner = project or ""
    if not owner:
        raise InvalidInput(
            f"{what} {ref!r} names no project: write project/{path} or pass project= (-p)"
        )
    valid_name(owner, "project name")
    valid_name(name, f"{what} dataset name")
    if at and not number:
        raise InvalidInput(f"{what} {ref!r}: give a version after '@' (a number or latest)")
    return owner, name, number if at else None


def _input_version(
    client: Client, source: str | DatasetVersion | Version, project: str | None
) -> Version:
    if isinstance(source, DatasetVersion):
        return source.info
    if isinstance(source, Version):
        return source
    owner, name, number = _split(source, project, "input")
    return client.datasets.version(owner, name, number or "latest")


def _output_ref(output: str, project: str | None) -> tuple[str, str]:
    owner, name, number = _split(output, project, "output")
    if number is not None:
        raise InvalidInput(
            f"output {output!r} names a version; name the dataset only: each job makes a new "
            "version of it"
        )
    return owner, name


def _executor_name(executor: str | Executor) -> str:
    if isinstance(executor, str):
        return executor
    if not callable(getattr(executor, "submit", None)):
        raise InvalidInput(
            "executor must be 'local', 'pool', 'ray', a Ray address or a dockyard executor, "
            f"not {type(executor).__name__}"
        )
    return str(getattr(executor, "name", type(executor).__name__))


# -- the run that records the job -----------------------------------------------------------


@dataclass
class _JobRun:
    id: str
    log: Callable[[dict[str, float]], None]


@contextlib.contextmanager
def _job_run(client: Client, project: str, name: str, params: dict[str, Any]) -> Iterator[_JobRun]:
    """The active run, else a new run for the job, failed if the job fails."""
    stack = _ACTIVE.get()
    if stack:  # the user's run: its metrics are theirs
        yield _JobRun(stack[-1].id, lambda metrics: None)
        return
    with start_run(
        project,
        experiment=EXPERIMENT,
        name=name,
        params=params,
        capture=Capture.off(),
        client=client,
    ) as run:
        yield _JobRun(run.id, run.log_metrics)


# -- running the shares ---------------------------------------------------------------------


@dataclass
class _Job:
    client: Client
    model: ModelVersion
    plan: OutputPlan
    batch_size: int
    trusted: bool
    total: int
    progress: Progress | None
    done: int = 0

    def _advance(self, rows: int) -> None:
        self.done += rows
        if self.progress is not None:
            self.progress(self.done, self.total)

    def _task(self, share: Share, **local: Any) -> PredictTask:
        return PredictTask(
            share=share,
            model=self.model,
            plan=self.plan,
            batch_size=self.batch_size,
            trusted=self.trusted,
            settings=self.client.settings,
            **local,
        )

    def here(self, shares: list[Share]) -> tuple[int, list[Part]]:
        """In this process, streaming: progress per batch, the model loaded once."""
        loaded = self.client.models.load(self.model, trusted=self.trusted)
        rows, parts = 0, []
        for share in shares:
            task = self._task(share, client=self.client, loaded=loaded, progress=self._advance)
            share_rows, share_parts = task()
            rows += share_rows
            parts += share_parts
        return rows, parts

    def on(self, runner: Executor, shares: list[Share]) -> tuple[int, list[Part]]:
        """On an executor, one unit of work per share (one CPU and one model thread each)."""
        futures: list[Future[tuple[int, list[Part]]]] = []
        for share in shares:
            task = self._task(share, threads=1)
            futures.append(runner.submit(task, resources=Resources(cpu=1), label=share.label))
        position = {future: i for i, future in enumerate(futures)}
        pending = set(futures)
        results: dict[int, tuple[int, list[Part]]] = {}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                index = position[future]
                try:
                    results[index] = _checked(future.result())
                except Exception as exc:
                    for other in pending:
                        other.cancel()
                    exc.add_note(f"in {shares[index].label}")
                    raise
                self._advance(results[index][0])
        rows = sum(results[i][0] for i in range(len(futures)))
        return rows, [part for i in range(len(futures)) for part in results[i][1]]


@contextlib.contextmanager
def _runner(executor: str | Executor, shares: int) -> Iterator[Executor | None]:
    """The executor to run on (None: this process, streaming); one opened here is closed
    when the job ends. A name that is no executor is refused before any work."""
    if not isinstance(executor, str):
        yield executor
        return
    if executor in LOCAL:
        yield None
        return
    if executor in POOL:
        workers = max(1, min(shares, os.cpu_count() or 1))
        opened = open_executor("process", max_workers=workers)
    else:
        try:
            opened = open_executor(executor)
        except InvalidInput as exc:
            if "unknown executor" not in exc.message:
                raise
            raise InvalidInput(
                f"unknown executor {executor!r}: use local, pool, ray, ray:auto or "
                "ray://HOST:PORT (or an executor registered under dockyard.executors)"
            ) from None
    try:
        yield opened
    finally:
        opened.close()


def _checked(result: Any) -> tuple[int, list[Part]]:
    """A share's result as it must be: rows read, then ``(digest, bytes, rows)`` per part."""
    rows, parts = result
    if not isinstance(rows, int) or not all(
        isinstance(d, str) and isinstance(s, int) and isinstance(r, int) for d, s, r in parts
    ):
        raise InvalidInput(f"a share returned {type(result).__name__}, not rows and parts")
    return rows, [(d, s, r) for d, s, r in parts]
