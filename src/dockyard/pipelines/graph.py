"""Pipelines as DAGs built from plain Python: ``@step`` functions called inside a
``@pipeline`` function record nodes instead of running.

Calling a step inside a pipeline returns an :class:`Output` (a promise of the step's
value); passing it to another step makes an edge. ``step.map(items)`` fans a step out over
a list, ``step.after(a, b)(...)`` adds edges that pass no data, and ``load("name@3")``
stands for a dataset version resolved when the run starts. Outside a pipeline a step is
an ordinary function.
"""

from __future__ import annotations

import contextvars
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from dockyard.compute.executor import Resources, parse_duration
from dockyard.core.errors import InvalidInput
from dockyard.core.secrets import check_names

NodeKind = Literal["step", "map", "load"]
Model = Any
"""Annotation for a step returning a trained model (stored with its flavor)."""


@dataclass(frozen=True)
class Output:
    """The future value of a node, to pass to other steps."""

    node: str

    def __repr__(self) -> str:
        return f"<Output of {self.node}>"

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"the output of {self.node} is not known while the pipeline is being built: "
            "branch on it inside a step, not in the pipeline function"
        )

    def __iter__(self) -> Any:
        raise InvalidInput(
            f"the output of {self.node} cannot be unpacked or iterated in the pipeline "
            "function; return one value per step, or fan out with step.map(...)"
        )


@dataclass
class Node:
    id: str
    kind: NodeKind
    step: Step | None
    args: dict[str, Any] = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    map_arg: str | None = None
    ref: str = ""

    def upstream(self) -> list[str]:
        """Nodes this one waits for: those whose outputs it takes, then ``after``."""
        found = [a.node for a in self.args.values() if isinstance(a, Output)]
        return list(dict.fromkeys([*found, *self.after]))

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "step": self.step.name if self.step else None,
            "upstream": self.upstream(),
            "ref": self.ref or None,
        }


