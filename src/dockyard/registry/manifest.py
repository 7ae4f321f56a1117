"""The manifest of a logged model: ``model.json`` at the root of the model's folder.

It says how to load the model (flavor and its options), what it needs (framework, Python
and requirements), what it takes and returns (the signature) and which files make it up,
each with its sha256, so a changed byte anywhere refuses to load. The registry reads it
to register a version; loading reads it to pick the flavor.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from dockyard.core.paths import RelativePath
from dockyard.core.schemas import Model

MANIFEST_NAME = "model.json"
_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
_FEATURE_REF = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}:(\*|[A-Za-z0-9_][A-Za-z0-9._-]{0,127})\Z"
)


class ColumnSpec(Model):
    """One input or output column: its name and type.

    Types are the logical names ``bool``, ``int8``..``int64``, ``uint8``..``uint64``,
    ``float32``, ``float64``, ``string``, ``binary``, ``datetime`` and ``category``.
    """

    name: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=1, max_length=64)
    nullable: bool = True


class Signature(Model):
    """The columns a model takes and the columns (or single output) it returns."""

    inputs: list[ColumnSpec]
    outputs: list[ColumnSpec] = Field(default_factory=list)


class ModelFile(Model):
    """One file of the model folder (every file but the manifest itself)."""

    path: RelativePath = Field(description="relative POSIX path in the folder")
    digest: str = Field(description="sha256 of the file's bytes, hex")
    size: int = Field(ge=0)

    @field_validator("digest")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _DIGEST.fullmatch(value):
            raise ValueError("digest must be 64 lower-case hex characters (sha256)")
        return value


class FeatureLookup(Model):
    """The feature-store features a model takes. A model server given the entity keys and
    the request's own values looks these up online, through the same definitions that
    built the training set, and adds them as the model's input columns."""

    project: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    features: list[str] = Field(
        min_length=1,
        max_length=1000,
        description="'view:feature' references, or 'view:*' for every feature of a view",
    )
    full_names: bool = Field(
        default=False,
        description="the model's columns are named view__feature, as training_set(..., "
        "full_names=True) names them; else by feature name",
    )

    @field_validator("features")
    @classmethod
    def _refs(cls, value: list[str]) -> list[str]:
        for ref in value:
            if not _FEATURE_REF.fullmatch(ref):
                raise ValueError(f"{ref[:100]!r} is not a feature reference: use 'view:feature'")
        return value


class ModelManifest(Model):
    """What ``model.json`` holds."""

    format_version: Literal[1] = 1
    flavor: str = Field(min_length=1, max_length=64, description="sklearn, xgboost, ...")
    framework: str = Field(default="", description="the library the model comes from")
    framework_version: str = ""
    python_version: str = ""
    requirements: list[str] = Field(
        default_factory=list, description="pip requirements to load the model"
    )
    signature: Signature | None = None
    input_example: RelativePath | None = Field(
        default=None, description="path of the stored input example in the folder"
    )
    predict_proba: bool = Field(default=False, description="the model has predict_proba")
    needs_trust: bool = Field(
        default=False,
        description="loading runs stored code (pickle, Python code): only with trusted=True. "
        "Written by whoever logged the model, so a loader never relies on it alone",
    )
    flavor_options: dict[str, Any] = Field(
        default_factory=dict, description="what the flavor needs to load it again"
    )
    files: list[ModelFile] = Field(default_factory=list)
    created_at: dt.datetime | None = None
    features: FeatureLookup | None = Field(
        default=None, description="feature-store features a server looks up for the model"
    )
