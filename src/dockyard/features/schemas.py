"""Request and response models of the feature service (``/projects/{project}/features``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, WithJsonSchema

from dockyard.core.schemas import Count, Model, Name

Scalar = bool | int | float | str | None
"""One value of a key, a feature or an event column, as JSON carries it."""

Columns = dict[str, list[Scalar]]
"""A table as JSON: column name -> values, every column as long as the others."""

OutColumns = Annotated[dict[str, list[Any]], WithJsonSchema(TypeAdapter(Columns).json_schema())]
""":data:`Columns` the server answers: the same JSON schema, but its values (stored JSON
scalars) are neither checked one by one on the way out nor when a client reads them (for
100 entities x 50 features, a union check per value costs milliseconds)."""


class FeaturesApply(Model):
    """Definitions to store: each entity and view as its canonical JSON (``.canonical()``).

    A definition equal to the stored one changes nothing; a changed one becomes the next
    version. An on-demand feature is stored as its description (name, inputs, function
    name and source digest): its code stays with its owner and runs only in their process.
    """

    entities: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    views: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


class Applied(Model):
    """What ``apply`` did to one entity or view."""

    kind: Literal["entity", "view"]
    name: str
    version: int
    status: Literal["created", "changed", "unchanged"]
    changes: list[str] = Field(default_factory=list, description="what changed, in sentences")


class ApplyReport(Model):
    items: list[Applied]


class DefinitionVersion(Model):
    """One stored definition of an entity or a view."""

    kind: Literal["entity", "view"]
    name: str
    version: int
    definition: dict[str, Any]
    fingerprint: str
    changes: list[str]
    created_by: str
    created_at: dt.datetime


class Materialization(Model):
    """The last materialization of a view into the online store."""

    view_version: int
    source_version: int | None
    events: int
    finished_by: str
    finished_at: dt.datetime


class OnlineState(Model):
    """What the online store holds for a view (None when nothing was written yet)."""

    events: int = Field(description="events applied online (materialized and pushed)")
    newest_event_at: dt.datetime | None = Field(description="the newest event time seen")
    accepts_from: dt.datetime | None = Field(
        description="the oldest event time a push still accepts (the newest minus lateness)"
    )
    parts: int = Field(description="source files applied")


class FeatureViewInfo(Model):
    """A feature view: its latest definition, where its values come from and how fresh the
    online values are."""

    name: str
    project: str
    version: int
    versions: int
    definition: dict[str, Any]
    fingerprint: str
    entities: list[str]
    keys: list[str]
    features: list[str]
    source: str
    created_at: dt.datetime
    updated_at: dt.datetime
    materialization: Materialization | None = None
    online: OnlineState | None = None


class EntityInfo(Model):
    name: str
    project: str
    version: int
    keys: list[str]
    updated_at: dt.datetime


class MaterializeRequest(Model):
    view: Name
    reset: bool = Field(
        False, description="forget the view's online values first and rebuild them all"
    )


class MaterializeReport(Model):
    view: str
    view_version: int
    source: str
    source_version: int | None
    events: int = Field(description="events applied by this call (0: already up to date)")
    parts: int = Field(description="source files applied by this call")


class OnlineQuery(Model):
    """Look up features of entities as of ``at`` (default: now)."""

    keys: Columns = Field(description="key column -> one value per entity")
    features: list[str] = Field(min_length=1, max_length=10_000)
    at: dt.datetime | None = None
    full_names: bool = Field(False, description="name columns view__feature")


class OnlineValues(Model):
    """The key columns, then one column per requested feature, one value per entity."""

    columns: OutColumns
    at: dt.datetime


class PushRequest(Model):
    """New events of a view's source: online values change at once, and the events are
    appended to the source dataset (a new version) so training sees the same history.
    Timestamps as ISO 8601 text or integer microseconds since the epoch (UTC)."""

    view: Name
    events: Columns


class PushReport(Model):
    view: str
    events: int
    source: str
    source_version: int


class TrainingSetRecord(Model):
    """Record that a dataset version was built as a training set, and from what."""

    dataset: Name
    version: Count = Field(ge=1)
    labels: str = Field(max_length=512, description="the labels' dataset reference")
    features: list[str] = Field(min_length=1, max_length=10_000)
    views: dict[str, int] = Field(description="view name -> definition version used")
    sources: dict[str, int] = Field(description="source dataset -> version read")


class TrainingSet(Model):
    dataset: str
    version: int
    labels: str
    features: list[str]
    views: dict[str, int]
    sources: dict[str, int]
    created_by: str
    created_at: dt.datetime


class TrainingSetQuery(Model):
    view: Name | None = Field(None, description="only the training sets that used this view")
