"""Request and response models of data versioning: datasets, versions, statistics, rules,
validation reports, diffs and lineage."""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from dockyard.core.schemas import Count, Int64, Limit, Model, Name, Page, Text

VersionStatus = Literal["passed", "failed", "unchecked"]
Scalar = bool | int | float | str | None

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str) -> float:
    """Seconds in a duration like ``'90s'``, ``'36h'``, ``'2d'`` or ``'1w'``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration: use a number and a unit s, m, h, d or w")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _check_duration(text: str) -> str:
    duration_seconds(text)
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]
ColumnName = Annotated[str, Field(min_length=1, max_length=512)]


class Column(Model):
    """A column of a version's schema: its name and Arrow type (``int64``, ``string``...)."""

    name: str
    type: str
    nullable: bool = True


class Histogram(Model):
    """Equal-width bins: ``counts[i]`` values fall in ``[edges[i], edges[i + 1])`` (the last
    bin includes its upper edge). Edges of date and timestamp columns are seconds since
    1970-01-01 UTC (a timestamp without a zone read as UTC)."""

    edges: list[float]
    counts: list[int]


class TopValue(Model):
    value: Scalar
    count: int


class ColumnStats(Model):
    """What one column of a version holds. ``distinct`` and ``quantiles`` are approximate
    (HyperLogLog and t-digest); everything else is exact."""

    name: str
    type: str
    count: int = Field(description="non-null values")
    nulls: int
    distinct: int | None = None
    min: Scalar = None
    max: Scalar = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] = Field(
        default_factory=dict, description="p01, p05, p25, p50, p75, p95, p99 of numeric columns"
    )
    top: list[TopValue] = Field(default_factory=list, description="most frequent values")
    histogram: Histogram | None = None
    nans: int = Field(
        0,
        description="NaN values of a float column: in count, not in min, max, mean, std, "
        "quantiles or histogram",
    )
    infinities: int = Field(0, description="inf and -inf values of a float column, as nans")


# -- validation rules -------------------------------------------------------------------


class _Rule(Model):
    name: str | None = Field(None, max_length=200, description="shown in reports")


class ColumnRule(_Rule):
    """The column exists (and, if ``type`` is given, has that Arrow type)."""

    check: Literal["column"] = "column"
    column: ColumnName
    type: str | None = None


class NotNullRule(_Rule):
    check: Literal["not_null"] = "not_null"
    column: ColumnName


class RangeRule(_Rule):
    """Every non-null value lies within ``[min, max]`` (either bound may be left open)."""

    check: Literal["range"] = "range"
    column: ColumnName
    min: float | Int64 | str | None = None
    max: float | Int64 | str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("a range rule needs min, max or both")
        return self


class AllowedValuesRule(_Rule):
    """Every non-null value is one of ``values``."""

    check: Literal["allowed_values"] = "allowed_values"
    column: ColumnName
    values: list[bool | Int64 | float | str] = Field(min_length=1, max_length=10_000)


class UniqueRule(_Rule):
    """No two rows share the same values of ``columns``."""

    check: Literal["unique"] = "unique"
    columns: list[ColumnName] = Field(min_length=1, max_length=32)


class RowCountRule(_Rule):
    check: Literal["row_count"] = "row_count"
    min: Count | None = None
    max: Count | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> RowCountRule:
        if self.min is None and self.max is None:
            raise ValueError("a row_count rule needs min, max or both")
        return self


class FreshnessRule(_Rule):
    """The newest value of a timestamp column is at most ``max_age`` older than the version."""

    check: Literal["freshness"] = "freshness"
    column: ColumnName
    max_age: Duration


class SqlRule(_Rule):
    """A SQL boolean expression over the columns that every row must satisfy
    (a row where it is false or NULL fails), e.g. ``amount >= 0 OR refunded``."""

    check: Literal["sql"] = "sql"
    expression: Text = Field(min_length=1, max_length=10_000)


Rule = Annotated[
    ColumnRule
    | NotNullRule
    | RangeRule
    | AllowedValuesRule
    | UniqueRule
    | RowCountRule
    | FreshnessRule
    | SqlRule,
    Field(discriminator="check"),
]


class RulesSet(Model):
    rules: list[Rule] = Field(max_length=1000)


class RuleResult(Model):
    rule: Rule
    passed: bool
    message: str
    failing_rows: int | None = None
    examples: list[dict[str, Any]] = Field(default_factory=list, description="up to 5")


class ValidationReport(Model):
    passed: bool
    checked_at: dt.datetime
    results: list[RuleResult]

    def summary(self) -> str:
        failed = [r for r in self.results if not r.passed]
        if not failed:
            return f"all {len(self.results)} rules passed"
        return "; ".join(r.message for r in failed)


# -- datasets and versions --------------------------------------------------------------


class DatasetCreate(Model):
    project: Name
    name: Name
    description: Text = Field("", max_length=10_000)


