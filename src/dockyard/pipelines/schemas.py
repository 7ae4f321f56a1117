"""Request and response models of pipeline runs, their steps and the step cache."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Annotated, Any, Literal

from pydantic import Field

from dockyard.core.paths import Sha256
from dockyard.core.schemas import Count, Limit, Model, Name, Text
from dockyard.pipelines.values import ValueRef

StepStatus = Literal["pending", "running", "succeeded", "failed", "cached", "skipped", "cancelled"]
PipelineStatus = Literal["running", "succeeded", "failed", "cancelled"]
DONE = ("succeeded", "cached")
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
IMPORT_PATH = rf"^{_DOTTED}:{_DOTTED}$"
ITEM_CODES = {"pending": ".", "running": "r", "succeeded": "s", "cached": "c", "failed": "F"}


class ItemsRef(Model):
    """The outputs of a fan-out: a JSON blob listing one ValueRef per item."""

    kind: Literal["items"]  # no default: bodies are sent without unset fields
    digest: Sha256
    count: Count


StepOutput = Annotated[ValueRef | ItemsRef, Field(discriminator="kind")]


class StepRecord(Model):
    node: Text = Field(max_length=160)
    position: Count = 0
    kind: Literal["step", "map", "load"] = "step"
    step: Text = Field(default="", max_length=128)
    status: StepStatus = "pending"
    run_id: str | None = None
    cache_key: str | None = None
    cached_from: str | None = Field(default=None, description="the run whose output was reused")
    attempts: Count = 0
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    duration_ms: Count | None = None
    output: StepOutput | None = None
    error: Text = ""
    items_total: Count = 0
    items_status: str = Field(
        default="",
        description="one character per item: . pending, r running, s done, c cached, F failed",
    )

    def item_counts(self) -> dict[str, int]:
        names = {code: status for status, code in ITEM_CODES.items()}
        counts: dict[str, int] = {}
        for code in self.items_status:
            counts[names.get(code, code)] = counts.get(names.get(code, code), 0) + 1
        return counts


class PipelineRunCreate(Model):
    run_id: str = Field(min_length=1, max_length=32)
    project: Name
    pipeline: Text = Field(min_length=1, max_length=128)
    import_path: Text | None = Field(
        default=None,
        max_length=512,
        pattern=IMPORT_PATH,
        description="module:function (dotted names, never a file path), imported by dy.resume",
    )
    params: dict[str, Any] = Field(default_factory=dict)
    graph: list[dict[str, Any]] = Field(default_factory=list)
    executor: Text = Field(default="process", max_length=256)
    resumed_from: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)


class PipelineRunUpdate(Model):
    status: PipelineStatus
    error: Text = ""


class PipelineRunState(Model):
    status: PipelineStatus
    cancel_requested: bool


class StepsUpdate(Model):
    steps: list[StepRecord] = Field(max_length=10_000)


class PipelineRun(Model):
    id: str
    project: str
    pipeline: str
    import_path: str | None
    status: PipelineStatus
    params: dict[str, Any]
    graph: list[dict[str, Any]]
    executor: str
    resumed_from: str | None
    cancel_requested: bool
    error: str
    created_by: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    steps: list[StepRecord] = Field(default_factory=list)

    def step(self, node: str) -> StepRecord:
        for s in self.steps:
            if s.node == node:
                return s
        raise KeyError(node)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(s.node)}</td><td>{s.status}</td><td>{s.attempts}</td>"
            f"<td>{'' if s.duration_ms is None else f'{s.duration_ms / 1000:.2f} s'}</td>"
            f"<td>{escape(s.error[:120])}</td></tr>"
            for s in self.steps
        )
        return (
            f"<div><b>pipeline run</b> <code>{escape(self.pipeline)}</code> {self.id} "
            f"<b>{self.status}</b><table><tr><th>step</th><th>status</th><th>attempts</th>"
            f"<th>duration</th><th>error</th></tr>{rows}</table></div>"
        )


class PipelineRunQuery(Model):
    project: str | None = None
    pipeline: str | None = None
    status: PipelineStatus | None = None
    limit: Limit = 50
    cursor: str | None = None
    count: bool = Field(
        False, description="also count every pipeline run matching the filters, as ``total``"
    )


class PipelineRunPage(Model):
    items: list[PipelineRun]
    next_cursor: str | None = None
    total: int | None = Field(
        None, description="how many pipeline runs match the filters in all (when asked with count)"
    )


class CacheEntry(Model):
    key: str = Field(pattern=r"^[0-9a-f]{64}$")
    step: str = Field(max_length=128)
    output: StepOutput
    pipeline_run_id: str | None = None
    run_id: str | None = None
    created_at: dt.datetime | None = None
    blobs: list[Sha256] = Field(
        default_factory=list, description="the blobs the output needs (kept while cached)"
    )


class CacheLookup(Model):
    project: Name = Field(description="the project whose pipelines stored the entries")
    keys: list[str] = Field(max_length=20_000)


class CacheStore(Model):
    project: Name
    entries: list[CacheEntry] = Field(max_length=20_000)


class StepStart(Model):
    """A step about to run: its record, its cache key (looked up first) and its child run."""

    record: StepRecord
    key: str | None = None
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    pickle: bool = Field(
        default=False,
        description="the step declares pickle=True: only then is a cached pickled output a hit",
    )


class StepsStart(Model):
    steps: list[StepStart] = Field(max_length=10_000)


class StepsStarted(Model):
    runs: dict[str, str] = Field(description="node -> the child run made for it")
    hits: dict[str, CacheEntry] = Field(description="node -> the cached output it reuses")


class ArtifactIn(Model):
    """A blob already stored, to attach to the step's run as an artifact."""

    path: str = Field(min_length=1, max_length=1024)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: Count


class StepFinish(Model):
    record: StepRecord
    run_status: Literal["finished", "failed", "killed"] | None = None
    artifacts: list[ArtifactIn] = Field(default_factory=list)
    cache: list[CacheEntry] = Field(default_factory=list)
    blobs: list[str] = Field(
        default_factory=list,
        description="other blobs the step's output needs (a fan-out's items and their list), "
        "kept as long as the step's run",
    )


class StepsFinish(Model):
    steps: list[StepFinish] = Field(max_length=10_000)
