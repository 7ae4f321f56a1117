"""The feature store's engine: definitions, point-in-time training sets, online values.

Define entities and feature views once (:mod:`~dockyard.features.definitions`); the
offline computation (:func:`training_set`) and the online one
(:class:`~dockyard.features.online_values.OnlineFeatures`) follow the same rules, written in
:mod:`dockyard.features.windows`.
"""

import importlib
from typing import Any

from dockyard.features.definitions import Aggregate, Entity, FeatureView, Field, OnDemand
from dockyard.features.online_values import OnlineFeatures

_SDK = ("apply", "views", "materialize", "online", "push", "training_set")
"""``dy.features.<name>``: the SDK's functions (dockyard.sdk.features), loaded on first use so
that the engine and the server never import the client."""


def __getattr__(name: str) -> Any:
    if name in _SDK:
        return getattr(importlib.import_module("dockyard.sdk.features"), name)
    raise AttributeError(f"module 'dockyard.features' has no attribute {name!r}")


__all__ = [
    "Aggregate",
    "Entity",
    "FeatureView",
    "Field",
    "OnDemand",
    "OnlineFeatures",
    "apply",
    "materialize",
    "online",
    "push",
    "training_set",
    "views",
]