class Dataset(Model):
    id: str
    project: str
    name: str
    description: str
    created_by: str
    created_at: dt.datetime
    rules: list[Rule] = Field(default_factory=list)
    versions: int = 0
    latest: int | None = Field(None, description="the number `latest` resolves to")


class VersionFile(Model):
    """A Parquet file of a version, stored as a blob."""

    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: Count = 0
    rows: Count = 0


class VersionCommit(Model):
    """Make a version from Parquet files already uploaded as blobs.

    ``mode="append"`` keeps the files of ``parent`` (default: the latest version) and adds
    these; ``replace`` makes a version of exactly these files.
    """

    files: list[VersionFile] = Field(max_length=100_000)
    mode: Literal["replace", "append"] = "replace"
    parent: Count | None = Field(None, ge=1)
    message: Text = Field("", max_length=10_000)
    source: Text = Field("", max_length=4096, description="where the data came from")
    run_id: str | None = Field(None, description="the run that wrote this version")
    force: bool = Field(False, description="let `latest` resolve to it even if it fails rules")


class Version(Model):
    id: str
    project: str
    dataset: str
    number: int
    digest: str = Field(description="sha256 of the manifest: schema and file digests")
    parents: list[int]
    message: str
    source: str
    created_by: str
    created_at: dt.datetime
    run_id: str | None
    rows: int
    bytes: int
    status: VersionStatus
    forced: bool
    columns: list[Column]
    files: list[VersionFile] = Field(default_factory=list)
    stats: list[ColumnStats] = Field(default_factory=list)
    validation: ValidationReport | None = None
    created: bool = Field(True, description="false when identical content was already a version")

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.dataset}@{self.number}"

    def _repr_html_(self) -> str:
        head = (
            f"<b>{escape(self.ref)}</b> &middot; {self.rows:,} rows &middot; {self.bytes:,} bytes "
            f"&middot; {escape(self.status)}"
        )
        cells = "".join(
            f"<tr><td>{escape(c.name)}</td><td>{escape(c.type)}</td>"
            f"<td>{s.nulls if s else ''}</td><td>{s.distinct if s else ''}</td>"
            f"<td>{escape(str(s.min)) if s else ''}</td><td>{escape(str(s.max)) if s else ''}</td>"
            f"<td>{'' if not s or s.mean is None else f'{s.mean:.4g}'}</td></tr>"
            for c in self.columns
            for s in [next((x for x in self.stats if x.name == c.name), None)]
        )
        return (
            f"<div>{head}<table><tr><th>column</th><th>type</th><th>nulls</th>"
            f"<th>distinct</th><th>min</th><th>max</th><th>mean</th></tr>{cells}</table></div>"
        )


class VersionPage(Page[Version]):
    pass


class VersionQuery(Model):
    limit: Limit = 50
    cursor: str | None = None


class VersionUse(Model):
    """Record that a run read (``input``) or wrote (``output``) a version."""

    run_id: str
    direction: Literal["input", "output"] = "input"


# -- diff -------------------------------------------------------------------------------


class DiffQuery(Model):
    base: str = Field(description="version: a number, 'latest' or 'sha256:<prefix>'")
    target: str
    key: list[ColumnName] = Field(default_factory=list, description="columns that identify a row")
    examples: int = Field(5, ge=0, le=100)


class TypeChange(Model):
    name: str
    base: str
    target: str


class SchemaDiff(Model):
    added: list[Column]
    removed: list[Column]
    changed: list[TypeChange]


class ColumnShift(Model):
    """How one column's statistics moved from base to target."""

    name: str
    null_rate: tuple[float | None, float | None]
    distinct: tuple[int | None, int | None]
    mean: tuple[float | None, float | None]
    std: tuple[float | None, float | None]
    min: tuple[Scalar, Scalar]
    max: tuple[Scalar, Scalar]
    psi: float | None = Field(None, description="population stability index over base's bins")


class RowDiff(Model):
    """Rows matched on the key: added in target, removed from base, changed values."""

    key: list[str]
    added: int
    removed: int
    changed: int
    unchanged: int
    examples: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


class DatasetDiff(Model):
    base: int
    target: int
    rows: tuple[int, int]
    shared_files: int
    schema_changes: SchemaDiff
    columns: list[ColumnShift]
    row_diff: RowDiff | None = None


# -- lineage ----------------------------------------------------------------------------


class LineageQuery(Model):
    direction: Literal["upstream", "downstream", "both"] = "both"
    depth: int = Field(3, ge=1, le=20)


class LineageNode(Model):
    kind: str = Field(description="dataset_version, run, model_version...")
    id: str
    label: str
    missing: bool = Field(False, description="the entity was deleted since")


class LineageEdge(Model):
    """``source`` flowed into ``target``: a version a run read, a run that wrote one, or
    the git commit whose code a run ran."""

    source: str
    target: str
    relation: Literal["read", "wrote", "code"]


class Lineage(Model):
    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
