"""Feature references: ``"view:feature"`` and ``"view:*"``, resolved against definitions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from dockyard.features.definitions import Aggregate, FeatureView, Field, OnDemand
from dockyard.features.errors import InvalidDefinition, UnknownFeature

Stored = Field | Aggregate
"""A feature whose value comes from events (offline or from the online store)."""


@dataclass(frozen=True)
class Requested:
    """One requested feature and the name of its output column."""

    view: FeatureView
    feature: Field | Aggregate | OnDemand
    column: str

    @property
    def ref(self) -> str:
        return f"{self.view.name}:{self.feature.name}"


@dataclass(frozen=True)
class Plan:
    """What a request needs: the requested features in order, the stored features to look
    up per view (requested ones and the inputs of on-demand ones) and the request values."""

    requested: list[Requested]
    stored: dict[str, list[Stored]] = field(default_factory=dict)
    views: dict[str, FeatureView] = field(default_factory=dict)
    request_values: list[str] = field(default_factory=list)


def views_by_name(views: Iterable[FeatureView]) -> dict[str, FeatureView]:
    """The views keyed by name; two views with one name are an error."""
    named: dict[str, FeatureView] = {}
    for view in views:
        if view.name in named and named[view.name] != view:
            raise InvalidDefinition(f"two different feature views are called {view.name!r}")
        named[view.name] = view
    return named


def _split(ref: str, views: dict[str, FeatureView]) -> tuple[FeatureView, str]:
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise UnknownFeature(
            f"{ref!r} is not a feature reference: write 'view:feature' or 'view:*'"
        )
    view_name, feature_name = ref.split(":")
    view = views.get(view_name)
    if view is None:
        known = ", ".join(sorted(views)) or "none"
        raise UnknownFeature(f"unknown feature view {view_name!r} in {ref!r} (known: {known})")
    return view, feature_name


def _lookup(
    ref: str, views: dict[str, FeatureView]
) -> tuple[FeatureView, Field | Aggregate | OnDemand]:
    view, name = _split(ref, views)
    try:
        return view, view.feature(name)
    except KeyError:
        known = ", ".join(f.name for f in view.features)
        raise UnknownFeature(
            f"feature view {view.name!r} has no feature {name!r} (it has: {known})"
        ) from None


def plan(views: Iterable[FeatureView], refs: Sequence[str], *, full_names: bool = False) -> Plan:
    """Resolve ``refs`` against ``views``. Output columns are the feature names, or
    ``view__feature`` with ``full_names``; names that would collide are an error."""
    named = views_by_name(views)
    if isinstance(refs, str) or not refs:
        raise UnknownFeature("give a non-empty list of feature references such as ['view:*']")
    requested: list[Requested] = []
    for ref in refs:
        view, name = _split(ref, named)
        features = view.features if name == "*" else [_lookup(ref, named)[1]]
        for feature in features:
            column = f"{view.name}__{feature.name}" if full_names else feature.name
            requested.append(Requested(view, feature, column))
    columns = [r.column for r in requested]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise UnknownFeature(
            f"the requested features give the output columns {repeated} more than once: "
            "request each feature once, or ask for full names (view__feature)"
        )
    stored: dict[str, list[Stored]] = {}
    used: dict[str, FeatureView] = {}
    request_values: list[str] = []

    def need(view: FeatureView, feature: Stored) -> None:
        used[view.name] = view
        bucket = stored.setdefault(view.name, [])
        if feature not in bucket:
            bucket.append(feature)

    for item in requested:
        if isinstance(item.feature, OnDemand):
            for value in item.feature.request_inputs:
                if value not in request_values:
                    request_values.append(value)
            for input_ref in item.feature.feature_inputs:
                view, feature = _lookup(input_ref, named)
                if isinstance(feature, OnDemand):
                    raise InvalidDefinition(
                        f"on-demand feature {item.ref!r} reads {input_ref!r}, another on-demand "
                        "feature: inputs must be stored features or request values"
                    )
                need(view, feature)
        else:
            need(item.view, item.feature)
    return Plan(requested, stored, used, request_values)
