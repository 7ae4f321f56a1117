"""What identifies a step call: its cache key, and its function as shipped to workers.

A cache key covers the step's code (its source and the user's functions it reaches), its
inputs' digests, its constant arguments, its declared environment, the names of the secrets
it declares (never their values) and the Python version.
Both the fingerprint and the pickled function are computed once per step and run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

from dockyard.pipelines.code import fingerprint
from dockyard.pipelines.graph import Node, Output, Step


def jsonable(value: Any) -> Any:
    """``value`` if it is JSON, else its repr (for a fan-out item's identity)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


class StepKeys:
    """Cache keys and pickled functions of one pipeline run's steps."""

    def __init__(self) -> None:
        self._fingerprints: dict[int, str] = {}
        self._pickled: dict[int, bytes] = {}

    def key(
        self,
        node: Node,
        digests: Mapping[str, str],
        item: Mapping[str, Any] | None = None,
    ) -> str:
        """The cache key of ``node`` (of one fan-out ``item``: it depends on that item only),
        given the digests of the upstream outputs by node id."""
        step = node.step
        assert step is not None
        code = self._fingerprints.get(id(step))
        if code is None:
            code = self._fingerprints[id(step)] = fingerprint(step.fn)
        inputs = {
            k: {"digest": digests[v.node]} if isinstance(v, Output) else {"value": v}
            for k, v in node.args.items()
            if item is None or k != node.map_arg
        }
        if item is not None:
            inputs[node.map_arg or ""] = dict(item)
        material = {
            "step": step.name,
            "code": code,
            "inputs": inputs,
            "environment": step.environment,
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "pickle": step.pickle,
        }
        if step.secrets:  # their names, never their values (a value's hash could be guessed)
            material["secrets"] = sorted(step.secrets)
        text = json.dumps(material, sort_keys=True, allow_nan=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def pickled(self, step: Step) -> bytes:
        """The step's function pickled (by value for a script's own functions), once."""
        found = self._pickled.get(id(step))
        if found is None:
            import cloudpickle

            found = self._pickled[id(step)] = cloudpickle.dumps(step.fn)
        return found
