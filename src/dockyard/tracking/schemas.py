"""Request and response models of experiment tracking."""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from dockyard.core.schemas import NO_NUL, Count, Limit, Model, Name, Page, Seconds, Text

RunStatus = Literal["running", "finished", "failed", "killed"]
FINAL_STATUSES = ("finished", "failed", "killed")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-./: ]{0,249}\Z")
KEY_RULE = "1-250 letters, digits, spaces or '_-./:', starting with a letter, digit or '_'"


def check_key(value: str) -> str:
    """Param, metric and tag keys: things people type in queries and column headers."""
    if not _KEY.fullmatch(value) or value != value.strip():
        raise ValueError(f"{value[:80]!r} is not a valid key: use {KEY_RULE}")
    return value


Key = Annotated[str, AfterValidator(check_key)]
ParamValue = Annotated[str, Field(max_length=6000, pattern=NO_NUL)]
TagValue = Annotated[str, Field(max_length=6000, pattern=NO_NUL)]
RunName = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]


class ExperimentCreate(Model):
    project: Name
    name: Name
    description: Text = Field("", max_length=10_000)


class Experiment(Model):
    id: str
    project: str
    name: str
    description: str
    created_by: str
    created_at: dt.datetime
    deleted: bool = False
    run_count: int = Field(
        0, description="its runs that are not deleted, top-level and child runs alike"
    )
    last_run_at: dt.datetime | None = Field(
        None, description="when the latest of those runs started (None without runs)"
    )


class RunCreate(Model):
    project: Name
    create_project: bool = Field(
        False, description="create the project if it does not exist (as the SDK's start_run does)"
    )
    experiment: Name = "default"
    name: RunName | None = None
    parent_id: str | None = None
    params: dict[Key, ParamValue] = Field(default_factory=dict)
    tags: dict[Key, TagValue] = Field(default_factory=dict)
    note: Text = Field("", max_length=100_000)


class RunUpdate(Model):
    """Fields to change; ending a run sets its status to a final one."""

    name: RunName | None = None
    status: RunStatus | None = None
    note: Text | None = Field(None, max_length=100_000)


class ParamsLog(Model):
    params: dict[Key, ParamValue]


class TagsSet(Model):
    tags: dict[Key, TagValue]


class MetricSummary(Model):
    last: float
    min: float
    max: float
    step: int
    count: int
    timestamp: int


class Run(Model):
    id: str
    project: str
    experiment: str
    parent_id: str | None
    name: str
    status: RunStatus
    user: str
    note: str
    start_time: dt.datetime
    end_time: dt.datetime | None
    heartbeat_at: dt.datetime
    deleted: bool = False
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, MetricSummary] = Field(default_factory=dict)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(kind)}</td><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>"
            for kind, items in (
                ("param", self.params.items()),
                ("metric", ((k, m.last) for k, m in self.metrics.items())),
                ("tag", self.tags.items()),
            )
            for k, v in items
        )
        return (
            f"<div><b>run</b> <code>{escape(self.name)}</code> <small>{self.id}</small> "
            f"<b>{self.status}</b> in {escape(self.project)}/{escape(self.experiment)} "
            f"by {escape(self.user)}<table>{rows}</table></div>"
        )


class MetricSeries(Model):
    """Points of one metric, column-wise: steps[i], timestamps[i] (ms), values[i]."""

    # 64-bit bounds are checked by tracking.metrics.check_ranges, whose message names the
    # metric and the point (and a spooled batch's warning repeats it)
    steps: list[int]
    timestamps: list[int]
    values: list[Annotated[float, Field(allow_inf_nan=False)]]

    @model_validator(mode="after")
    def _same_lengths(self) -> MetricSeries:
        if not len(self.steps) == len(self.timestamps) == len(self.values):
            raise ValueError("steps, timestamps and values must have the same length")
        return self


class MetricBatch(Model):
    """Metric points to log; a batch sent twice with the same ``batch_id`` is stored once."""

    batch_id: Text | None = Field(None, min_length=1, max_length=64)
    series: dict[Key, MetricSeries]


