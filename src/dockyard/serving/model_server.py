"""The state of one model server process: the models it serves (followed in the
registry), how a request is answered (traffic, batching, shadows), the prediction log,
heartbeats, and what servers that died before it left unlogged."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from dockyard.client.client import Client, connect
from dockyard.core.errors import DockyardError, InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.registry.uris import RegistryRef, parse_model_uri
from dockyard.serving import heap
from dockyard.serving.config import ServeConfig
from dockyard.serving.deployment import Answer, Arm, Deployment, ServedModel
from dockyard.serving.follower import Follower
from dockyard.serving.inputs import Rows
from dockyard.serving.metrics import ServerMetrics
from dockyard.serving.predlog import Entry, PredictionLog
from dockyard.serving.schemas import InstanceState, ServedModelState, ServedVersion

log = logging.getLogger("dockyard.serve")


def served_models(uris: list[str]) -> list[ServedModel]:
    """One :class:`ServedModel` per URI; a model named twice or a run URI is refused."""
    models: list[ServedModel] = []
    for uri in uris:
        ref = parse_model_uri(uri)
        if not isinstance(ref, RegistryRef):
            raise InvalidInput(f"{uri}: serve registered models (models:/name@alias), not runs")
        if any(m.name == ref.name for m in models):
            raise InvalidInput(f"model {ref.name} is named twice; serve each model once")
        if ref.ref.startswith("@"):
            models.append(ServedModel(ref.name, str(ref), alias=ref.ref[1:]))
        elif ref.ref == "latest":
            models.append(ServedModel(ref.name, str(ref), alias=None, follow_latest=True))
        else:
            models.append(ServedModel(ref.name, str(ref), alias=None, pinned=int(ref.ref)))
    return models


_ERROR_CHARS = 2000  # of a failed load's message, in heartbeats


class ModelServer:
    """The state of one server process: its models, their follower, the log, the metrics."""

    def __init__(
        self,
        config: ServeConfig,
        client_factory: Callable[[], Client] = connect,
        *,
        settle_heap: bool = False,
    ) -> None:
        """``settle_heap``: freeze the heap once the models are loaded and after each swap
        (:mod:`dockyard.serving.heap`); for a process that only serves, not for one that
        embeds a server among other work."""
        self.config = config
        self.settle_heap = settle_heap
        self.client_factory = client_factory
        self.models = {m.name: m for m in served_models(config.uris)}
        self.metrics = ServerMetrics()
        self.instance_id = new_id()
        self.address = f"{socket.gethostname()}:{config.port}"
        self.rng = random.Random()
        self.client: Client | None = None
        self.follower: Follower | None = None
        self.log: PredictionLog | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------

    def _retire(self, deployment: Deployment) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(deployment.retire)
        else:
            deployment.retire()

    def start(self) -> None:
        """Connect, report servers that died before, load every model, start the threads."""
        self.loop = asyncio.get_running_loop() if _in_loop() else None
        self.client = self.client_factory()
        self._report_dead()
        self.follower = Follower(
            self.client,
            list(self.models.values()),
            trusted=self.config.trusted,
            max_rows=self.config.max_batch_rows,
            max_wait=self.config.max_wait_ms / 1000,
            retire=self._retire,
            swapped=heap.settle if self.settle_heap else None,
        )
        self.follower.refresh_all()
        self.follower.start(self.config.poll_seconds)
        if self.config.log_queue_rows > 0:
            self.log = PredictionLog(
                self.client,
                self.instance_id,
                max_rows=self.config.log_queue_rows,
                flush_seconds=self.config.log_flush_seconds,
            )
            self.log.start()
        self._heartbeat()
        if self.settle_heap:
            heap.settle()
        self._beat = threading.Thread(target=self._beats, name="dockyard-heartbeat", daemon=True)
        self._beat.start()

    def stop(self) -> None:
        """Graceful stop: write the whole log, say so in a last heartbeat."""
        self._stop.set()
        if self.follower is not None:
            self.follower.stop()
        if self.log is not None:
            self.log.close()
        if self._beat is not None:
            self._beat.join(timeout=10)
        self._heartbeat(stopped=True)
        if self.client is not None:
            self.client.close()

    def _report_dead(self) -> None:
        """Say what servers that stopped without shutting down may have lost."""
        assert self.client is not None
        try:
            found = self.client.serving.instances(limit=200)
        except Exception as exc:
            log.warning("cannot list earlier servers: %s", exc)
            return
        here = socket.gethostname()
        for instance in found:
            if instance.stopped_at is not None or instance.id == self.instance_id:
                continue
            state = instance.state
            gone_here = state.hostname == here and state.pid and not psutil.pid_exists(state.pid)
            if instance.live and not gone_here:
                continue
            age = dt.datetime.now(dt.UTC) - instance.heartbeat_at
            if age > dt.timedelta(days=1):
                continue
            state = instance.state
            waiting = (
                state.predictions_accepted - state.predictions_logged - state.predictions_dropped
            )
            log.warning(
                "server %s (%s) stopped without shutting down after %s: at its last heartbeat "
                "%d predictions were waiting to be logged, and any it made after that heartbeat "
                "(at most its log queue) are not in the prediction log",
                instance.id,
                instance.address,
                instance.heartbeat_at.isoformat(timespec="seconds"),
                waiting,
            )

    def state(self, *, stopped: bool = False) -> InstanceState:
        models = []
        for served in self.models.values():
            versions = []
            routes = served.routes
            serving = {}
            if routes is not None:
                for arm, _ in routes.arms:
                    serving[arm.alias] = arm.deployment.version
                for arm in routes.shadows:
                    serving[arm.alias] = arm.deployment.version
            for alias, wanted in (served.wanted or {}).items():
                now = serving.get(alias)
                error = served.errors.get(wanted, "") if wanted is not None else served.problem
                state = (
                    "serving"
                    if now == wanted and now is not None
                    else ("failed" if error else "loading")
                )
                # an exception's message can be long or hold anything: report its start
                error = error.replace("\x00", "")[:_ERROR_CHARS]
                versions.append(
                    ServedVersion(alias=alias, version=now, wanted=wanted, state=state, error=error)
                )
            p50, p99 = self.metrics.percentiles(served.name)
            counts = self.metrics.counts.get(served.name, [0, 0, 0])
            models.append(
                ServedModelState(
                    name=served.name,
                    uri=served.uri,
                    versions=versions,
                    traffic=served.traffic,
                    shadow=served.shadow,
                    frozen=served.frozen,
                    requests=counts[0],
                    errors=counts[1],
                    rows=counts[2],
                    latency_p50_ms=p50,
                    latency_p99_ms=p99,
                )
            )
        plog = self.log
        return InstanceState(
            address=self.address,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            models=models,
            predictions_accepted=plog.accepted if plog else 0,
            predictions_logged=plog.logged if plog else 0,
            predictions_dropped=plog.dropped if plog else 0,
            stopped=stopped,
        )

    def _heartbeat(self, *, stopped: bool = False) -> None:
        if self.client is None:
            return
        try:
            self.client.serving.heartbeat(self.instance_id, self.state(stopped=stopped))
        except Exception as exc:
            log.warning("heartbeat not recorded: %s", exc)

    def _beats(self) -> None:
        while not self._stop.wait(self.config.heartbeat_seconds):
            self._heartbeat()

    # --- answering ----------------------------------------------------------------------

    def _served(self, name: str) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise NotFound(f"this server does not serve model {name!r}; it serves {known}")
        return served

    async def answer(self, name: str, rows: Rows) -> tuple[Arm, Answer, list[str]]:
        """Predict ``rows`` with the arm the traffic picks; log it; copy it to shadows."""
        started = time.perf_counter()
        served = self._served(name)
        routes = served.current()
        arm = routes.pick(rows, self.rng)
        method = "proba" if rows.options.get("proba") else "predict"
        version = arm.deployment.version
        try:
            answer: Answer = await arm.deployment.batcher(method).submit(rows)
        except DockyardError:
            self.metrics.failed(name, version, "invalid")
            raise
        except Exception:
            self.metrics.failed(name, version, "error")
            raise
        at = dt.datetime.now(dt.UTC)
        ids = [new_id() for _ in range(rows.count)]
        seconds = time.perf_counter() - started
        self.metrics.answered(name, version, rows.count, seconds)
        self._log(ids, at, name, arm, False, seconds, rows, answer)
        for shadow in routes.shadows:
            task = asyncio.get_running_loop().create_task(self._shadow(name, shadow, rows, method))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return arm, answer, ids

    async def _shadow(self, name: str, arm: Arm, rows: Rows, method: str) -> None:
        started = time.perf_counter()
        try:
            answer: Answer = await arm.deployment.batcher(method).submit(rows)
        except Exception as exc:  # a shadow never affects answers; its failures are counted
            self.metrics.failed(name, arm.deployment.version, "shadow_error")
            log.debug("shadow %s@%s failed: %s", name, arm.alias, exc)
            return
        ids = [new_id() for _ in range(rows.count)]
        seconds = time.perf_counter() - started
        self.metrics.rows.labels(name, str(arm.deployment.version), "true").inc(rows.count)
        self._log(ids, dt.datetime.now(dt.UTC), name, arm, True, seconds, rows, answer)

    def _log(
        self,
        ids: list[str],
        at: dt.datetime,
        name: str,
        arm: Arm,
        shadow: bool,
        seconds: float,
        rows: Rows,
        answer: Answer,
    ) -> None:
        if self.log is None:
            return
        entry = Entry(
            ids=ids,
            at=at,
            model=name,
            version=arm.deployment.version,
            alias=arm.alias,
            shadow=shadow,
            latency_ms=seconds * 1000,
            inputs=rows.columns,
            outputs=answer.outputs,
            features=answer.features,
        )
        if not self.log.offer(entry):
            self.metrics.dropped.inc(len(ids))

    def ready(self) -> tuple[bool, dict[str, Any]]:
        detail = {}
        ok = True
        for served in self.models.values():
            if served.routes is None:
                ok = False
                problems = [served.problem, *served.errors.values()]
                detail[served.name] = "; ".join(p for p in problems if p) or "loading"
            else:
                detail[served.name] = "ready"
        return ok, detail


def _in_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
