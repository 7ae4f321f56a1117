"""The composition root of the embedded platform: every service, built from settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.blobs.registry import open_backend
from dockyard.blobs.service import BlobService
from dockyard.blobs.store import BlobStore
from dockyard.core.config import Settings
from dockyard.core.operations import Operation, operations_of
from dockyard.data.service import DatasetService
from dockyard.gc.service import GarbageCollector
from dockyard.pipelines.schedules import ScheduleService
from dockyard.pipelines.service import PipelineService
from dockyard.projects.service import ProjectService
from dockyard.registry.service import ModelRegistry
from dockyard.store.blobleases import BlobLeases
from dockyard.store.db import Database
from dockyard.store.migrate import ensure_schema
from dockyard.tracking.artifacts import ArtifactService
from dockyard.tracking.experiments import ExperimentService
from dockyard.tracking.lineage import RunIOService
from dockyard.tracking.metrics import MetricService
from dockyard.tracking.runs import RunService

SERVICE_CLASSES: tuple[type, ...] = (
    ProjectService,
    ExperimentService,
    RunService,
    MetricService,
    ArtifactService,
    RunIOService,
    DatasetService,
    ModelRegistry,
    PipelineService,
    ScheduleService,
    BlobService,
    GarbageCollector,
)


def all_operations() -> list[Operation]:
    """Every operation of every service, in a stable order."""
    return [op for cls in SERVICE_CLASSES for op in operations_of(cls)]


@dataclass
class Services:
    """The services of one dockyard home (or team deployment), sharing one DB and blob store."""

    settings: Settings
    db: Database
    blob_store: BlobStore
    projects: ProjectService
    experiments: ExperimentService
    runs: RunService
    metrics: MetricService
    artifacts: ArtifactService
    run_io: RunIOService
    datasets: DatasetService
    models: ModelRegistry
    pipelines: PipelineService
    schedules: ScheduleService
    blobs: BlobService
    gc: GarbageCollector

    @classmethod
    def open(cls, settings: Settings, *, blob_options: dict[str, Any] | None = None) -> Services:
        """Connect to the database (migrating it if needed) and the blob store."""
        db = Database(settings.db)
        try:
            ensure_schema(db)
            backend = open_backend(settings.blobs, **(blob_options or {}))
            store = BlobStore(backend, lease=BlobLeases(db))
        except BaseException:
            db.dispose()
            raise
        return cls(
            settings=settings,
            db=db,
            blob_store=store,
            projects=ProjectService(db),
            experiments=ExperimentService(db),
            runs=RunService(db),
            metrics=MetricService(db),
            artifacts=ArtifactService(db, store),
            run_io=RunIOService(db),
            datasets=DatasetService(db, store, settings.home / "cache"),
            models=ModelRegistry(db, store),
            pipelines=PipelineService(db),
            schedules=ScheduleService(db),
            blobs=BlobService(store),
            gc=GarbageCollector(db, store),
        )

    def service(self, name: str) -> object:
        """The service mounted under ``name`` (an :attr:`Operation.service`)."""
        return getattr(self, name)

    def close(self) -> None:
        self.db.dispose()
