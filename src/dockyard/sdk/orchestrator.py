"""``dy.run``: run a pipeline's DAG on an executor, with caching, retries, timeouts, resume
and cancellation, recording everything as tracked runs (a parent run, a child per step).

The orchestrator runs in the caller's process. It decides what runs (a step whose cache
key is known is not run again), ships step calls to the executor, stores their outputs in
the blob store and records each step's state, so the same run shows embedded and on a
server.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import heapq
import json
import queue
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from dockyard.client.client import Client
from dockyard.compute.executor import Executor
from dockyard.core.errors import DockyardError, Forbidden, InvalidInput
from dockyard.core.secrets import redact
from dockyard.pipelines import values
from dockyard.pipelines.graph import Node, Output, Pipeline, Step
from dockyard.pipelines.schemas import (
    DONE,
    ITEM_CODES,
    ArtifactIn,
    CacheEntry,
    ItemsRef,
    PipelineRun,
    PipelineRunCreate,
    StepFinish,
    StepRecord,
    StepStart,
)
from dockyard.pipelines.values import ValueRef
from dockyard.sdk.capture import Capture
from dockyard.sdk.projects import ensure_project
from dockyard.sdk.runs import start_run
from dockyard.sdk.step_heartbeats import StepHeartbeats
from dockyard.sdk.step_keys import StepKeys, jsonable
from dockyard.sdk.step_worker import OUTPUTS, Call, Input, Result, fetch, run_call

Event = Callable[[str, StepRecord], None]
CANCEL_POLL_S = 1.0


@dataclass
class _Work:
    """A call in flight (or waiting for its retry)."""

    node: Node
    item: int | None
    attempt: int
    key: str | None
    call: Call


@dataclass
class _MapState:
    refs: list[ValueRef | None]
    files: list[dict[str, str]]
    codes: list[str]
    entries: list[CacheEntry] = field(default_factory=list)


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, DockyardError):
        return f"{type(exc).__name__}: {exc.message}"
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(lines[-6:])[-4000:]


class Orchestrator:
    """One pipeline run, from building the graph to the final status."""

    def __init__(
        self,
        client: Client,
        pipeline: Pipeline,
        params: Mapping[str, Any],
        *,
        project: str,
        executor: Executor,
        executor_name: str,
        resumed_from: str | None = None,
        on_event: Event | None = None,
    ) -> None:
        self.client = client
        self.pipeline = pipeline
        self.params = pipeline.params(params)
        self.graph = pipeline.build(self.params)
        self.order = self.graph.order()
        self.project = project
        self.executor = executor
        self.executor_name = executor_name
        self.resumed_from = resumed_from
        self.on_event = on_event
        self.records: dict[str, StepRecord] = {}
        self.inputs: dict[str, Input] = {}
        self.digests: dict[str, str] = {}
        self.downstream: dict[str, list[str]] = {n.id: [] for n in self.order}
        for n in self.order:
            for up in n.upstream():
                self.downstream[up].append(n.id)
        self.keys = StepKeys()
        # The nodes whose step declares pickle=True: only their stored values are read with
        # pickle (or as models whose loading runs stored code).
        self.pickle_steps = frozenset(
            n.id for n in self.order if n.step is not None and n.step.pickle
        )
        self.maps: dict[str, _MapState] = {}
        self._candidates = [n.id for n in self.order if not n.upstream()]
        self.child_runs: dict[str, str] = {}
        self.work_dir = Path(tempfile.mkdtemp(prefix="dockyard-pipeline-"))
        self._secrets: dict[tuple[str, ...], dict[str, str]] = {}
        # Work runs with the settings to connect with, never with this process's secrets key.
        self._work_settings = dataclasses.replace(
            client.settings, secrets_key=None, secrets_key_file=None
        )

    # -- bookkeeping ----------------------------------------------------------------------

    def _save(self, *records: StepRecord) -> None:
        self.client.pipelines.update_steps(self.run_id, list(records))
        for r in records:
            self._emit(r)

    def _input_for(self, node_id: str) -> Input:
        found = self.inputs.get(node_id)
        if found is not None:
            return found
        record = self.records[node_id]
        output = record.output
        if isinstance(output, ItemsRef):
            refs = values.parse_refs(self.client.blobs.get(output.digest))
            found = Input(items=[self._stored_input(node_id, r) for r in refs])
        else:
            assert output is not None
            found = self._stored_input(node_id, output)
            found.origin_run = record.run_id or record.cached_from
        self.inputs[node_id] = found
        return found

    def _stored_input(self, node_id: str, ref: ValueRef) -> Input:
        """A stored value's files on local disk (a model's in its folder layout), read as
        the step that made it allows."""
        files = {k: str(v) for k, v in fetch(ref, self.client).items()}
        return self._local_input(node_id, ref, files)

    def _local_input(
        self, node_id: str, ref: ValueRef, files: dict[str, str], origin_run: str | None = None
    ) -> Input:
        return Input(
            ref=ref,
            files=files,
            allow_pickle=node_id in self.pickle_steps,
            source=f"step {node_id}",
            origin_run=origin_run,
        )

    def _artifacts(self, result: Result, prefix: str) -> list[ArtifactIn]:
        """A result's files (stored by the worker) as artifacts of the step's run."""
        return [
            ArtifactIn(path=f"{prefix}{f.path}", digest=f.digest, size=f.size)
            for f in result.ref.files
        ]

    def _params(self, node: Node) -> dict[str, Any]:
        """The constant arguments of a node (a fan-out's items aside)."""
        return {
            name: value
            for name, value in node.args.items()
            if not isinstance(value, Output) and not (node.kind == "map" and name == node.map_arg)
        }

    def _inputs(self, node: Node) -> dict[str, Input]:
        """The upstream values a node takes, on local disk (fetched only when it runs)."""
        return {
            name: self._input_for(value.node)
            for name, value in node.args.items()
            if isinstance(value, Output) and not (node.kind == "map" and name == node.map_arg)
        }

    def _call(self, node: Node, params: dict[str, Any], inputs: dict[str, Input], tag: str) -> Call:
        step = node.step
        assert step is not None
        out_dir = self.work_dir / f"{node.id}{tag}-{time.monotonic_ns()}"
        return Call(
            fn=step.fn if self.executor_name == "inprocess" else self.keys.pickled(step),
            step=node.id,
            inputs=inputs,
            params=params,
            out_dir=str(out_dir),
            allow_pickle=step.pickle,
            run_id=self.child_runs.get(node.id),
            project=self.project,
            experiment=self.pipeline.name,
            settings=self._work_settings,
            client=self.client if self.executor_name == "inprocess" else None,
            failure_log=f"dockyard/failed/{tag.lstrip('-')}.log" if tag else "dockyard/output.log",
        )

    def _start_params(self, params: Mapping[str, Any]) -> dict[str, str]:
        """A step's constant arguments, as the params of its run."""
        return {
            k: str(v)[:6000] for k, v in params.items() if isinstance(v, str | int | float | bool)
        }

    def _resolve_loads(self) -> None:
        for node in self.order:
            if node.kind != "load":
                continue
            name, _, ref = node.ref.partition("@")
            record = self.records[node.id]
            record.started_at = _now()
            version = self.client.datasets.version(self.project, name, ref or "latest")
            files = [str(p) for p in self.client.datasets.local_files(version)]
            self.client.datasets.record_use(
                self.project, name, version.number, self.run_id, "input"
            )
            self.inputs[node.id] = Input(dataset=version, dataset_files=files)
            self.digests[node.id] = version.digest
            record.status = "succeeded"
            record.ended_at = _now()
            record.error = ""
            record.step = f"{name}@{version.number}"
            self._save(record)

    def run(self) -> PipelineRun:
        ensure_project(self.client, self.project)
        capture = Capture(output=False, system_metrics=False)
        tags = {"dockyard.pipeline": self.pipeline.name, "dockyard.executor": self.executor_name}
        shown = {k: v for k, v in self.params.items() if isinstance(v, str | int | float | bool)}
        with start_run(
            self.project,
            experiment=self.pipeline.name,
            name=self.pipeline.name,
            params=shown,
            tags=tags,
            capture=capture,
            client=self.client,
        ) as parent:
            self.run_id = parent.id
            for position, node in enumerate(self.order):
                self.records[node.id] = StepRecord(
                    node=node.id,
                    position=position,
                    kind=node.kind,
                    step=node.step.name if node.step else node.ref,
                )
            self.client.pipelines.create(
                PipelineRunCreate(
                    run_id=parent.id,
                    project=self.project,
                    pipeline=self.pipeline.name,
                    import_path=self.pipeline.import_path,
                    params=self.params,
                    graph=self.graph.describe(),
                    executor=self.executor_name,
                    resumed_from=self.resumed_from,
                    steps=list(self.records.values()),
                )
            )
            status, error = "failed", ""
            try:
                self._resolve_loads()
                status, error = self._loop()
            except KeyboardInterrupt:
                status, error = "cancelled", "interrupted"
                self._cancel_rest()
                raise
            except BaseException as exc:
                error = _error_text(exc)
                self._cancel_rest()
                raise
            finally:
                self.client.pipelines.finish(parent.id, status, error)
                shutil.rmtree(self.work_dir, ignore_errors=True)
            if status == "failed":
                parent.set_tags({"dockyard.pipeline.error": error[:500]})
                parent.end("failed")  # the tracked run says what the pipeline did
            elif status == "cancelled":
                parent.end("killed")
        return self.client.pipelines.get(self.run_id)

    def _cancel_rest(self) -> None:
        pending = [r for r in self.records.values() if r.status in ("pending", "running")]
        for r in pending:
            r.status = "cancelled"
            r.ended_at = _now()
        if pending:
            self._save(*pending)

    def _skip_downstream(self, node_id: str) -> list[StepRecord]:
        skipped = []
        stack = list(self.downstream[node_id])
        while stack:
            down = stack.pop()
            record = self.records[down]
            if record.status == "pending":
                record.status = "skipped"
                record.error = f"skipped: {node_id} failed"
                skipped.append(record)
                stack.extend(self.downstream[down])
        return skipped

    def _ready(self) -> list[Node]:
        """Pending nodes whose upstream nodes are all done (kept incrementally: a node is
        looked at again only when one of its upstream nodes finishes)."""
        found = []
        for node_id in self._candidates:
            record = self.records[node_id]
            node = self.graph.nodes[node_id]
            if record.status == "pending" and all(
                self.records[u].status in DONE for u in node.upstream()
            ):
                found.append(node)
        self._candidates = []
        return found

    def _emit(self, record: StepRecord) -> None:
        if record.status in DONE:
            self._candidates.extend(self.downstream[record.node])
        if self.on_event is not None:
            self.on_event(record.status, record)

    def _loop(self) -> tuple[str, str]:
        running: dict[cf.Future[Result], _Work] = {}
        retries: list[tuple[float, int, _Work]] = []
        # Completed futures arrive here: waiting on all of 10,000 running futures at every
        # completion would cost O(n) each time.
        completed: queue.SimpleQueue[cf.Future[Result]] = queue.SimpleQueue()

        heartbeats = StepHeartbeats(self.client)

        def launch(work: _Work) -> None:
            future = self._submit(work)
            running[future] = work
            heartbeats.enter(self.child_runs.get(work.node.id))
            future.add_done_callback(completed.put)

        try:
            return self._run_loop(running, retries, completed, launch, heartbeats)
        finally:
            heartbeats.stop()

    def _run_loop(
        self,
        running: dict[cf.Future[Result], _Work],
        retries: list[tuple[float, int, _Work]],
        completed: queue.SimpleQueue[cf.Future[Result]],
        launch: Callable[[_Work], None],
        heartbeats: StepHeartbeats,
    ) -> tuple[str, str]:
        counter = 0
        last_poll = time.monotonic()
        while True:
            ready = self._ready()
            while ready:  # a cached step makes its downstream ready at once
                for work in self._start_ready(ready):
                    launch(work)
                ready = self._ready()
            now = time.monotonic()
            while retries and retries[0][0] <= now:
                _, _, work = heapq.heappop(retries)
                launch(work)
            if not running and not retries:
                break
            timeout = max(0.0, retries[0][0] - now) if retries else CANCEL_POLL_S
            done = []
            try:
                done.append(completed.get(timeout=min(timeout, CANCEL_POLL_S)))
                while True:
                    done.append(completed.get_nowait())
            except queue.Empty:
                pass
            for future in done:
                work = running.pop(future)
                heartbeats.leave(self.child_runs.get(work.node.id))
                try:
                    result = future.result()
                except BaseException as exc:  # the step's own error, a timeout or a lost worker
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    step = work.node.step
                    assert step is not None
                    if work.attempt <= step.retries and not isinstance(
                        exc, InvalidInput | Forbidden
                    ):
                        delay = step.retry_delay * 2 ** (work.attempt - 1)
                        counter += 1
                        retry = _Work(work.node, work.item, work.attempt + 1, work.key, work.call)
                        heapq.heappush(retries, (time.monotonic() + delay, counter, retry))
                        self._note_retry(work, exc)
                        continue
                    self._failed(work, exc)
                    continue
                self._succeeded(work, result)
            if time.monotonic() - last_poll >= CANCEL_POLL_S:
                last_poll = time.monotonic()
                if self.client.pipelines.state(self.run_id).cancel_requested:
                    for future in running:
                        future.cancel()
                    self.executor.close()
                    killed = {w.node.id for w in running.values()}
                    for node_id in killed:
                        record = self.records[node_id]
                        record.status = "cancelled"
                        record.ended_at = _now()
                    self._finish(
                        *(
                            StepFinish(record=self.records[n], run_status="killed")
                            for n in sorted(killed)
                        )
                    )
                    self._cancel_rest()
                    return "cancelled", "cancelled on request"
        failed = [r for r in self.records.values() if r.status == "failed"]
        if failed:
            names = ", ".join(r.node for r in failed)
            return "failed", f"step {names} failed: {failed[0].error[:2000]}"
        return "succeeded", ""

    def _secrets_of(self, step: Step) -> dict[str, str]:
        """The values of the secrets ``step`` declares, read once per run (a missing one,
        or a run through a server's HTTP API, fails the step before it starts: not retried)."""
        if not step.secrets:
            return {}
        found = self._secrets.get(step.secrets)
        if found is None:
            try:
                found = self.client.secrets.environment(
                    self.project, step.secrets, needed_by=f"step {step.name}"
                )
            except DockyardError as exc:
                raise InvalidInput(exc.message, details=exc.details) from None
            self._secrets[step.secrets] = found
        return found

    def _submit(self, work: _Work) -> cf.Future[Result]:
        step = work.node.step
        assert step is not None
        record = self.records[work.node.id]
        if work.item is None:
            record.attempts = work.attempt
            record.status = "running"
        label = work.node.id if work.item is None else f"{work.node.id}[{work.item}]"
        try:
            work.call.secrets = self._secrets_of(step)
            return self.executor.submit(
                partial(run_call, work.call),
                resources=step.resources,
                timeout=step.timeout,
                label=label,
            )
        except DockyardError as exc:  # refused (e.g. more CPUs than the executor has)
            refused: cf.Future[Result] = cf.Future()
            refused.set_exception(exc)
            return refused

    def _start_ready(self, nodes: list[Node]) -> list[_Work]:
        """Start ready nodes in one round trip: cached steps finish at once, the others get
        a child run and their call(s) to submit."""
        prepared: dict[str, tuple[dict[str, Any], str | None]] = {}
        starts = []
        now = _now()
        for node in nodes:
            step = node.step
            assert step is not None
            params = self._params(node)
            key = self.keys.key(node, self.digests) if node.kind == "step" and step.cache else None
            record = self.records[node.id]
            record.started_at = now
            record.attempts = 1
            prepared[node.id] = (params, key)
            starts.append(
                StepStart(
                    record=record,
                    key=key,
                    params=self._start_params(params),
                    tags={"dockyard.pipeline.step": step.name},
                    pickle=step.pickle,
                )
            )
        started = self.client.pipelines.start_steps(self.run_id, starts)
        works: list[_Work] = []
        for node in nodes:
            params, key = prepared[node.id]
            record = self.records[node.id]
            record.cache_key = key
            hit = started.hits.get(node.id)
            if hit is not None:
                record.status = "cached"
                record.cached_from = hit.run_id
                record.output = hit.output
                record.ended_at = now
                record.duration_ms = 0
                self._set_digest(node.id, hit.output)
                self._emit(record)
                continue
            run_id = started.runs[node.id]
            self.child_runs[node.id] = run_id
            record.run_id = run_id
            record.status = "running"
            self._emit(record)
            inputs = self._inputs(node)
            if node.kind == "map":
                works.extend(self._start_map(node, params, inputs))
            else:
                works.append(_Work(node, None, 1, key, self._call(node, params, inputs, "")))
        return works

    def _set_digest(self, node_id: str, output: ValueRef | ItemsRef | None) -> None:
        if output is not None:
            self.digests[node_id] = output.digest

    def _start_map(
        self, node: Node, params: dict[str, Any], inputs: dict[str, Input]
    ) -> list[_Work]:
        step = node.step
        assert step is not None and node.map_arg is not None
        source = node.args[node.map_arg]
        # Each item: its value (passed as a parameter) or an upstream input, and its identity.
        items: list[tuple[Any, Input | None, Any]] = []
        if isinstance(source, Output):
            upstream = self._input_for(source.node)
            if upstream.items is not None:
                items = [
                    (None, i, {"digest": i.ref.digest if i.ref else ""}) for i in upstream.items
                ]
            else:
                listed = self._value_of(upstream)
                if not isinstance(listed, list):
                    raise InvalidInput(
                        f"{node.id}.map needs a list to fan out over; {source.node} returned "
                        f"a {type(listed).__name__}"
                    )
                items = [(v, None, {"value": jsonable(v)}) for v in listed]
        else:
            items = [(v, None, {"value": jsonable(v)}) for v in source]
        record = self.records[node.id]
        record.items_total = len(items)
        keys: list[str | None] = [
            self.keys.key(node, self.digests, {"item": i, **identity}) if step.cache else None
            for i, (_, _, identity) in enumerate(items)
        ]
        hits = (
            {
                e.key: e
                for e in self.client.pipelines.cache_lookup(self.project, [k for k in keys if k])
                # a pickled output is reused only by a step that declares pickle=True
                if step.pickle or not (isinstance(e.output, ValueRef) and e.output.kind == "pickle")
            }
            if step.cache
            else {}
        )
        state = _MapState(
            refs=[None] * len(items), files=[{}] * len(items), codes=["."] * len(items)
        )
        self.maps[node.id] = state
        work = []
        for i, ((value, item_input, _), key) in enumerate(zip(items, keys, strict=True)):
            hit = hits.get(key) if key else None
            if hit is not None and isinstance(hit.output, ValueRef):
                state.refs[i] = hit.output
                state.codes[i] = ITEM_CODES["cached"]
                continue
            call_inputs = dict(inputs)
            call_params = dict(params)
            if item_input is not None:
                call_inputs[node.map_arg] = item_input
            else:
                call_params[node.map_arg] = value
            state.codes[i] = ITEM_CODES["running"]
            work.append(_Work(node, i, 1, key, self._call(node, call_params, call_inputs, f"-{i}")))
        record.status = "running"
        record.attempts = 1
        record.items_status = "".join(state.codes)
        self._save(record)
        if not work:
            self._finish_map(node)
        return work

    def _value_of(self, value: Input) -> Any:
        if value.ref is not None and value.ref.kind == "json":
            return values.load_files(value.ref, {k: Path(v) for k, v in value.files.items()})
        raise InvalidInput("a step's map() fans out over a list of JSON values or step outputs")

    def _error(self, work: _Work, exc: BaseException) -> str:
        """The error text of a failed call, with the step's secret values masked."""
        return redact(_error_text(exc), tuple(work.call.secrets.values()))

    def _note_retry(self, work: _Work, exc: BaseException) -> None:
        record = self.records[work.node.id]
        record.error = f"attempt {work.attempt} failed, retrying: {self._error(work, exc)}"
        record.attempts = work.attempt + 1
        self._save(record)

    def _finish(self, *finished: StepFinish) -> None:
        self.client.pipelines.finish_steps(self.run_id, list(finished))
        for f in finished:
            self._emit(f.record)

    def _failed(self, work: _Work, exc: BaseException) -> None:
        record = self.records[work.node.id]
        text = self._error(work, exc)
        if work.item is not None:
            state = self.maps[work.node.id]
            state.codes[work.item] = ITEM_CODES["failed"]
            record.items_status = "".join(state.codes)
            text = f"item {work.item}: {text}"
            if any(c == ITEM_CODES["running"] for c in state.codes):
                record.error = record.error or text
                self._save(record)
                return
        record.status = "failed"
        record.error = record.error if work.item is not None and record.error else text
        record.ended_at = _now()
        record.duration_ms = _ms(record)
        skipped = self._skip_downstream(work.node.id)
        self._finish(
            StepFinish(record=record, run_status="failed"),
            *(StepFinish(record=r) for r in skipped),
        )

    def _succeeded(self, work: _Work, result: Result) -> None:
        node = work.node
        record = self.records[node.id]
        step = node.step
        assert step is not None
        if work.item is not None:
            state = self.maps[node.id]
            state.refs[work.item] = result.ref
            state.files[work.item] = {
                f.path: str(Path(result.out_dir) / f.path) for f in result.ref.files
            }
            state.codes[work.item] = ITEM_CODES["succeeded"]
            if work.key is not None:
                state.entries.append(
                    CacheEntry(
                        key=work.key,
                        step=step.name,
                        output=result.ref,
                        pipeline_run_id=self.run_id,
                        run_id=record.run_id,
                        blobs=[f.digest for f in result.ref.files],
                    )
                )
            if ITEM_CODES["running"] not in state.codes:
                self._finish_map(node)
            elif len(state.entries) % 200 == 0:
                record.items_status = "".join(state.codes)
                self._save(record)
            return
        run_id = self.child_runs[node.id]
        artifacts = self._artifacts(result, f"{OUTPUTS}/")
        if result.log:
            info = self.client.blobs.put(result.log)
            artifacts.append(
                ArtifactIn(path="dockyard/output.log", digest=info.digest, size=info.size)
            )
        cache = []
        if work.key is not None:
            cache.append(
                CacheEntry(
                    key=work.key,
                    step=step.name,
                    output=result.ref,
                    pipeline_run_id=self.run_id,
                    run_id=run_id,
                    blobs=[f.digest for f in result.ref.files],
                )
            )
        self.inputs[node.id] = self._local_input(
            node.id,
            result.ref,
            {f.path: str(Path(result.out_dir) / f.path) for f in result.ref.files},
            origin_run=run_id,
        )
        self._set_digest(node.id, result.ref)
        record.status = "succeeded"
        record.output = result.ref
        record.error = ""
        record.ended_at = _now()
        record.duration_ms = int(result.seconds * 1000)
        self._finish(
            StepFinish(record=record, run_status="finished", artifacts=artifacts, cache=cache)
        )

    def _finish_map(self, node: Node) -> None:
        record = self.records[node.id]
        state = self.maps.pop(node.id)
        if ITEM_CODES["failed"] in state.codes:
            record.status = "failed"
            record.items_status = "".join(state.codes)
            record.ended_at = _now()
            skipped = self._skip_downstream(node.id)
            self._finish(
                StepFinish(record=record, run_status="failed", cache=state.entries),
                *(StepFinish(record=r) for r in skipped),
            )
            return
        refs = [r for r in state.refs if r is not None]
        listing = json.dumps([r.model_dump(mode="json") for r in refs]).encode()
        info = self.client.blobs.put(listing)
        output = ItemsRef(kind="items", digest=info.digest, count=len(refs))
        items = []
        for ref, files in zip(refs, state.files, strict=True):
            items.append(
                self._local_input(node.id, ref, files)
                if files
                else self._stored_input(node.id, ref)
            )
        self.inputs[node.id] = Input(items=items)
        self.digests[node.id] = info.digest
        all_cached = all(c == ITEM_CODES["cached"] for c in state.codes)
        record.status = "cached" if all_cached and state.codes else "succeeded"
        record.output = output
        record.items_status = "".join(state.codes)
        record.ended_at = _now()
        record.duration_ms = _ms(record)
        record.error = ""
        needed = [info.digest, *(f.digest for r in refs for f in r.files)]
        self._finish(
            StepFinish(record=record, run_status="finished", cache=state.entries, blobs=needed)
        )


def _ms(record: StepRecord) -> int | None:
    if record.started_at is None or record.ended_at is None:
        return None
    return int((record.ended_at - record.started_at).total_seconds() * 1000)
