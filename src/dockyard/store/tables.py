"""The one SQLAlchemy metadata every migration and service works from."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as naive UTC and always read back timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        stored: dt.datetime = value.astimezone(dt.UTC).replace(tzinfo=None)
        return stored

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        aware: dt.datetime = value.replace(tzinfo=dt.UTC)
        return aware


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class BlobRefRow(Base):
    """One record that something (a run, a dataset version, ...) still needs a blob."""

    __tablename__ = "blob_refs"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_blob_refs_owner", "owner_type", "owner_id"),)


class BlobLeaseRow(Base):
    """A blob an upload found already stored (or just stored) and is about to reference.

    ``gc`` keeps a blob leased within its grace period even while nothing references it
    yet, and checks for leases under a lock that an upload's lease write also takes
    (store/blobleases.py), so reuse and collection never cross.
    """

    __tablename__ = "blob_leases"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    leased_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


# --- tracking -------------------------------------------------------------------------------


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    user: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text, default="")
    start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_runs_experiment_start", "experiment_id", "start_time"),
        Index("ix_runs_project_start", "project_id", "start_time"),
        Index("ix_runs_start_time", "start_time"),
        Index("ix_runs_parent", "parent_id"),
        Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
    )


class ParamRow(Base):
    """A run parameter: its text as logged, and its number when it reads as one."""

    __tablename__ = "run_params"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    value_num: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (Index("ix_run_params_key_num", "key", "value_num"),)


class TagRow(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_run_tags_key", "key"),)


class MetricSeriesRow(Base):
    """One metric of one run, with the summary that search filters and sorts on."""

    __tablename__ = "metric_series"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    count: Mapped[int] = mapped_column(BigInteger)
    last_step: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    last_value: Mapped[float] = mapped_column(Float)
    min_value: Mapped[float] = mapped_column(Float)
    max_value: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("run_id", "key"),
        Index("ix_metric_series_key_last", "key", "last_value"),
    )


metric_points = Table(
    "metric_points",
    Base.metadata,
    Column(
        "series_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("metric_series.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("step", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_metric_points_series_step", "series_id", "step"),
)


# Min/max rollups of each series, maintained on write so that downsampled history never
# scans the raw points of a long series: per level L (buckets of 2^L steps, see
# dockyard.tracking.rollups), one row per bucket = step >> L with the point count and the
# lowest and highest points (value, step, ts). WITHOUT ROWID on SQLite: the primary key is
# the only index, so a row is stored once, not in a table and again in an index.
metric_rollups = Table(
    "metric_rollups",
    Base.metadata,
    Column(
        "series_id",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("metric_series.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("bucket", BigInteger, primary_key=True, autoincrement=False),
    Column("count", BigInteger, nullable=False),
    Column("min_value", Float, nullable=False),
    Column("min_step", BigInteger, nullable=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("max_value", Float, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)


class MetricBatchRow(Base):
    """A batch of metric points already stored: a resent batch is skipped, not duplicated."""

    __tablename__ = "metric_batches"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)


class ArtifactRow(Base):
    """A file a run produced, stored as a blob; folders are paths with '/' in them."""

    __tablename__ = "run_artifacts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RunIORow(Base):
    """Lineage: a run read (``input``) or wrote (``output``) something (a dataset version,
    a model version...), named by its kind and id."""

    __tablename__ = "run_io"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_run_io_kind_ref", "kind", "ref"),)


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    rules: Mapped[str] = mapped_column(Text, default="[]")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "name"),)


class DatasetVersionRow(Base):
    """An immutable version: its manifest (files), schema, statistics and validation."""

    __tablename__ = "dataset_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    parents: Mapped[str] = mapped_column(Text, default="[]")
    message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rows: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    forced: Mapped[bool] = mapped_column(default=False)
    columns: Mapped[str] = mapped_column(Text)
    stats: Mapped[str] = mapped_column(Text, default="[]")
    validation: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        UniqueConstraint("dataset_id", "number"),
        Index("ix_dataset_versions_dataset_id_digest", "dataset_id", "digest"),
    )


class DatasetFileRow(Base):
    """The Parquet files of a version, in order; the same blob can serve many versions."""

    __tablename__ = "dataset_files"

    version_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)


class RegisteredModelRow(Base):
    """A named model in the registry; names are unique across projects (``models:/name``)."""

    __tablename__ = "registered_models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    traffic: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON: how servers split requests between the model's aliases (weights, shadows,
    the sticky key); None serves the alias a server was started on."""
    frozen_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Set while the model is frozen (the Andon cord): no alias moves, servers stay put."""
    frozen_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    frozen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ModelVersionRow(Base):
    """An immutable version: the manifest of a logged model copied from its run."""

    __tablename__ = "model_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source: Mapped[str] = mapped_column(Text)
    flavor: Mapped[str] = mapped_column(String(64))
    manifest_digest: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("model_id", "number"),)


class ModelTagRow(Base):
    """A tag of a registered model (``version_id`` empty) or of one of its versions."""

    __tablename__ = "model_tags"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ModelAliasRow(Base):
    """An alias (``champion``) of a model: the version it points at and its gate policy."""

    __tablename__ = "model_aliases"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    policy: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AliasMoveRow(Base):
    """One move of an alias: who, when, from which version to which, why, and the gate."""

    __tablename__ = "model_alias_moves"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    gate: Mapped[str | None] = mapped_column(Text, nullable=True)
    rolled_back: Mapped[bool] = mapped_column(default=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON for model-wide events (alias ``""``): the traffic set, or the freeze."""

    __table_args__ = (Index("ix_model_alias_moves_model_id_alias", "model_id", "alias"),)


