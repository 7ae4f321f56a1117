"""The model server's ASGI app: the native JSON API, the Open Inference Protocol v2 and
MLflow's ``/invocations``, health, readiness and Prometheus metrics.

Built on Starlette directly (the platform's own API uses FastAPI): a prediction request is
parsed with orjson, checked against the model's signature, batched with concurrent
requests for the same version, answered, and handed to the prediction log without
waiting for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
import psutil
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dockyard._version import __version__
from dockyard.client.client import Client, connect
from dockyard.core.errors import DockyardError, InvalidInput, NotFound, TooLarge, UnreadableContent
from dockyard.core.ids import new_id
from dockyard.registry.uris import RegistryRef, parse_model_uri
from dockyard.serving import inputs
from dockyard.serving.config import ServeConfig
from dockyard.serving.deployment import Answer, Arm, Deployment, ServedModel
from dockyard.serving.follower import Follower
from dockyard.serving.inputs import Rows
from dockyard.serving.metrics import CONTENT_TYPE, ServerMetrics
from dockyard.serving.predlog import Entry, PredictionLog
from dockyard.serving.schemas import InstanceState, ServedModelState, ServedVersion

log = logging.getLogger("dockyard.serve")
_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


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


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=_JSON), status, media_type="application/json")


class ModelServer:
    """The state of one server process: its models, their follower, the log, the metrics."""

    def __init__(self, config: ServeConfig, client_factory: Callable[[], Client] = connect) -> None:
        self.config = config
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
                versions.append(ServedVersion(alias=alias, version=now, state=state, error=error))
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


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the request body is {declared} bytes; this server takes at most {limit}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnreadableContent(f"the body is not valid JSON: {exc}") from None


Handler = Callable[[Request], Awaitable[Response]]


def _native_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except DockyardError as exc:
            return _json(exc.to_body(), exc.http_status)
        except Exception as exc:
            log.exception("prediction failed")
            return _json({"error": {"code": "prediction_failed", "message": str(exc)}}, 500)

    return wrapped


def _v2_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except DockyardError as exc:
            return _json({"error": exc.message}, exc.http_status)
        except Exception as exc:
            log.exception("inference failed")
            return _json({"error": str(exc)}, 500)

    return wrapped


_MLFLOW_CODES = {400: "BAD_REQUEST", 404: "RESOURCE_DOES_NOT_EXIST", 413: "BAD_REQUEST"}


def _mlflow_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except DockyardError as exc:
            code = _MLFLOW_CODES.get(exc.http_status, "BAD_REQUEST")
            return _json({"error_code": code, "message": exc.message}, exc.http_status)
        except Exception as exc:
            log.exception("invocation failed")
            return _json({"error_code": "INTERNAL_ERROR", "message": str(exc)}, 500)

    return wrapped


_V2_DATATYPES = {
    "bool": "BOOL",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "float32": "FP32",
    "float64": "FP64",
}


def create_app(config: ServeConfig, client_factory: Callable[[], Client] = connect) -> Starlette:
    """The model server's app for ``config`` (models load at start-up)."""
    server = ModelServer(config, client_factory)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.get_running_loop().run_in_executor(None, server.start)
        server.loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            await asyncio.get_running_loop().run_in_executor(None, server.stop)

    limit = config.max_body_bytes

    @_native_errors
    async def predict(request: Request) -> Response:
        name = request.path_params["name"]
        rows = inputs.native(_parse(await _body(request, limit)))
        arm, answer, ids = await server.answer(name, rows)
        key = "probabilities" if rows.options.get("proba") else "predictions"
        body = {
            "model": name,
            "version": arm.deployment.version,
            "alias": arm.alias,
            key: answer.outputs,
            "prediction_ids": ids,
        }
        if rows.options.get("return_features"):
            body["features"] = answer.features
        return _json(body)

    async def _invoke(request: Request, name: str) -> Response:
        body = await _body(request, limit)
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if kind == "text/csv":
            rows = inputs.mlflow_csv(body)
        elif kind in ("application/json", ""):
            rows = inputs.mlflow_json(_parse(body))
        else:
            raise UnreadableContent(
                f"content type {kind!r} is not served: send application/json or text/csv"
            )
        _, answer, _ = await server.answer(name, rows)
        return _json({"predictions": answer.outputs})

    @_mlflow_errors
    async def invocations(request: Request) -> Response:
        if len(server.models) != 1:
            raise NotFound(
                "this server serves several models: POST to /v1/models/<name>/invocations"
            )
        return await _invoke(request, next(iter(server.models)))

    @_mlflow_errors
    async def model_invocations(request: Request) -> Response:
        return await _invoke(request, request.path_params["name"])

    @_v2_errors
    async def v2_infer(request: Request) -> Response:
        name = request.path_params["name"]
        payload = _parse(await _body(request, limit))
        served = server._served(name)
        routes = served.current()
        names = routes.arms[0][0].deployment.request_inputs
        rows = inputs.open_inference(payload, names)
        arm, answer, ids = await server.answer(name, rows)
        outputs = answer.outputs
        flat: list[Any] = []
        shape = [rows.count]
        if outputs and isinstance(outputs[0], list):
            shape.append(len(outputs[0]))
            for row in outputs:
                flat.extend(row)
        else:
            flat = outputs
        datatype = "FP64" if all(isinstance(v, float | int) for v in flat) else "BYTES"
        reply: dict[str, Any] = {
            "model_name": name,
            "model_version": str(arm.deployment.version),
            "outputs": [
                {
                    "name": "proba" if rows.options.get("proba") else "predict",
                    "shape": shape,
                    "datatype": datatype,
                    "data": flat,
                }
            ],
            "parameters": {"prediction_ids": ids},
        }
        if isinstance(payload, dict) and isinstance(payload.get("id"), str):
            reply["id"] = payload["id"]
        return _json(reply)

    @_v2_errors
    async def v2_model(request: Request) -> Response:
        name = request.path_params["name"]
        routes = server._served(name).current()
        deployment = routes.arms[0][0].deployment
        signature = deployment.model.signature
        wanted = set(deployment.request_inputs or [])
        types = {c.name: c.type for c in (signature.inputs if signature else [])}
        tensors = [
            {"name": n, "datatype": _V2_DATATYPES.get(types.get(n, ""), "BYTES"), "shape": [-1]}
            for n in (deployment.request_inputs or [])
            if n in wanted
        ]
        return _json(
            {
                "name": name,
                "versions": [str(a.deployment.version) for a, _ in routes.arms],
                "platform": deployment.model.flavor,
                "inputs": tensors,
                "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}],
            }
        )

    @_v2_errors
    async def v2_model_ready(request: Request) -> Response:
        served = server._served(request.path_params["name"])
        return Response(status_code=200 if served.routes is not None else 503)

    async def v2_server(request: Request) -> Response:
        return _json({"name": "dockyard", "version": __version__, "extensions": []})

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def readyz(request: Request) -> Response:
        ok, detail = server.ready()
        return _json({"ready": ok, "models": detail}, 200 if ok else 503)

    async def v2_ready(request: Request) -> Response:
        ok, _ = server.ready()
        return Response(status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(server.metrics.exposition(), media_type=CONTENT_TYPE)

    @_native_errors
    async def list_models(request: Request) -> Response:
        return _json([m.model_dump(mode="json") for m in server.state().models])

    @_native_errors
    async def one_model(request: Request) -> Response:
        name = request.path_params["name"]
        server._served(name)
        found = next(m for m in server.state().models if m.name == name)
        return _json(found.model_dump(mode="json"))

    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/v1/models", list_models),
        Route("/v1/models/{name}", one_model),
        Route("/v1/models/{name}/predict", predict, methods=["POST"]),
        Route("/v1/models/{name}/invocations", model_invocations, methods=["POST"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", healthz),
        Route("/health", healthz),
        Route("/v2", v2_server),
        Route("/v2/health/live", healthz),
        Route("/v2/health/ready", v2_ready),
        Route("/v2/models/{name}", v2_model),
        Route("/v2/models/{name}/ready", v2_model_ready),
        Route("/v2/models/{name}/infer", v2_infer, methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        error = NotFound(f"no route {request.method} {request.url.path} on this model server")
        return _json(error.to_body(), 404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _json({"error": {"code": "method_not_allowed", "message": str(exc)}}, 405)

    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={404: not_found, 405: not_allowed}
    )
    app.state.server = server
    return app
