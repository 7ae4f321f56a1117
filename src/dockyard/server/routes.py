"""HTTP routes generated from operation declarations: one route per service method."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, TypeAdapter

from dockyard.blobs.store import DIGEST_HEADER
from dockyard.core.operations import ANYWHERE, LISTING, PUBLIC, SERVER, Operation
from dockyard.core.principal import Principal
from dockyard.core.schemas import INT64_MAX, INT64_MIN, NO_NUL
from dockyard.server.streams import call_with_request_body, iter_stream, stream_size

_KW = inspect.Parameter.KEYWORD_ONLY
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """Every error the API answers: a stable ``code`` and a message that says what to fix."""

    error: ErrorDetail


_ERRORS = {
    400: "the request cannot be read as sent (a body that is not JSON, an unreadable file)",
    401: "the server needs a token and none (or a wrong one) was given",
    403: "the caller may not do this",
    404: "an object named in the request does not exist",
    409: "the request collides with existing state (a name taken, a gate that blocks)",
    422: "a parameter or the body is not valid; the message says which and why",
    500: "the server failed; the message names the error, the server log has the rest",
    503: "the metadata database or blob storage cannot be reached",
}


_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def error_responses(op: Operation) -> dict[int | str, dict[str, Any]]:
    """The error statuses ``op`` can answer, each with the JSON error shape.

    A reference, not ``model=ErrorBody``: FastAPI would build a response field per status
    and route (hundreds), doubling the time the OpenAPI document takes; the schema is added
    once by :func:`error_schemas`."""
    return route_error_responses(body=op.body is not None, sign_in=op.on == PUBLIC)


def route_error_responses(
    *, body: bool = False, sign_in: bool = False
) -> dict[int | str, dict[str, Any]]:
    """:func:`error_responses` of a route that is not an operation (signing in and out):
    ``body`` if it reads a JSON body, ``sign_in`` if it signs people in."""
    statuses = dict(_ERRORS)
    if body:
        statuses[413] = "the JSON body is larger than the server's limit"
    if sign_in:
        statuses[429] = "too many failed sign-ins: wait, then try again"
    return {
        status: {"description": text, "content": _ERROR_REF}
        for status, text in sorted(statuses.items())
    }


def error_schemas() -> dict[str, Any]:
    """OpenAPI components for the error shape that :func:`error_responses` refers to."""
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["ErrorBody"] = schema
    return components


def _bounds(tp: Any) -> dict[str, Any]:
    """Constraints every plain parameter of type ``tp`` gets: text without NUL characters,
    integers a 64-bit column holds (the same rules as :mod:`dockyard.core.schemas`)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        plain = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        tp = plain[0] if len(plain) == 1 else tp
    if tp is str:
        return {"pattern": NO_NUL}
    if tp is int:
        return {"ge": INT64_MIN, "le": INT64_MAX}
    return {}


def _parameters(op: Operation, guard: Callable[..., Any]) -> list[inspect.Parameter]:
    params = [inspect.Parameter("principal", _KW, annotation=Annotated[Principal, Depends(guard)])]
    for name, tp in op.path_params:
        params.append(inspect.Parameter(name, _KW, annotation=Annotated[tp, Path(**_bounds(tp))]))
    for name, tp, default in op.query_params:  # no default (REQUIRED): a required parameter
        params.append(
            inspect.Parameter(
                name, _KW, annotation=Annotated[tp, Query(**_bounds(tp))], default=default
            )
        )
    if op.query_model:
        name, model = op.query_model
        params.append(inspect.Parameter(name, _KW, annotation=Annotated[model, Query()]))
    if op.body:
        name, model = op.body
        params.append(inspect.Parameter(name, _KW, annotation=Annotated[model, Body()]))
    return params


def client_address(request: Request) -> str:
    """Where a request came from (the peer's address: a proxy's, behind one)."""
    return request.client.host if request.client else ""


def _run(
    op: Operation,
    audit: Record,
    request: Request,
    principal: Principal,
    kwargs: dict[str, Any],
    check: Check,
    call: Callable[[Principal], Any],
) -> Any:
    """``call`` as the checked principal, with its audit event: each call of an audited
    operation, and any refusal."""
    try:
        acting = check(principal, kwargs)
        result = call(acting)
    except Exception as exc:
        status = getattr(exc, "http_status", 500)
        if op.audit or status in (401, 403):
            audit(principal, op, kwargs, status, str(exc), client_address(request))
        raise
    if op.audit:
        audit(acting, op, kwargs, op.status, "", client_address(request))
    return result


