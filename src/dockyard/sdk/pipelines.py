"""``dy.run``, ``dy.resume``: run pipelines built with ``@dy.step`` and ``@dy.pipeline``."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dockyard.client.client import Client, connect
from dockyard.compute.executor import Executor
from dockyard.compute.registry import open_executor as open_named
from dockyard.core.errors import InvalidInput
from dockyard.core.paths import confined, confined_name
from dockyard.pipelines import values
from dockyard.pipelines.graph import Pipeline
from dockyard.pipelines.schemas import IMPORT_PATH, ItemsRef, PipelineRun, StepRecord
from dockyard.pipelines.values import ValueRef
from dockyard.sdk.orchestrator import Orchestrator
from dockyard.sdk.runs import _ACTIVE

# What a process-pool worker imports as it starts, and whether the pool keeps fresh
# workers for the next ``dy.run`` of this process (see dockyard.compute.pool).
_PROCESS_OPTIONS: dict[str, Any] = {"preload": ("dockyard.sdk.step_worker",), "keep_warm": True}


def open_executor(spec: str | Executor | None) -> tuple[Executor, str, bool]:
    """The executor for ``spec``, its name, and whether the caller must close it."""
    if spec is not None and not isinstance(spec, str):
        return spec, getattr(spec, "name", type(spec).__name__), False
    name = spec or "process"
    options = _PROCESS_OPTIONS if name == "process" else {}
    return open_named(name, **options), name, True


class PipelineResult:
    """A finished pipeline run: its record, and its steps' outputs on demand.

    ``pickle_steps`` are the nodes whose step declared ``pickle=True`` (``dy.run`` knows
    them from the pipeline's code): only their outputs may be unpickled (or be models
    whose loading runs stored code) when read back.
    """

    def __init__(
        self, client: Client, run: PipelineRun, pickle_steps: frozenset[str] = frozenset()
    ) -> None:
        self._client = client
        self.run = run
        self._pickle_steps = pickle_steps

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def steps(self) -> list[StepRecord]:
        return self.run.steps

    def step(self, node: str) -> StepRecord:
        try:
            return self.run.step(node)
        except KeyError:
            known = ", ".join(s.node for s in self.run.steps)
            raise InvalidInput(f"pipeline run {self.id} has no step {node!r} ({known})") from None

    def output(self, node: str, *, allow_pickle: bool | None = None) -> Any:
        """The value a step returned (a fan-out: the list of its values), read back.

        A pickled value (or a model whose loading runs stored code) is read only when its
        step declared ``pickle=True`` in the pipeline ``dy.run`` ran, or when
        ``allow_pickle=True`` says you trust whoever could write this run's records.
        """
        record = self.step(node)
        if record.output is None:
            raise InvalidInput(f"step {node} has no output ({record.status})")
        allowed = node in self._pickle_steps if allow_pickle is None else allow_pickle
        return self._load(record.output, allowed, f"the output of step {node}")

    def _load(self, output: ValueRef | ItemsRef, allow_pickle: bool, where: str) -> Any:
        if isinstance(output, ItemsRef):
            refs = values.parse_refs(self._client.blobs.get(output.digest))
            return [self._load(r, allow_pickle, f"{where}[{i}]") for i, r in enumerate(refs)]
        read = self._client.settings.home / "cache" / "values" / "read"
        cache = confined_name(read, output.digest, "value digest")
        files: dict[str, Path] = {}
        for f in output.files:
            target = confined(cache, f.path, "value file")
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                self._client.blobs.download(f.digest, target)
            files[f.path] = target
        return values.load_files(output, files, allow_pickle=allow_pickle, where=where)

    def __repr__(self) -> str:
        return f"<PipelineResult {self.run.pipeline} {self.id} {self.status}>"

    def _repr_html_(self) -> str:
        return self.run._repr_html_()


def run(
    pipeline: Pipeline,
    *,
    project: str | None = None,
    executor: str | Executor | None = "process",
    client: Client | None = None,
    on_event: Callable[[str, StepRecord], None] | None = None,
    resumed_from: str | None = None,
    **params: Any,
) -> PipelineResult:
    """Run ``pipeline`` with ``params``; returns when it is done (succeeded or failed).

    ``executor``: ``"process"`` (default, a local process pool honouring each step's
    resources), ``"inprocess"`` (debugging), ``"ray"`` or a Ray address. Steps whose
    code, inputs, parameters and environment match an earlier run reuse its outputs.
    """
    if not isinstance(pipeline, Pipeline):
        raise InvalidInput(f"dy.run takes a @dy.pipeline function, not {pipeline!r}")
    owns = client is None
    if client is None:
        stack = _ACTIVE.get()
        client = stack[-1].client if stack else connect()
        owns = not stack
    chosen, name, close = open_executor(executor)
    try:
        orchestrator = Orchestrator(
            client,
            pipeline,
            params,
            project=project or "default",
            executor=chosen,
            executor_name=name,
            resumed_from=resumed_from,
            on_event=on_event,
        )
        return PipelineResult(client, orchestrator.run(), orchestrator.pickle_steps)
    finally:
        if close:
            chosen.close()
        if owns:
            client.close()


def load_pipeline(import_path: str) -> Pipeline:
    """The pipeline at ``module:function`` (or ``path/to/file.py:function``)."""
    module_name, sep, attr = import_path.partition(":")
    if not sep or not attr:
        raise InvalidInput(f"{import_path!r}: name a pipeline as module:function")
    try:
        if module_name.endswith(".py"):
            spec = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if spec is None or spec.loader is None:
                raise ImportError(module_name)
            module = importlib.util.module_from_spec(spec)
            import sys

            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except (ImportError, OSError, SyntaxError) as exc:
        raise InvalidInput(f"cannot import {module_name!r}: {exc}") from None
    found = getattr(module, attr, None)
    if not isinstance(found, Pipeline):
        raise InvalidInput(f"{import_path} is not a @dy.pipeline function")
    return found


def resume(
    run_id: str,
    *,
    pipeline: Pipeline | None = None,
    executor: str | Executor | None = None,
    client: Client | None = None,
    on_event: Callable[[str, StepRecord], None] | None = None,
) -> PipelineResult:
    """Run a failed (or cancelled) pipeline run again with the same parameters: its
    finished steps are reused through the cache, so it resumes at the step that failed."""
    own = client is None
    active = client or connect()
    try:
        earlier = active.pipelines.get(run_id)
        if earlier.status in ("running", "succeeded"):
            raise InvalidInput(
                f"pipeline run {run_id} is {earlier.status}: only failed or cancelled runs resume"
            )
        if pipeline is None:
            if earlier.import_path is None:
                raise InvalidInput(
                    f"pipeline {earlier.pipeline} was defined in a script's __main__ and cannot "
                    "be imported again: call dy.resume(run_id, pipeline=...)"
                )
            if not re.fullmatch(IMPORT_PATH, earlier.import_path):
                # the record is not what dy.run writes (module:function): never import a
                # file or anything else a stored record names
                raise InvalidInput(
                    f"pipeline run {run_id} records {earlier.import_path[:100]!r}, which is not "
                    "a module:function name; call dy.resume(run_id, pipeline=...)"
                )
            pipeline = load_pipeline(earlier.import_path)
        return run(
            pipeline,
            project=earlier.project,
            executor=executor or earlier.executor,
            client=active,
            on_event=on_event,
            resumed_from=run_id,
            **earlier.params,
        )
    finally:
        if own:
            active.close()
