"""Request and response models of the serving service: server instances, the prediction
log's segments, and predictions read back from it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field

from dockyard.core.schemas import Count, Model, Name, Text, UtcTime
from dockyard.registry.schemas import ModelLineage

_ID = r"^[0-9a-f]{32}$"
_DIGEST = r"^[0-9a-f]{64}$"


class ServedVersion(Model):
    """One version a server holds for one alias of a model."""

    alias: Text = Field(max_length=256)
    version: Count | None = Field(description="the version answering; None while none loaded")
    wanted: Count | None = Field(
        None,
        description="the version the alias points at in the registry (being loaded, or "
        "failed to load, when it differs from version)",
    )
    state: Text = Field(max_length=64, description="loading | serving | failed")
    error: Text = Field(
        "", max_length=10_000, description="why the last load failed (the old version still serves)"
    )


class ServedModelState(Model):
    name: Text = Field(max_length=256)
    uri: Text = Field(max_length=1024)
    versions: list[ServedVersion] = Field(default_factory=list, max_length=1000)
    traffic: dict[Text, Count] = Field(
        default_factory=dict, max_length=1000, description="alias -> weight"
    )
    shadow: list[Text] = Field(default_factory=list, max_length=1000)
    frozen: bool = False
    requests: Count = 0
    errors: Count = 0
    rows: Count = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None


class InstanceState(Model):
    """What a server reports at each heartbeat."""

    address: Text = Field(max_length=256)
    hostname: Text = Field("", max_length=256)
    pid: Count = 0
    models: list[ServedModelState] = Field(default_factory=list, max_length=1000)
    predictions_accepted: Count = Field(0, description="predictions given to the log")
    predictions_logged: Count = Field(0, description="predictions written to segments")
    predictions_dropped: Count = Field(0, description="lost because the log queue was full")
    stopped: bool = Field(False, description="set by the last heartbeat of a graceful stop")


class Instance(Model):
    id: str
    address: str
    started_by: str
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    live: bool = Field(description="heartbeat within the last minute and not stopped")
    state: InstanceState


class InstanceQuery(Model):
    live: bool = Field(False, description="only servers with a recent heartbeat")
    limit: int = Field(100, ge=1, le=1000)


class SegmentCreate(Model):
    """A Parquet file of predictions already uploaded as a blob."""

    model: Name
    instance_id: str = Field(pattern=_ID)
    digest: str = Field(pattern=_DIGEST)
    hour: UtcTime = Field(description="the UTC hour its predictions fall in")
    rows: int = Field(ge=1, le=10_000_000)
    first_id: str = Field(pattern=_ID)
    last_id: str = Field(pattern=_ID)
    versions: list[Count] = Field(min_length=1, max_length=1000)


class Segment(Model):
    id: str
    model: str
    hour: dt.datetime
    instance_id: str
    digest: str
    size: int
    rows: int
    first_id: str
    last_id: str
    versions: list[int]
    created_at: dt.datetime


class SegmentQuery(Model):
    model: Name
    since: UtcTime | None = Field(None, description="from this time (default: 1 h ago)")
    until: UtcTime | None = None
    limit: int = Field(1000, ge=1, le=10_000)


class PredictionQuery(Model):
    model: Name
    since: UtcTime | None = Field(None, description="from this time (default: 1 h ago)")
    until: UtcTime | None = None
    version: Count | None = None
    shadow: bool | None = Field(None, description="only shadow (true) or only answered (false)")
    limit: int = Field(100, ge=1, le=10_000)


class Prediction(Model):
    """One logged prediction: one row of one request."""

    prediction_id: str
    at: dt.datetime
    model: str
    version: int
    alias: str
    shadow: bool
    latency_ms: float
    inputs: dict[str, Any]
    features: dict[str, Any] | None = None
    output: Any


class PredictionPage(Model):
    predictions: list[Prediction]
    segments_read: int


class PredictionTrace(Model):
    """From one prediction back to the code and data that made its model."""

    prediction: Prediction
    lineage: ModelLineage
