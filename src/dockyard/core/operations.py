"""Operations: a service method declared once, served over HTTP and called in-process alike.

A service method marked with :func:`operation` carries its HTTP method and path. Its
signature says the rest: the ``principal`` is injected, parameters named in the path are
path parameters, a pydantic model is the JSON body (POST, PUT, PATCH) or the query string
(GET, DELETE), a ``BinaryIO`` parameter is a streamed raw request body, other plain
parameters are query parameters (required unless they have a default: :data:`REQUIRED`
marks them), and a ``BinaryIO`` return value is a streamed response.
The server builds its routes and the HTTP client its requests from this one declaration.

Each operation also declares the :class:`Role` it needs (by default ``viewer`` for GET and
``editor`` for the other methods) and ``on`` what: the :class:`Target` objects whose project
the role is needed in (a project named in the path by default), :data:`SERVER` for the
server itself (the role must be held in every project: garbage collection, reaping),
:data:`LISTING` for listings that name no project (the service returns only what the caller
may read), :data:`ANYWHERE` or :data:`PUBLIC`. Both transports check it in one place
(:mod:`dockyard.access.check`).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, TypeVar

import pydantic

from dockyard.core.errors import InvalidInput
from dockyard.core.principal import Principal, Role

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=pydantic.BaseModel)
_MARK = "__dockyard_operation__"
_ROLE_MARK = "__dockyard_role__"
_STREAM_TYPES = (BinaryIO, IO[bytes], typing.IO)
REQUIRED: Any = inspect.Parameter.empty
"""The default of a query parameter the caller must give (its signature has no default)."""


@dataclass(frozen=True)
class Target:
    """Where an operation's project is: an object of ``kind`` named by the argument at
    ``at`` (``"run_id"``, or ``"body.project"`` for a field of the body or query model).

    ``role`` is the role needed in that project (default: the operation's); ``optional``
    targets may be absent (a listing's filter: the service then returns only what the caller
    may read); a target that ``creates`` may name a project that does not exist yet (the
    call creates it, and the caller owns it).
    """

    kind: str
    at: str
    role: Role | None = None
    optional: bool = False
    creates: bool = False


SERVER = "server"
"""The operation acts on the server itself: its role must be held in every project."""
LISTING = "listing"
"""The operation names no project: the service returns only what the caller may read (or
acts on the caller's own account)."""
ANYWHERE = "anywhere"
"""The role must be held in at least one project (content-addressed blobs, which belong to no
project: their digest is what the caller read from a record)."""
PUBLIC = "public"
"""No credential is needed (signing in)."""
_KINDS = (SERVER, LISTING, ANYWHERE, PUBLIC)
Scope = Target | tuple[Target, ...] | str


@dataclass(frozen=True)
class Operation:
    """Everything both transports need to know about one service method."""

    service: str
    name: str
    method: str
    path: str
    status: int
    summary: str
    path_params: tuple[tuple[str, Any], ...]
    query_params: tuple[tuple[str, Any, Any], ...]
    query_model: tuple[str, type[pydantic.BaseModel]] | None
    body: tuple[str, type[pydantic.BaseModel]] | None
    stream_in: str | None
    stream_out: bool
    returns: Any
    role: Role = Role.EDITOR
    on: tuple[Target, ...] | str = SERVER
    audit: bool = True

    @property
    def key(self) -> str:
        return f"{self.service}.{self.name}"


def operation(
    method: str,
    path: str,
    *,
    status: int = 200,
    role: Role | None = None,
    on: Scope | None = None,
    audit: bool | None = None,
) -> Callable[[F], F]:
    """Declare a service method as an operation served at ``method path`` that needs
    ``role`` (default: viewer for GET, editor otherwise) in the project of ``on`` (default:
    the ``{project}`` of the path; see :class:`Target`, :data:`SERVER`, :data:`LISTING`).
    Each call of an ``audit`` operation goes into the audit log (default: all but GET;
    telemetry that flows all the time, such as metric points and heartbeats, says False;
    a refusal is logged for every operation)."""
    needed = role or (Role.VIEWER if method.upper() == "GET" else Role.EDITOR)
    audited = method.upper() != "GET" if audit is None else audit
    if on is None:
        if "{project}" not in path:
            raise TypeError(
                f"{method} {path}: say which project the operation acts in (on=Target(...)), "
                "or on=SERVER / on=LISTING"
            )
        scope: tuple[Target, ...] | str = (Target("project", "project"),)
    elif isinstance(on, Target):
        scope = (on,)
    elif isinstance(on, str):
        if on not in _KINDS:
            raise TypeError(f"{method} {path}: on must be a Target or one of {_KINDS}")
        scope = on
    else:
        scope = tuple(on)

    def mark(fn: F) -> F:
        setattr(fn, _MARK, (method.upper(), path, status))
        setattr(fn, _ROLE_MARK, (needed, scope, audited))
        return fn

    return mark


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _is_stream(tp: Any) -> bool:
    return tp in _STREAM_TYPES or typing.get_origin(tp) in (typing.IO,)


def _describe(service: str, fn: Callable[..., Any], mark: tuple[str, str, int]) -> Operation:
    method, path, status = mark
    hints = typing.get_type_hints(fn)
    names_in_path = set(re.findall(r"{(\w+)}", path))
    path_params: list[tuple[str, Any]] = []
    query_params: list[tuple[str, Any, Any]] = []
    query_model = body = None
    stream_in = None
    for name, param in inspect.signature(fn).parameters.items():
        if name == "self":
            continue
        tp = hints.get(name, str)
        if tp is Principal:
            continue
        if name in names_in_path:
            path_params.append((name, tp))
        elif _is_stream(tp):
            stream_in = name
        elif _is_model(tp) and method in ("POST", "PUT", "PATCH"):
            body = (name, tp)
        elif _is_model(tp):
            query_model = (name, tp)
        else:
            query_params.append((name, tp, param.default))
    missing = names_in_path - {name for name, _ in path_params}
    if missing:
        raise TypeError(
            f"{fn.__qualname__}: path {path} names {missing} missing from the signature"
        )
    returns = hints.get("return", type(None))
    doc = inspect.getdoc(fn) or fn.__name__
    return Operation(
        service=service,
        name=fn.__name__,
        method=method,
        path=path,
        status=status,
        summary=doc.splitlines()[0],
        path_params=tuple(path_params),
        query_params=tuple(query_params),
        query_model=query_model,
        body=body,
        stream_in=stream_in,
        stream_out=_is_stream(returns),
        returns=returns,
        role=getattr(fn, _ROLE_MARK)[0],
        on=getattr(fn, _ROLE_MARK)[1],
        audit=getattr(fn, _ROLE_MARK)[2],
    )


def operations_of(service_cls: type) -> list[Operation]:
    """The operations a service class declares, in definition order."""
    service = getattr(service_cls, "service_name", None)
    if not isinstance(service, str):
        raise TypeError(f"{service_cls.__name__} needs a class attribute service_name")
    found = []
    for attr in vars(service_cls).values():
        mark = getattr(attr, _MARK, None)
        if mark is not None:
            found.append(_describe(service, attr, mark))
    return found


def format_validation_error(exc: pydantic.ValidationError | list[Any]) -> str:
    """One readable sentence per problem: where it is and what to fix."""
    errors = exc.errors() if isinstance(exc, pydantic.ValidationError) else exc
    parts = []
    for err in errors:
        where = tuple(err.get("loc", ()))
        if where and where[0] in ("body", "query", "path", "header"):  # only the location
            where = where[1:]  # (a parameter may itself be named "path")
        loc = ".".join(str(p) for p in where)
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc or 'input'}: {message}")
    return "; ".join(parts) or "invalid input"


def build(model: type[M], /, **values: Any) -> M:
    """Construct a request model, turning validation errors into :class:`InvalidInput`."""
    try:
        return model(**values)
    except pydantic.ValidationError as exc:
        raise InvalidInput(format_validation_error(exc)) from None


def operations_by_name(service_cls: type) -> dict[str, Operation]:
    """A service class's operations keyed by method name."""
    return {op.name: op for op in operations_of(service_cls)}
