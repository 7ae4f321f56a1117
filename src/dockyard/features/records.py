"""Stored definitions: rebuilding entities and views from their canonical JSON, and saying
in sentences what changed between two versions of one.

A view's record holds every feature, on-demand ones as their description only (name,
inputs, function name, source digest). The service rebuilds a view of its *stored*
features only: on-demand features run in their owner's process, never from a record.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import ValidationError

from dockyard.features.definitions import Entity, FeatureView
from dockyard.features.errors import InvalidDefinition

ON_DEMAND = "on_demand"
_ON_DEMAND_KEYS = {"kind", "name", "inputs", "vectorized", "function", "source_sha256"}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
MAX_NAME = 64
"""Entity and view names are stored in 64 characters."""

_NUMERIC = {
    "count": "integer",
    "distinct_count": "integer",
    "sum": "float",
    "mean": "float",
    "std": "float",
}


def canonical_json(definition: dict[str, Any]) -> str:
    return json.dumps(definition, sort_keys=True, separators=(",", ":"))


def fingerprint(definition: dict[str, Any]) -> str:
    """The sha256 of the canonical JSON: equal to the definition object's ``fingerprint()``."""
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}" for err in exc.errors()
    )


def parse_entity(raw: dict[str, Any]) -> tuple[Entity, dict[str, Any]]:
    """An entity from its canonical JSON, and that JSON as stored."""
    try:
        entity = Entity.model_validate(raw)
    except ValidationError as exc:
        name = raw.get("name", "?") if isinstance(raw, dict) else "?"
        raise InvalidDefinition(f"entity {name!r} is not valid: {_problems(exc)}") from None
    _short(entity.name, "entity")
    return entity, entity.canonical()


def _short(name: str, what: str) -> None:
    if len(name) > MAX_NAME:
        raise InvalidDefinition(
            f"{what} name {name[:80]!r}... is longer than {MAX_NAME} characters"
        )


def _check_on_demand(view: str, raw: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(raw) - _ON_DEMAND_KEYS)
    missing = sorted({"name", "inputs"} - set(raw))
    if unknown or missing:
        raise InvalidDefinition(
            f"on-demand feature {raw.get('name', '?')!r} of view {view!r}: "
            + (f"unknown fields {unknown}" if unknown else f"missing fields {missing}")
            + " (send OnDemand(...).canonical())"
        )
    inputs = raw["inputs"]
    if (
        not isinstance(raw["name"], str)
        or not _NAME.match(raw["name"])
        or not isinstance(inputs, list)
        or not inputs
        or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in inputs)
    ):
        raise InvalidDefinition(
            f"on-demand feature of view {view!r}: the name must be letters, digits and "
            "underscores, and inputs a non-empty list of feature references or request value "
            "names"
        )
    for key in ("function", "source_sha256"):
        if not isinstance(raw.get(key, ""), str) or len(raw.get(key, "")) > 500:
            raise InvalidDefinition(f"on-demand feature {raw['name']!r}: {key} must be short text")
    vectorized = raw.get("vectorized", False)
    if not isinstance(vectorized, bool):
        raise InvalidDefinition(f"on-demand feature {raw['name']!r}: vectorized is true or false")
    return {
        "kind": ON_DEMAND,
        "name": raw["name"],
        "inputs": list(inputs),
        "vectorized": vectorized,
        "function": raw.get("function", ""),
        "source_sha256": raw.get("source_sha256", ""),
    }