class Graph:
    """Nodes in the order they were added, with cycle checking."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: dict[str, Node] = {}
        self._counts: dict[str, int] = {}

    def new_id(self, base: str) -> str:
        count = self._counts.get(base, 0) + 1
        self._counts[base] = count
        return base if count == 1 else f"{base}-{count}"

    def add(self, node: Node) -> Output:
        for upstream in node.upstream():
            if upstream not in self.nodes:
                raise InvalidInput(
                    f"{node.id} depends on {upstream!r}, which is not in the pipeline"
                )
        self.nodes[node.id] = node
        return Output(node.id)

    def order(self) -> list[Node]:
        """The nodes in a topological order; InvalidInput naming a cycle if there is one."""
        state: dict[str, int] = {}
        ordered: list[Node] = []
        path: list[str] = []

        def visit(node_id: str) -> None:
            mark = state.get(node_id)
            if mark == 2:
                return
            if mark == 1:
                cycle = [*path[path.index(node_id) :], node_id]
                raise InvalidInput(f"the pipeline has a cycle: {' -> '.join(cycle)}")
            state[node_id] = 1
            path.append(node_id)
            for upstream in self.nodes[node_id].upstream():
                if upstream not in self.nodes:
                    raise InvalidInput(f"{node_id} depends on {upstream!r}, which is not defined")
                visit(upstream)
            path.pop()
            state[node_id] = 2
            ordered.append(self.nodes[node_id])

        for node_id in self.nodes:
            visit(node_id)
        return ordered

    def describe(self) -> list[dict[str, Any]]:
        return [n.describe() for n in self.order()]


_BUILDING: contextvars.ContextVar[Graph | None] = contextvars.ContextVar(
    "dockyard_pipeline_graph", default=None
)


def _check_constant(value: Any, where: str) -> Any:
    """Constants passed to steps must be JSON values (they are part of the cache key)."""
    try:
        json.dumps(value, allow_nan=True, sort_keys=True)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{where} is a {type(value).__name__}: pass JSON values (numbers, strings, lists, "
            "dicts) or the outputs of other steps"
        ) from None
    return value


class Step:
    """A Python function as a pipeline step (see :func:`step`)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        resources: Resources | None = None,
        retries: int = 0,
        retry_delay: float | str = 1.0,
        timeout: float | str | None = None,
        cache: bool = True,
        pickle: bool = False,
        environment: Mapping[str, Any] | None = None,
        secrets: Sequence[str] | None = None,
    ) -> None:
        if retries < 0:
            raise InvalidInput("retries must be 0 or more")
        self.fn = fn
        self.name = name or fn.__name__
        self.resources = resources or Resources()
        self.retries = retries
        self.retry_delay = parse_duration(retry_delay) or 1.0
        self.timeout = parse_duration(timeout)
        self.cache = cache
        self.pickle = pickle
        self.environment = dict(environment or {})
        if isinstance(secrets, str):
            raise InvalidInput(f"step {self.name}: secrets is a list of names, e.g. [{secrets!r}]")
        self.secrets = tuple(check_names(secrets or (), f"step {self.name}"))
        self.signature = inspect.signature(fn)
        self._after: tuple[str, ...] = ()
        self.__doc__ = fn.__doc__
        self.__name__ = self.name
        self.__module__ = fn.__module__
        self.__qualname__ = getattr(fn, "__qualname__", self.name)
        self.__wrapped__ = fn

    def _bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"step {self.name}: {exc}") from None
        bound.apply_defaults()
        values = {}
        for key, value in bound.arguments.items():
            kind = self.signature.parameters[key].kind
            if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise InvalidInput(f"step {self.name}: *args and **kwargs are not supported")
            if not isinstance(value, Output):
                value = _check_constant(value, f"argument {key!r} of step {self.name}")
            values[key] = value
        return values

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        graph = _BUILDING.get()
        if graph is None:
            return self.fn(*args, **kwargs)  # outside a pipeline: an ordinary call
        node = Node(graph.new_id(self.name), "step", self, self._bind(args, kwargs))
        node.after = list(self._after)
        return graph.add(node)

    def after(self, *nodes: Output) -> Step:
        """This step, waiting for ``nodes`` too (without taking their outputs)."""
        for n in nodes:
            if not isinstance(n, Output):
                raise InvalidInput(f"step {self.name}.after() takes outputs of steps, not {n!r}")
        bound = Step.__new__(Step)
        bound.__dict__.update(self.__dict__)
        bound._after = (*self._after, *(n.node for n in nodes))
        return bound

    def map(self, items: Iterable[Any] | Output, /, **kwargs: Any) -> Output:
        """Fan out: run the step once per item (as its first parameter) with ``kwargs``
        shared; downstream steps get the list of results. Stored as one record."""
        graph = _BUILDING.get()
        if graph is None:
            return [self.fn(item, **kwargs) for item in items]  # type: ignore[return-value]
        first = next(iter(self.signature.parameters), None)
        if first is None:
            raise InvalidInput(f"step {self.name} takes no parameter to map over")
        if first in kwargs:
            raise InvalidInput(f"step {self.name}.map: {first!r} is the mapped parameter")
        placeholder = Output("__item__")
        args = self._bind([placeholder], kwargs)
        args.pop(first)
        if isinstance(items, Output):
            args[first] = items
        else:
            args[first] = _check_constant(list(items), f"the items of {self.name}.map")
        node = Node(graph.new_id(self.name), "map", self, args, list(self._after), map_arg=first)
        return graph.add(node)

    def __repr__(self) -> str:
        return f"<dockyard step {self.name}>"


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    resources: Resources | None = None,
    retries: int = 0,
    retry_delay: float | str = 1.0,
    timeout: float | str | None = None,
    cache: bool = True,
    pickle: bool = False,
    environment: Mapping[str, Any] | None = None,
    secrets: Sequence[str] | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    resources: Resources | None = None,
    retries: int = 0,
    retry_delay: float | str = 1.0,
    timeout: float | str | None = None,
    cache: bool = True,
    pickle: bool = False,
    environment: Mapping[str, Any] | None = None,
    secrets: Sequence[str] | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step: ``@dy.step`` or ``@dy.step(retries=2, ...)``.

    ``resources`` says what it needs (the process pool and Ray honour it); ``retries``
    reruns it after a failure with exponential backoff from ``retry_delay``; ``timeout``
    stops it (``"30m"``, ``"45s"`` or seconds). With ``cache`` (default), a run with the
    same code, inputs, parameters and ``environment`` reuses the earlier output. Outputs are
    stored as Parquet (tables), JSON, ``.npy`` or model folders; ``pickle=True`` allows
    pickling other objects, and it is what lets the step's stored values be read back when
    that runs code (a pickle, a Python-function model): values of other steps never are.
    ``secrets`` names project secrets the step gets as environment variables while it runs
    (``secrets=["DB_PASSWORD"]``); printed, they show as ``***`` in its log. They are read
    where the pipeline runs on the services with the key (embedded, or the server's
    scheduler); a missing one fails the step before it starts.
    """

    def wrap(f: Callable[..., Any]) -> Step:
        return Step(
            f,
            name=name,
            resources=resources,
            retries=retries,
            retry_delay=retry_delay,
            timeout=timeout,
            cache=cache,
            pickle=pickle,
            environment=environment,
            secrets=secrets,
        )

    return wrap(fn) if fn is not None else wrap


def load(ref: str) -> Output:
    """A dataset version of the run's project, ``"name@3"``, ``"name@latest"`` (or just
    ``"name"``), resolved when the pipeline run starts; steps get it as a
    :class:`dockyard.DatasetVersion`."""
    graph = _BUILDING.get()
    if graph is None:
        raise InvalidInput("dy.load(...) is used inside a @dy.pipeline function")
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(f"dy.load takes 'dataset@version', not {ref!r}")
    name = ref.partition("@")[0]
    return graph.add(Node(graph.new_id(f"load-{name}"), "load", None, ref=ref.strip()))


class Pipeline:
    """A function whose step calls make a DAG (see :func:`pipeline`)."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.signature = inspect.signature(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = self.name
        self.__module__ = fn.__module__
        self.__qualname__ = getattr(fn, "__qualname__", self.name)

    @property
    def import_path(self) -> str | None:
        """``module:function`` when the pipeline can be imported again (not from __main__)."""
        if self.__module__ == "__main__" or "<locals>" in self.__qualname__:
            return None
        return f"{self.__module__}:{self.__qualname__}"

    def params(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters of a run: ``given`` checked against the signature, defaults added."""
        try:
            bound = self.signature.bind(**given)
        except TypeError as exc:
            known = ", ".join(self.signature.parameters) or "none"
            raise InvalidInput(f"pipeline {self.name}: {exc} (its parameters: {known})") from None
        bound.apply_defaults()
        return {
            k: _check_constant(v, f"parameter {k!r} of pipeline {self.name}")
            for k, v in bound.arguments.items()
        }

    def build(self, params: Mapping[str, Any]) -> Graph:
        graph = Graph(self.name)
        token = _BUILDING.set(graph)
        try:
            self.fn(**params)
        finally:
            _BUILDING.reset(token)
        if not graph.nodes:
            raise InvalidInput(f"pipeline {self.name} calls no step")
        graph.order()
        return graph

    def __call__(self, **params: Any) -> Graph:
        return self.build(self.params(params))

    def __repr__(self) -> str:
        return f"<dockyard pipeline {self.name}>"


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...


@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...


def pipeline(
    fn: Callable[..., Any] | None = None, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Make a function a pipeline: ``@dy.pipeline``; run it with ``dy.run(p, **params)``."""

    def wrap(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name=name)

    return wrap(fn) if fn is not None else wrap
