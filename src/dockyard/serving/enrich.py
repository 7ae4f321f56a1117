"""Online features for a served model: the features its manifest names, looked up for the
entities of a batch through the feature store's own definitions and online values (the
same ones ``training_set`` used), added to the request's columns under the names the
model was trained with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput
from dockyard.registry.manifest import FeatureLookup


@dataclass(frozen=True)
class Enrichment:
    """A resolved :class:`FeatureLookup`: the key columns a request must carry, the
    features to look up, and the model column each one fills."""

    project: str
    keys: list[str]
    refs: list[str]
    columns: dict[str, str]
    """``view__feature`` (as the online lookup names it) -> the model's column name."""


def resolve(client: Client, lookup: FeatureLookup) -> Enrichment:
    """Expand ``view:*``, and find each view's entity keys, from the current definitions."""
    keys: list[str] = []
    refs: list[str] = []
    columns: dict[str, str] = {}
    views: dict[str, Any] = {}
    for ref in lookup.features:
        view_name, _, feature = ref.partition(":")
        if view_name not in views:
            views[view_name] = client.features.view(lookup.project, view_name)
        info = views[view_name]
        keys.extend(k for k in info.keys if k not in keys)
        names = list(info.features) if feature == "*" else [feature]
        for name in names:
            if name not in info.features:
                raise InvalidInput(
                    f"the model takes feature {view_name}:{name}, which view {view_name} of "
                    f"project {lookup.project} does not define (it has "
                    f"{', '.join(info.features)})"
                )
            full = f"{view_name}__{name}"
            if full not in columns:
                refs.append(f"{view_name}:{name}")
                columns[full] = full if lookup.full_names else name
    return Enrichment(lookup.project, keys, refs, columns)


def look_up(
    client: Client, enrichment: Enrichment, request: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """The features of the request's entities, as of now, by model column name."""
    missing = [key for key in enrichment.keys if key not in request]
    if missing:
        raise InvalidInput(
            f"this model looks its features up by {', '.join(enrichment.keys)}: give "
            f"{', '.join(missing)} in each row"
        )
    keys = {key: request[key] for key in enrichment.keys}
    if any(v is None for values in keys.values() for v in values):
        raise InvalidInput(f"entity keys ({', '.join(enrichment.keys)}) must not be null")
    found = client.features.online(enrichment.project, keys, enrichment.refs, full_names=True)
    values = found.columns
    return {column: list(values[full]) for full, column in enrichment.columns.items()}