def parse_view(raw: dict[str, Any]) -> tuple[FeatureView, dict[str, Any]]:
    """The view of stored features (on-demand ones left out) from a view's canonical JSON,
    and the canonical JSON to store (every feature, in the order given)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("features"), list):
        raise InvalidDefinition("a feature view needs a list of features (send view.canonical())")
    name = str(raw.get("name", "?"))
    features = raw["features"]
    stored = [f for f in features if not (isinstance(f, dict) and f.get("kind") == ON_DEMAND)]
    if not stored:
        raise InvalidDefinition(
            f"feature view {name!r} needs at least one stored feature (a Field or an Aggregate)"
        )
    try:
        view = FeatureView.model_validate({**raw, "features": stored})
    except ValidationError as exc:
        raise InvalidDefinition(f"feature view {name!r} is not valid: {_problems(exc)}") from None
    _short(view.name, "feature view")
    names = {f.name for f in view.features}
    parsed = iter(view.features)  # the stored features, in the order given
    ordered = []
    for item in features:
        if isinstance(item, dict) and item.get("kind") == ON_DEMAND:
            entry = _check_on_demand(view.name, item)
            if entry["name"] in names:
                raise InvalidDefinition(
                    f"feature names repeat in view {view.name!r}: {entry['name']!r}"
                )
            names.add(entry["name"])
            ordered.append(entry)
        else:
            ordered.append(next(parsed).canonical())
    for entry in ordered:
        if entry["kind"] == ON_DEMAND:
            for ref in entry["inputs"]:
                if ref.startswith(f"{view.name}:") and ref.split(":", 1)[1] not in names:
                    raise InvalidDefinition(
                        f"on-demand feature {entry['name']!r} reads {ref!r}, which view "
                        f"{view.name!r} does not define"
                    )
    return view, {**view.canonical(), "features": ordered}


def stored_view(definition: dict[str, Any]) -> FeatureView:
    """The view of stored features of a record (trusted: it was checked when applied)."""
    return parse_view(definition)[0]


def output_type(feature: dict[str, Any]) -> str:
    """What a feature's values are: 'integer', 'float', or 'the type of column X'."""
    if feature["kind"] == ON_DEMAND:
        return f"what {feature.get('function') or 'its function'} returns"
    if feature["kind"] == "aggregate" and feature["fn"] in _NUMERIC:
        return _NUMERIC[feature["fn"]]
    return f"the type of column {feature['column']!r}"


def view_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed from ``old`` to ``new``, in sentences. Raises InvalidDefinition for a
    change that would give a feature's name other values of another kind, or other keys:
    that is a new feature (or view), so it needs a new name."""
    name = new["name"]
    old_keys = [k for e in old["entities"] for k in e["keys"]]
    new_keys = [k for e in new["entities"] for k in e["keys"]]
    if old_keys != new_keys:
        raise InvalidDefinition(
            f"view {name!r} changes its key columns from {old_keys} to {new_keys}: its stored "
            "values and the training sets built from it are keyed by the old ones. Define a "
            "view with another name for the new keys"
        )
    changes = []
    for field in ("source", "timestamp", "ttl", "bucket", "lateness"):
        if old.get(field) != new.get(field):
            changes.append(f"{field}: {old.get(field)} -> {new.get(field)}")
    before = {f["name"]: f for f in old["features"]}
    after = {f["name"]: f for f in new["features"]}
    for feature, spec in after.items():
        if feature not in before:
            changes.append(f"feature {feature} added")
            continue
        was = before[feature]
        if output_type(was) != output_type(spec) and not (was["kind"] == spec["kind"] == ON_DEMAND):
            raise InvalidDefinition(
                f"feature {feature!r} of view {name!r} would change its values from "
                f"{output_type(was)} to {output_type(spec)}: models and training sets read it "
                "by name. Give the new feature another name (and remove the old one if unused)"
            )
        diffs = [
            f"{k} {was.get(k)} -> {spec.get(k)}"
            for k in sorted(set(was) | set(spec))
            if was.get(k) != spec.get(k)
        ]
        if diffs:
            changes.append(f"feature {feature}: " + ", ".join(diffs))
    changes.extend(f"feature {f} removed" for f in before if f not in after)
    return changes


def entity_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old["keys"] != new["keys"]:
        return [f"keys: {old['keys']} -> {new['keys']}"]
    return [] if old == new else ["definition changed"]
