"""Choose an executor by name: ``process`` (the default), ``inprocess``, ``ray`` (a local
Ray, or the one this process already joined), ``ray:auto`` or ``ray://host:port`` (a Ray
cluster), or any name registered under the ``dockyard.executors`` entry point group, where
the built-ins are registered too."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from dockyard.compute.executor import Executor
from dockyard.core.errors import InvalidInput

GROUP = "dockyard.executors"
DEFAULT = "process"


def open_executor(spec: str | Executor | None = None, **options: Any) -> Executor:
    """The executor ``spec`` names, built with ``options``; an executor is returned as is."""
    if spec is not None and not isinstance(spec, str):
        return spec
    name = spec or DEFAULT
    if name.startswith("ray://"):
        name, options = "ray", {**options, "address": name}
    elif name.startswith("ray:"):
        name, options = "ray", {**options, "address": name.removeprefix("ray:")}
    for ep in entry_points(group=GROUP, name=name):
        executor: Executor = ep.load()(**options)
        return executor
    known = sorted({ep.name for ep in entry_points(group=GROUP)} | {"ray:auto", "ray://HOST:PORT"})
    raise InvalidInput(
        f"unknown executor {name!r}: use one of {', '.join(known)}",
        details={"executor": name, "known": known},
    )
