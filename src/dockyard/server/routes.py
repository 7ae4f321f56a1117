"""HTTP routes generated from operation declarations: one route per service method."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from dockyard.blobs.store import DIGEST_HEADER
from dockyard.core.operations import Operation
from dockyard.core.principal import Principal
from dockyard.server.streams import call_with_request_body, iter_stream, stream_size

_KW = inspect.Parameter.KEYWORD_ONLY
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _parameters(op: Operation, guard: Callable[..., Any]) -> list[inspect.Parameter]:
    params = [inspect.Parameter("principal", _KW, annotation=Annotated[Principal, Depends(guard)])]
    for name, tp in op.path_params:
        params.append(inspect.Parameter(name, _KW, annotation=Annotated[tp, Path()]))
    for name, tp, default in op.query_params:
        params.append(
            inspect.Parameter(name, _KW, annotation=Annotated[tp, Query()], default=default)
        )
    if op.query_model:
        name, model = op.query_model
        params.append(inspect.Parameter(name, _KW, annotation=Annotated[model, Query()]))
    if op.body:
        name, model = op.body
        params.append(inspect.Parameter(name, _KW, annotation=Annotated[model, Body()]))
    return params


def _endpoint(op: Operation, method: Callable[..., Any], guard: Callable[..., Any]) -> Any:
    params = _parameters(op, guard)
    if op.stream_in:
        stream_arg = op.stream_in

        async def upload(request: Request, principal: Principal, **kwargs: Any) -> Any:
            return await call_with_request_body(
                request, lambda pipe: method(principal, **{stream_arg: pipe}, **kwargs)
            )

        params.insert(0, inspect.Parameter("request", _KW, annotation=Request))
        endpoint: Any = upload
    elif op.stream_out:

        def download(principal: Principal, **kwargs: Any) -> StreamingResponse:
            stream = method(principal, **kwargs)
            size = stream_size(stream)
            headers = {"Content-Length": str(size)} if size is not None else {}
            digest = getattr(stream, "digest", None)
            if isinstance(digest, str):  # a blob: the client checks what it received
                headers[DIGEST_HEADER] = f"sha256:{digest}"
            return StreamingResponse(
                iter_stream(stream), media_type="application/octet-stream", headers=headers
            )

        endpoint = download
    else:

        def call(principal: Principal, **kwargs: Any) -> Any:
            return method(principal, **kwargs)

        endpoint = call
    endpoint.__signature__ = inspect.Signature(params)
    endpoint.__name__ = f"{op.service}_{op.name}"
    return endpoint


def add_operation(
    router: APIRouter, op: Operation, service: object, guard: Callable[..., Any]
) -> None:
    """Serve ``op`` of ``service`` on ``router``; ``guard`` (``Authenticator.guard(op)``)
    gives each call its principal and refuses callers whose role ``op`` does not allow."""
    method = getattr(service, op.name)
    extra: dict[str, Any] = {"openapi_extra": {"x-dockyard-role": str(op.role)}}
    if op.stream_in:
        extra["openapi_extra"].update(_BINARY_BODY)
    if op.stream_out:
        extra["response_class"] = StreamingResponse
    router.add_api_route(
        op.path,
        _endpoint(op, method, guard),
        methods=[op.method],
        status_code=op.status,
        response_model=None if op.stream_out or op.returns is type(None) else op.returns,
        summary=op.summary,
        description=f"{inspect.getdoc(method) or ''}\n\nNeeds the {op.role} role.".lstrip(),
        tags=[op.service],
        operation_id=op.key,
        **extra,
    )
