"""The model server's ASGI app: the native JSON API, the Open Inference Protocol v2 and
MLflow's ``/invocations``, health, readiness and Prometheus metrics.

Built on Starlette directly (the platform's own API uses FastAPI): a prediction request is
parsed with orjson, checked against the model's signature, batched with concurrent
requests for the same version, answered, and handed to the prediction log without
waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dockyard._version import __version__
from dockyard.client.client import Client, connect
from dockyard.core.errors import DockyardError, NotFound, TooLarge, UnreadableContent
from dockyard.serving import inputs
from dockyard.serving.config import ServeConfig
from dockyard.serving.metrics import CONTENT_TYPE
from dockyard.serving.model_server import ModelServer

log = logging.getLogger("dockyard.serve")
_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body, option=_JSON), status, media_type="application/json")


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


def create_app(
    config: ServeConfig,
    client_factory: Callable[[], Client] = connect,
    *,
    settle_heap: bool = False,
) -> Starlette:
    """The model server's app for ``config`` (models load at start-up; ``settle_heap`` is
    for a process that only serves: see :mod:`dockyard.serving.heap`)."""
    server = ModelServer(config, client_factory, settle_heap=settle_heap)

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
        answer = _json({"error": {"code": "method_not_allowed", "message": str(exc)}}, 405)
        answer.headers.update(getattr(exc, "headers", None) or {})  # Allow: what the route takes
        return answer

    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={404: not_found, 405: not_allowed}
    )
    app.state.server = server
    return app