class PipelineRunRow(Base):
    """A run of a pipeline; ``id`` is the id of its tracked run (steps are child runs)."""

    __tablename__ = "pipeline_runs"

    id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    pipeline: Mapped[str] = mapped_column(String(128))
    import_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    params: Mapped[str] = mapped_column(Text)
    graph: Mapped[str] = mapped_column(Text)
    executor: Mapped[str] = mapped_column(String(256))
    resumed_from: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_pipeline_runs_project_id_started_at", "project_id", "started_at"),)


class PipelineStepRow(Base):
    """One node of a pipeline run; a fan-out is one row with counts and per-item status."""

    __tablename__ = "pipeline_steps"

    pipeline_run_id: Mapped[str] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="CASCADE"), primary_key=True
    )
    node: Mapped[str] = mapped_column(String(160), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    step: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    cache_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cached_from: Mapped[str | None] = mapped_column(String(32), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    items_total: Mapped[int] = mapped_column(Integer, default=0)
    items_status: Mapped[str] = mapped_column(Text, default="")


class StepCacheRow(Base):
    """A cached step output, by cache key (code, inputs, params, environment)."""

    __tablename__ = "step_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # the project whose pipeline stored it: only that project's pipelines reuse it
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    step: Mapped[str] = mapped_column(String(128))
    output: Mapped[str] = mapped_column(Text)
    pipeline_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class PipelineScheduleRow(Base):
    """A schedule that fires pipeline runs: a cron expression (UTC) or a dataset trigger.

    Schedulers claim a firing by compare-and-set on ``next_fire_at`` (cron) or
    ``last_seen_version`` (trigger), so only one of several schedulers fires it.
    """

    __tablename__ = "pipeline_schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    pipeline: Mapped[str] = mapped_column(String(512))
    params: Mapped[str] = mapped_column(Text)
    executor: Mapped[str] = mapped_column(String(256))
    cron: Mapped[str | None] = mapped_column(String(128), nullable=True)
    dataset: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dataset_param: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    next_fire_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("project_id", "name"),
        Index("ix_pipeline_schedules_next_fire_at", "next_fire_at"),
    )


# --- features -------------------------------------------------------------------------------


class FeatureObjectRow(Base):
    """An entity or a feature view of a project; its definitions are numbered versions."""

    __tablename__ = "feature_objects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # entity | view
    name: Mapped[str] = mapped_column(String(64))
    latest: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "kind", "name"),)


class FeatureVersionRow(Base):
    """One definition of an entity or view: its canonical JSON, fingerprint and what changed."""

    __tablename__ = "feature_versions"

    object_id: Mapped[str] = mapped_column(
        ForeignKey("feature_objects.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    definition: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    changes: Mapped[str] = mapped_column(Text)  # JSON list of sentences
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FeatureMaterializationRow(Base):
    """The last materialization of a view into the online store: which definition version
    and source dataset version, how many events, when."""

    __tablename__ = "feature_materializations"

    object_id: Mapped[str] = mapped_column(
        ForeignKey("feature_objects.id", ondelete="CASCADE"), primary_key=True
    )
    view_version: Mapped[int] = mapped_column(Integer)
    source_version: Mapped[int | None] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(BigInteger)
    finished_by: Mapped[str] = mapped_column(String(128))
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class FeatureTrainingSetRow(Base):
    """A dataset version built as a training set: the labels, the feature references and the
    definition and source versions it used (JSON), so it can be rebuilt exactly."""

    __tablename__ = "feature_training_sets"

    version_id: Mapped[str] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    recipe: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- serving --------------------------------------------------------------------------------


class ServingInstanceRow(Base):
    """A model server process (one per worker): what it serves and how it is doing, written
    at start and at each heartbeat; ``stopped_at`` is set at a graceful stop."""

    __tablename__ = "serving_instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    address: Mapped[str] = mapped_column(String(256))
    started_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(Text)  # JSON: models, versions, errors, counters


class PredictionSegmentRow(Base):
    """One Parquet file of the prediction log: the predictions one server made for one
    model within one hour, stored as a blob."""

    __tablename__ = "prediction_segments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    instance_id: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    first_id: Mapped[str] = mapped_column(String(32))
    last_id: Mapped[str] = mapped_column(String(32))
    versions: Mapped[str] = mapped_column(Text)  # JSON list of the model versions it holds
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_prediction_segments_model_id_hour", "model_id", "hour"),
        Index("ix_prediction_segments_hour", "hour"),
    )


# --- monitoring -----------------------------------------------------------------------------


class MonitorRow(Base):
    """A monitor of one served model: how its prediction log is cut into windows, what is
    checked in each (drift, quality, performance) and what happens on an alert.

    Monitor runners claim a due monitor by compare-and-set on ``next_run_at`` (as schedules
    do); each window is stored once (unique per monitor, version and start)."""

    __tablename__ = "monitors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    window_seconds: Mapped[int] = mapped_column(Integer)
    config: Mapped[str] = mapped_column(Text)  # JSON: MonitorConfig
    cron: Mapped[str | None] = mapped_column(String(128), nullable=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    computed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the newest prediction log segment (by when it was recorded) the monitor has taken in:
    # one recorded later for an hour it had passed makes it compute those windows again
    segments_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("model_id", "name"),
        Index("ix_monitors_next_run_at", "next_run_at"),
    )


class MonitorReferenceRow(Base):
    """The reference a monitor compares one model version's traffic with: the bins fixed
    from it and its summary (JSON), and where it came from."""

    __tablename__ = "monitor_references"

    monitor_id: Mapped[str] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(256))  # project/dataset@number
    rows: Mapped[int] = mapped_column(BigInteger)
    binning: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MonitorWindowRow(Base):
    """What one window of one model version's traffic showed: its summary (mergeable),
    drift, quality and performance (JSON)."""

    __tablename__ = "monitor_windows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    rows: Mapped[int] = mapped_column(BigInteger)
    labelled: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[bytes] = mapped_column(LargeBinary)  # monitoring.codec: merged fast
    drift: Mapped[str] = mapped_column(Text)
    quality: Mapped[str] = mapped_column(Text)
    performance: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("monitor_id", "version", "start"),
        Index("ix_monitor_windows_monitor_id_start", "monitor_id", "start"),
    )


