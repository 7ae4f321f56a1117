"""The feature store's engine: definitions, point-in-time training sets, online values.

Define entities and feature views once (:mod:`~dockyard.features.definitions`); the
offline computation (:func:`training_set`) and the online one
(:class:`~dockyard.features.online.OnlineFeatures`) follow the same rules, written in
:mod:`dockyard.features.windows`.
"""

from dockyard.features.definitions import Aggregate, Entity, FeatureView, Field, OnDemand
from dockyard.features.offline import training_set
from dockyard.features.online import OnlineFeatures

__all__ = [
    "Aggregate",
    "Entity",
    "FeatureView",
    "Field",
    "OnDemand",
    "OnlineFeatures",
    "training_set",
]