def _endpoint(
    op: Operation,
    method: Callable[..., Any],
    guard: Callable[..., Any],
    check: Check,
    audit: Record,
) -> Any:
    params = _parameters(op, guard)
    params.insert(0, inspect.Parameter("request", _KW, annotation=Request))
    if op.stream_in:
        stream_arg = op.stream_in

        async def upload(request: Request, principal: Principal, **kwargs: Any) -> Any:
            def call(acting: Principal, pipe: Any) -> Any:
                return method(acting, **{stream_arg: pipe}, **kwargs)

            return await call_with_request_body(
                request,
                lambda pipe: _run(
                    op, audit, request, principal, kwargs, check, lambda p: call(p, pipe)
                ),
            )

        endpoint: Any = upload
    elif op.stream_out:

        def download(request: Request, principal: Principal, **kwargs: Any) -> StreamingResponse:
            stream = _run(
                op, audit, request, principal, kwargs, check, lambda p: method(p, **kwargs)
            )
            size = stream_size(stream)
            headers = {"Content-Length": str(size)} if size is not None else {}
            digest = getattr(stream, "digest", None)
            if isinstance(digest, str):  # a blob: the client checks what it received
                headers[DIGEST_HEADER] = f"sha256:{digest}"
            # a stream may say what it holds (Prometheus' text format), else it is bytes
            media_type = getattr(stream, "media_type", None) or "application/octet-stream"
            return StreamingResponse(iter_stream(stream), media_type=media_type, headers=headers)

        endpoint = download
    else:
        model, many = _declared_model(op.returns)
        dump = TypeAdapter(op.returns).dump_json if model is not None else None
        status = op.status

        def call(request: Request, principal: Principal, **kwargs: Any) -> Any:
            result = _run(
                op, audit, request, principal, kwargs, check, lambda p: method(p, **kwargs)
            )
            if dump is not None and _is_declared(result, model, many):
                # the declared model (or list of it) itself: serialized once, as FastAPI
                # would, without validating it again first (a lookup of 100 x 50 values, or
                # 720 monitor windows of 50 columns: milliseconds instead of a second)
                return Response(dump(result), status_code=status, media_type="application/json")
            return result

        endpoint = call
    endpoint.__signature__ = inspect.Signature(params)
    endpoint.__name__ = f"{op.service}_{op.name}"
    return endpoint


def _declared_model(returns: Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model an operation returns, and whether it returns a list of them."""
    if isinstance(returns, type) and issubclass(returns, BaseModel):
        return returns, False
    args = typing.get_args(returns)
    if (
        typing.get_origin(returns) is list
        and len(args) == 1
        and isinstance(args[0], type)
        and issubclass(args[0], BaseModel)
    ):
        return args[0], True
    return None, False


def _is_declared(result: Any, model: type[BaseModel] | None, many: bool) -> bool:
    if model is None:
        return False
    if many:
        return isinstance(result, list) and all(type(r) is model for r in result)
    return isinstance(result, model)


Check = Callable[[Principal, dict[str, Any]], Principal]
Record = Callable[[Principal, Operation, dict[str, Any], int, str, str], None]
"""Writes an audit event: (principal, operation, arguments, status, detail, address)."""


def _needs(op: Operation) -> str:
    """Who may call ``op``, for its documentation."""
    if op.on == PUBLIC:
        return "Needs no credential."
    if op.on == LISTING:
        return "Any caller: the answer holds only what the caller may read."
    if op.on == SERVER:
        return f"Needs the {op.role} role on the whole server."
    if op.on == ANYWHERE:
        return f"Needs the {op.role} role in at least one project."
    if isinstance(op.on, str):
        return f"Declared {op.on!r}."
    where = ", ".join(
        f"{t.role or op.role} in the project of {t.at}" + (" (if given)" if t.optional else "")
        for t in op.on
    )
    return f"Needs {where}."


def _on(op: Operation) -> Any:
    if isinstance(op.on, str):
        return op.on
    return [{"kind": t.kind, "at": t.at, "role": str(t.role or op.role)} for t in op.on]


def add_operation(
    router: APIRouter,
    op: Operation,
    service: object,
    guard: Callable[..., Any],
    check: Check,
    audit: Record,
    prefix: str = "",
) -> None:
    """Serve ``op`` of ``service`` on ``router`` at ``prefix`` + its path; ``guard``
    (``Authenticator.guard(op)``) gives each call its principal, and ``check``
    (``Authenticator.checker(op)``) refuses callers whose roles ``op`` does not allow."""
    method = getattr(service, op.name)
    extra: dict[str, Any] = {
        "openapi_extra": {
            "x-dockyard-role": str(op.role),
            "x-dockyard-on": _on(op),
            "x-dockyard-audit": op.audit,
        }
    }
    if op.stream_in:
        extra["openapi_extra"].update(_BINARY_BODY)
    if op.stream_out:
        extra["response_class"] = StreamingResponse
    router.add_api_route(
        prefix + op.path,
        _endpoint(op, method, guard, check, audit),
        methods=[op.method],
        status_code=op.status,
        response_model=None if op.stream_out or op.returns is type(None) else op.returns,
        summary=op.summary,
        description=f"{inspect.getdoc(method) or ''}\n\n{_needs(op)}".lstrip(),
        tags=[op.service],
        operation_id=op.key,
        responses=error_responses(op),
        **extra,
    )
