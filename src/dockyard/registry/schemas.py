"""Request and response models of the model registry."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any, Literal

from pydantic import Field, model_validator

from dockyard.core.schemas import Count, Limit, Model, Name, Text
from dockyard.registry.manifest import ModelManifest, Signature
from dockyard.tracking.schemas import Run

Tags = dict[str, str]


class RegisteredModel(Model):
    id: str
    name: str
    project: str
    description: str
    tags: Tags = Field(default_factory=dict)
    latest_version: int | None = None
    aliases: dict[str, int | None] = Field(
        default_factory=dict, description="alias -> the version it points at"
    )
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    def _repr_html_(self) -> str:
        aliases = ", ".join(f"{escape(a)} → v{v}" for a, v in self.aliases.items()) or "none"
        return (
            f"<div><b>model</b> <code>{escape(self.name)}</code> in {escape(self.project)}: "
            f"latest v{self.latest_version}, aliases {aliases}</div>"
        )


class ModelCreate(Model):
    name: Name
    project: Name
    description: Text = Field(default="", max_length=10_000)
    tags: Tags = Field(default_factory=dict)


class ModelUpdate(Model):
    description: Text | None = Field(default=None, max_length=10_000)
    tags: Tags | None = Field(default=None, description="tags to set (an empty value deletes)")


class ModelQuery(Model):
    project: str | None = None
    name: str | None = Field(default=None, description="a substring of the name")
    tag: str | None = Field(default=None, description="key=value: models with that tag")
    limit: Limit = 100
    cursor: str | None = None


class ModelPage(Model):
    items: list[RegisteredModel]
    next_cursor: str | None = None

    def _repr_html_(self) -> str:
        return "".join(m._repr_html_() for m in self.items) or "<div>no models</div>"


class ModelVersion(Model):
    id: str
    model: str
    version: int
    run_id: str | None
    source: str = Field(description="where it was registered from: runs:/<run id>/<path>")
    flavor: str
    manifest_digest: str
    manifest: ModelManifest
    description: str
    tags: Tags = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    created_by: str
    created_at: dt.datetime

    @property
    def signature(self) -> Signature | None:
        return self.manifest.signature

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"

    def _repr_html_(self) -> str:
        sig = self.manifest.signature
        cols = ", ".join(f"{escape(c.name)}: {escape(c.type)}" for c in sig.inputs) if sig else ""
        return (
            f"<div><b>model version</b> <code>{escape(self.uri)}</code> "
            f"({escape(self.flavor)}) from <code>{escape(self.source)}</code>"
            f"{' aliases ' + escape(', '.join(self.aliases)) if self.aliases else ''}"
            f"<br><small>inputs: {cols or 'no signature'}</small></div>"
        )


class VersionCreate(Model):
    run_id: str = Field(min_length=1, max_length=64)
    path: str = Field(min_length=1, max_length=1024, description="the model's artifact folder")
    description: Text = Field(default="", max_length=10_000)
    tags: Tags = Field(default_factory=dict)
    project: Name | None = Field(
        default=None, description="project of a new model (default: the run's project)"
    )


class VersionUpdate(Model):
    description: Text | None = Field(default=None, max_length=10_000)
    tags: Tags | None = None


class VersionPage(Model):
    items: list[ModelVersion]
    next_cursor: str | None = None


class MetricGate(Model):
    """Require ``metric op threshold`` on an evaluation of the version, optionally over a
    dataset (at least version ``min_dataset_version``), optionally no worse than the
    version the alias points at now."""

    metric: str = Field(min_length=1, max_length=250)
    op: Literal[">=", ">", "<=", "<"] = ">="
    threshold: float | None = None
    dataset: str | None = Field(
        default=None, description="the evaluation run must have read a version of this dataset"
    )
    min_dataset_version: Count | None = Field(default=None, ge=1)
    not_worse_than_current: bool = False

    @model_validator(mode="after")
    def _something_to_check(self) -> MetricGate:
        if self.threshold is None and not self.not_worse_than_current:
            raise ValueError(
                f"gate on {self.metric!r} checks nothing: give a threshold or "
                "not_worse_than_current=true"
            )
        if self.min_dataset_version is not None and self.dataset is None:
            raise ValueError("min_dataset_version needs dataset (the dataset's name)")
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.op in (">=", ">")

    def describe(self) -> str:
        parts = [
            f"{self.metric} {self.op} {self.threshold:g}" if self.threshold is not None else ""
        ]
        if self.dataset:
            over = f"over dataset {self.dataset}"
            if self.min_dataset_version:
                over += f" v{self.min_dataset_version} or newer"
            parts.append(over)
        if self.not_worse_than_current:
            parts.append(f"{self.metric} not worse than the current version")
        return ", ".join(p for p in parts if p)


class AliasPolicy(Model):
    gates: list[MetricGate] = Field(min_length=1)
    override_by: list[str] = Field(
        default_factory=list,
        description="users who may override a failed gate (with a reason) besides admins; "
        "empty: admins only",
    )


class PolicySet(Model):
    policy: AliasPolicy | None = Field(description="null removes the policy")


class AliasSet(Model):
    version: Count = Field(ge=1)
    reason: Text = Field(default="", max_length=2000)
    force: bool = Field(default=False, description="override failed gates (needs a reason)")


class GateCheck(Model):
    gate: str = Field(description="the gate in words")
    passed: bool
    value: float | None = None
    run_id: str | None = Field(default=None, description="the evaluation run the value is from")
    current_value: float | None = None
    message: str


class GateReport(Model):
    passed: bool
    checks: list[GateCheck]

    def summary(self) -> str:
        return "; ".join(f"{'ok' if c.passed else 'FAILED'}: {c.message}" for c in self.checks)


class Alias(Model):
    model: str
    alias: str
    version: int | None
    policy: AliasPolicy | None = None
    updated_by: str
    updated_at: dt.datetime


class AliasMove(Model):
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    action: Literal["set", "override", "rollback", "remove"]
    actor: str
    reason: str
    gate: GateReport | None = None
    rolled_back: bool = False
    at: dt.datetime


class Rollback(Model):
    reason: Text = Field(default="", max_length=2000)


class ModelUse(Model):
    run_id: str = Field(min_length=1, max_length=64)


class InputDataset(Model):
    """A dataset version the model's run read."""

    dataset: str
    project: str
    version: int
    digest: str
    rows: int
    status: str
    version_id: str


