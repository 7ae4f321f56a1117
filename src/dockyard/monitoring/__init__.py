"""Monitoring of served models: mergeable window summaries, drift, data quality,
performance from late labels (and estimated before them), alerts and their actions.

``dy.monitoring.report(...)``, ``run`` and ``log_labels`` are the SDK's functions
(:mod:`dockyard.sdk.monitoring`), loaded on first use so that the engine and the server
never import the client.
"""

import importlib
from typing import Any

_SDK = ("report", "run", "log_labels", "monitor")


def __getattr__(name: str) -> Any:
    if name in _SDK:
        return getattr(importlib.import_module("dockyard.sdk.monitoring"), name)
    raise AttributeError(f"module 'dockyard.monitoring' has no attribute {name!r}")


__all__ = ["log_labels", "monitor", "report", "run"]
