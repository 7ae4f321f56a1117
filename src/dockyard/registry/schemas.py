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


TRAFFIC_BUCKETS = 100
"""Weights are percentages: a request falls in one of 100 buckets, taken by the weighted
aliases in the order the weights list them."""


class TrafficSet(Model):
    """How servers split a model's requests between its aliases: ``weights`` (whole
    percentages adding up to 100) answer, ``shadow`` aliases get a copy whose answers are
    logged, never returned. With ``sticky`` the value of that request field picks the
    alias (:func:`dockyard.registry.traffic.bucket_of`), so one entity always gets the
    same arm; without it each request is drawn at random."""

    weights: dict[str, Count] = Field(
        max_length=16,
        description="alias -> percentage of requests it answers (whole numbers, sum 100)",
    )
    shadow: list[str] = Field(
        default_factory=list, max_length=16, description="aliases that get a copy of requests"
    )
    sticky: Text | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="a request field whose value's hash picks the alias (A/B tests)",
    )
    reason: Text = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _a_whole_split(self) -> TrafficSet:
        total = sum(self.weights.values())
        if total != TRAFFIC_BUCKETS:
            shown = ", ".join(f"{a}={w}" for a, w in self.weights.items()) or "none"
            raise ValueError(
                f"weights must add up to {TRAFFIC_BUCKETS} (percentages); {shown} add up to {total}"
            )
        both = sorted(set(self.weights) & set(self.shadow))
        if both:
            raise ValueError(
                f"alias {', '.join(map(repr, both))} cannot both answer (weights) and "
                "shadow: name each alias in one of them"
            )
        if len(set(self.shadow)) != len(self.shadow):
            raise ValueError("shadow names an alias twice")
        return self


class Traffic(Model):
    """The split servers apply to a model's requests (see :class:`TrafficSet`)."""

    weights: dict[str, int] = Field(description="alias -> percentage of requests it answers")
    shadow: list[str] = Field(default_factory=list)
    sticky: str | None = None
    reason: str = ""
    set_by: str
    set_at: dt.datetime

    def alias_for(self, bucket: int) -> str:
        """The weighted alias that answers requests in ``bucket`` (0-99)."""
        start = 0
        for alias, weight in self.weights.items():
            start += weight
            if bucket < start:
                return alias
        raise ValueError(f"bucket {bucket} is outside 0..{TRAFFIC_BUCKETS - 1}")

    def describe(self) -> str:
        """``champion 90% · challenger 10% · shadow challenger2 · sticky by card_hash``."""
        parts = [f"{a} {w}%" for a, w in self.weights.items()]
        if self.shadow:
            parts.append(f"shadow {', '.join(self.shadow)}")
        if self.sticky:
            parts.append(f"sticky by {self.sticky}")
        return " · ".join(parts)


class FreezeSet(Model):
    reason: Text = Field(min_length=1, max_length=2000, description="why: shown to everyone")

    @model_validator(mode="after")
    def _says_why(self) -> FreezeSet:
        if not self.reason.strip():
            raise ValueError("freezing a model needs a reason: say why")
        return self


class Unfreeze(Model):
    reason: Text = Field(default="", max_length=2000)


class Freeze(Model):
    """The Andon cord: while a model is frozen no alias of it moves and its traffic stays,
    so servers stay put until someone unfreezes it."""

    reason: str
    by: str
    at: dt.datetime


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
    traffic: Traffic | None = Field(
        default=None, description="how servers split requests between aliases; null: no split"
    )
    frozen: Freeze | None = Field(
        default=None, description="set while the model is frozen: no alias moves"
    )
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    def _repr_html_(self) -> str:
        aliases = ", ".join(f"{escape(a)} → v{v}" for a, v in self.aliases.items()) or "none"
        extra = f", traffic {escape(self.traffic.describe())}" if self.traffic else ""
        if self.frozen:
            extra += f", <b>frozen</b> by {escape(self.frozen.by)}: {escape(self.frozen.reason)}"
        return (
            f"<div><b>model</b> <code>{escape(self.name)}</code> in {escape(self.project)}: "
            f"latest v{self.latest_version}, aliases {aliases}{extra}</div>"
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
    """An event in a model's history: a move of an alias, or (``alias`` empty) a change
    of the whole model: its traffic set or cleared, a freeze or an unfreeze."""

    model: str
    alias: str = Field(description="the alias moved; empty for a model-wide event")
    from_version: int | None
    to_version: int | None
    action: Literal["set", "override", "rollback", "remove", "traffic", "freeze", "unfreeze"]
    actor: str
    reason: str
    gate: GateReport | None = None
    rolled_back: bool = False
    at: dt.datetime
    detail: Traffic | Freeze | None = Field(
        default=None,
        description="traffic: the split set (null: cleared); freeze: the freeze; "
        "unfreeze: the freeze lifted",
    )


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