class CodeInfo(Model):
    commit: str | None = None
    branch: str | None = None
    remote: str | None = None
    dirty: bool | None = None
    diff_artifact: str | None = Field(default=None, description="run artifact with the diff")
    entry_point: str | None = None
    run_id: str | None = Field(
        default=None,
        description="the run that captured the code: the model's run, or for a pipeline "
        "step's run the pipeline's run",
    )


class EnvironmentInfo(Model):
    python: str | None = None
    packages: list[str] = Field(default_factory=list)
    host: str | None = None
    requirements: list[str] = Field(
        default_factory=list, description="what loading the model needs (from its manifest)"
    )


class ModelLineage(Model):
    """From a version back to what made it: run, params, metrics, data, code, environment."""

    version: ModelVersion
    run: Run | None
    inputs: list[InputDataset]
    other_inputs: list[dict[str, Any]] = Field(
        default_factory=list, description="anything else the run read (kind, ref, label)"
    )
    evaluations: list[Run] = Field(
        default_factory=list, description="runs that loaded this version (evaluations, scoring)"
    )
    code: CodeInfo
    environment: EnvironmentInfo
    alias_history: list[AliasMove] = Field(default_factory=list)


class ModelCard(Model):
    markdown: str
    html: str

    def _repr_html_(self) -> str:
        return self.html