class PredictionLabelRow(Base):
    """The true outcome of one logged prediction, known later (a chargeback)."""

    __tablename__ = "prediction_labels"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    prediction_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # the logged output
    predicted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    labelled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    labelled_by: Mapped[str] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_prediction_labels_model_id_predicted_at", "model_id", "predicted_at"),
    )


class PredictionLabelBlockRow(Base):
    """The labels of one model version's predictions made within one hour, packed as three
    little-endian arrays (prediction time in microseconds since the epoch as int64, label
    and score as float64, NaN for no score), sorted by time: what views over many windows
    read instead of one row per label. Derived from ``prediction_labels`` (rebuilt in the
    transaction that writes the hour's labels)."""

    __tablename__ = "prediction_label_blocks"

    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    at: Mapped[bytes] = mapped_column(LargeBinary)
    label: Mapped[bytes] = mapped_column(LargeBinary)
    score: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MonitorAlertRow(Base):
    """An alert a monitor raised for a window, and what its actions did."""

    __tablename__ = "monitor_alerts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[str] = mapped_column(Text)  # JSON
    actions: Mapped[str] = mapped_column(Text)  # JSON list of ActionOutcome
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("monitor_id", "rule", "version", "window_start"),
        Index("ix_monitor_alerts_monitor_id_raised_at", "monitor_id", "raised_at"),
    )


class UserRow(Base):
    """An account: a person (with a password, or signing in through single sign-on) or a
    service account (tokens only). The first user of a server is its admin."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(256), default="")
    kind: Mapped[str] = mapped_column(String(16))  # user | service
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # the OpenID Connect identity the user signs in with (None: no single sign-on yet)
    sso_issuer: Mapped[str | None] = mapped_column(String(256), nullable=True)
    sso_subject: Mapped[str | None] = mapped_column(String(256), nullable=True)

    __table_args__ = (UniqueConstraint("sso_issuer", "sso_subject"),)


class TeamRow(Base):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # members of this single sign-on group are the team's members (None: managed by hand)
    sso_group: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class TeamMemberRow(Base):
    __tablename__ = "team_members"

    team_id: Mapped[str] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ProjectGrantRow(Base):
    """A role in a project, granted to a user or a team."""

    __tablename__ = "project_grants"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    subject_kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # user | team
    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ApiTokenRow(Base):
    """An API token of a user: only its SHA-256 digest is kept; it may be limited to one
    project and a role, expire, and be revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True
    )  # None: every project the user may use
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)  # a cap; None: none
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuditEventRow(Base):
    """One entry of the audit log: who did what to which objects, from where, when, and how
    it ended. Written once, never changed (only pruned by age)."""

    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # sorts by time
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    operation: Mapped[str] = mapped_column(String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    project: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target: Mapped[str] = mapped_column(Text)  # JSON: the ids and names the call named
    address: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(SmallInteger)
    outcome: Mapped[str] = mapped_column(String(16))  # ok | denied | failed
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_events_project_id_at", "project_id", "at"),)


class ProjectSecretRow(Base):
    """A project's secret: its value sealed with AES-256-GCM (bound to the project id and
    the name), and the fingerprint of the key that sealed it; never stored in the clear."""

    __tablename__ = "project_secrets"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary(12))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