class MetricsLogged(Model):
    points: int
    duplicate: bool = False


class HistoryQuery(Model):
    key: Key
    max_points: int | None = Field(None, ge=3, le=1_000_000)


class MetricHistory(Model):
    run_id: str
    key: str
    total_points: int
    downsampled: bool
    steps: list[int]
    timestamps: list[int]
    values: list[float]


class RunQuery(Model):
    limit: Limit = 100
    cursor: str | None = None


class RunSearch(Model):
    """Find runs: ``query`` in the search language, ``order_by`` like 'metrics.auc DESC'."""

    query: Text = Field("", max_length=10_000)
    order_by: Text = Field("", max_length=10_000)
    projects: list[Name] = Field(default_factory=list, description="empty: every project")
    experiments: list[Name] = Field(default_factory=list, description="empty: every experiment")
    include_deleted: bool = False
    limit: Limit = 100
    cursor: str | None = None
    offset: Count | None = Field(
        None,
        description="start at this row of the results (instead of a cursor), e.g. to jump "
        "anywhere in a long table",
    )
    count: bool = Field(
        False, description="also count every run matching the query and scope, as ``total``"
    )

    @model_validator(mode="after")
    def _cursor_or_offset(self) -> RunSearch:
        if self.cursor is not None and self.offset is not None:
            raise ValueError("give a cursor or an offset, not both")
        return self


class RunPage(Page[Run]):
    """One page of runs; shows as a table in Jupyter."""

    total: int | None = Field(
        None, description="how many runs match the query in all (when asked with count)"
    )

    def _repr_html_(self) -> str:
        params = sorted({k for r in self.items for k in r.params})
        metrics = sorted({k for r in self.items for k in r.metrics})
        head = "".join(
            f"<th>{escape(h)}</th>"
            for h in ["name", "status", "experiment", "started (UTC)"]
            + [f"params.{k}" for k in params]
            + [f"metrics.{k}" for k in metrics]
        )
        body = "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(str(v))}</td>"
                for v in [r.name, r.status, r.experiment, f"{r.start_time:%Y-%m-%d %H:%M}"]
                + [r.params.get(k, "") for k in params]
                + [f"{r.metrics[k].last:.6g}" if k in r.metrics else "" for k in metrics]
            )
            + "</tr>"
            for r in self.items
        )
        more = "<p>more: pass next_cursor</p>" if self.next_cursor else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


class RunKeysQuery(Model):
    """The scope whose keys to list, as in :class:`RunSearch`."""

    projects: list[Name] = Field(default_factory=list, description="empty: every project")
    experiments: list[Name] = Field(default_factory=list, description="empty: every experiment")


class RunKeys(Model):
    """The distinct param, metric and tag keys of the (non-deleted) runs in a scope, sorted."""

    params: list[str]
    metrics: list[str]
    tags: list[str]


class Artifact(Model):
    path: str
    size: int
    digest: str
    media_type: str
    created_at: dt.datetime


Scalar = str | int | float | bool | None


class TableQuery(Model):
    path: Text = Field(min_length=1, max_length=1024, description="the artifact's path")
    limit: int = Field(100, ge=1, le=1000, description="rows to read from the start")


class TableColumn(Model):
    name: str
    type: str = Field(description="its Arrow type, e.g. int64, double, string, timestamp[us]")


class TablePreview(Model):
    """The first rows of a table artifact (Parquet, CSV, TSV), as JSON-safe values: NaN and
    infinities are null, times are ISO strings, bytes and nested values are shown as text."""

    path: str
    columns: list[TableColumn]
    rows: list[list[Scalar]]
    total_rows: int | None = Field(description="rows in the whole table; None if unknown")
    truncated: bool = Field(description="whether the table has more rows than those shown")


class ReapRequest(Model):
    timeout_seconds: Seconds = Field(300, ge=1, description="silence after which a run has died")


class Reaped(Model):
    failed: list[str]
