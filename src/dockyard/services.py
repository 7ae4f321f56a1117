"""The composition root of the embedded platform: every service, built from settings.

Each service is built on first use, and its module is imported then too: ``dy.connect()``
and a CLI command load only the capabilities they call (the data service alone pulls in
pyarrow and DuckDB). The function-local imports below are there for start-up time only;
:mod:`dockyard.catalog` lists every service class eagerly for the server.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from dockyard.blobs.registry import open_backend
from dockyard.blobs.store import BlobStore
from dockyard.core.config import Settings
from dockyard.store.blobleases import BlobLeases
from dockyard.store.db import Database
from dockyard.store.migrate import ensure_schema

if TYPE_CHECKING:
    from dockyard.access.audit import Auditor, AuditService
    from dockyard.access.check import Access
    from dockyard.access.secrets import SecretService
    from dockyard.access.service import IdentityService
    from dockyard.blobs.service import BlobService
    from dockyard.data.service import DatasetService
    from dockyard.features.service import FeatureService
    from dockyard.gc.service import GarbageCollector
    from dockyard.monitoring.service import MonitorService
    from dockyard.pipelines.schedules import ScheduleService
    from dockyard.pipelines.service import PipelineService
    from dockyard.projects.service import ProjectService
    from dockyard.registry.service import ModelRegistry
    from dockyard.serving.service import ServingService
    from dockyard.tracking.artifacts import ArtifactService
    from dockyard.tracking.experiments import ExperimentService
    from dockyard.tracking.lineage import RunIOService
    from dockyard.tracking.metrics import MetricService
    from dockyard.tracking.runs import RunService

SERVICE_NAMES = (
    "projects",
    "experiments",
    "runs",
    "metrics",
    "artifacts",
    "run_io",
    "datasets",
    "features",
    "models",
    "serving",
    "monitoring",
    "pipelines",
    "schedules",
    "blobs",
    "gc",
    "identity",
    "audit",
    "secrets",
)
"""The names the services are mounted under (an :attr:`Operation.service`)."""


class Services:
    """The services of one dockyard home (or team deployment), sharing one DB and blob store.

    Each service is built (and its module imported) the first time it is used.
    """

    def __init__(self, settings: Settings, db: Database, blob_store: BlobStore) -> None:
        self.settings = settings
        self.db = db
        self.blob_store = blob_store
        self.served = False
        """Whether a server serves these services (``create_app`` says so): a server never
        creates a secrets key of its own, an embedded session over a SQLite home does."""

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
        return cls(settings, db, store)

    # Each property imports its service's module on first use (start-up time, see above).

    @cached_property
    def projects(self) -> ProjectService:
        from dockyard.projects.service import ProjectService

        return ProjectService(self.db)

    @cached_property
    def experiments(self) -> ExperimentService:
        from dockyard.tracking.experiments import ExperimentService

        return ExperimentService(self.db)

    @cached_property
    def runs(self) -> RunService:
        from dockyard.tracking.runs import RunService

        return RunService(self.db)

    @cached_property
    def metrics(self) -> MetricService:
        from dockyard.tracking.metrics import MetricService

        return MetricService(self.db)

    @cached_property
    def artifacts(self) -> ArtifactService:
        from dockyard.tracking.artifacts import ArtifactService

        return ArtifactService(self.db, self.blob_store)

    @cached_property
    def run_io(self) -> RunIOService:
        from dockyard.tracking.lineage import RunIOService

        return RunIOService(self.db)

    @cached_property
    def datasets(self) -> DatasetService:
        from dockyard.data.service import DatasetService

        return DatasetService(self.db, self.blob_store, self.settings.home / "cache")

    @cached_property
    def features(self) -> FeatureService:
        from dockyard.features.service import FeatureService

        return FeatureService(self.db, self.datasets, self.settings.online_store)

    @cached_property
    def models(self) -> ModelRegistry:
        from dockyard.registry.service import ModelRegistry

        return ModelRegistry(self.db, self.blob_store)

    @cached_property
    def serving(self) -> ServingService:
        from dockyard.serving.service import ServingService

        return ServingService(self.db, self.blob_store)

    @cached_property
    def monitoring(self) -> MonitorService:
        from dockyard.monitoring.service import MonitorService

        return MonitorService(self.db, self.blob_store, self.serving, self.datasets, self.models)

    @cached_property
    def pipelines(self) -> PipelineService:
        from dockyard.pipelines.service import PipelineService

        return PipelineService(self.db)

    @cached_property
    def schedules(self) -> ScheduleService:
        from dockyard.pipelines.schedules import ScheduleService

        return ScheduleService(self.db)

    @cached_property
    def blobs(self) -> BlobService:
        from dockyard.blobs.service import BlobService

        return BlobService(self.blob_store)

    @cached_property
    def gc(self) -> GarbageCollector:
        from dockyard.gc.service import GarbageCollector

        return GarbageCollector(self.db, self.blob_store)

    @cached_property
    def identity(self) -> IdentityService:
        from dockyard.access.service import IdentityService

        return IdentityService(self.db, on_change=self.access.forget_principals)

    @cached_property
    def audit(self) -> AuditService:
        from dockyard.access.audit import AuditService

        return AuditService(self.db)

    @cached_property
    def secrets(self) -> SecretService:
        from dockyard.access.cipher import KEY_FILE, KeySource
        from dockyard.access.secrets import SecretService

        settings = self.settings
        keys = KeySource(
            key=settings.secrets_key,
            key_file=settings.secrets_key_file,
            home_file=settings.home / KEY_FILE if self.db.dialect == "sqlite" else None,
        )
        return SecretService(self.db, keys, may_create_key=lambda: not self.served)

    @cached_property
    def auditor(self) -> Auditor:
        """Writes the audit log of a server's calls."""
        from dockyard.access.audit import Auditor

        return Auditor(self.db, self.access)

    @cached_property
    def access(self) -> Access:
        """The check of every operation's declared role (both transports call it)."""
        from dockyard.access.check import Access

        return Access(self.db)

    def service(self, name: str) -> object:
        """The service mounted under ``name`` (an :attr:`Operation.service`)."""
        if name not in SERVICE_NAMES:
            raise AttributeError(f"no service is mounted under {name!r}")
        return getattr(self, name)

    def close(self) -> None:
        if "features" in self.__dict__:
            self.features.close()
        self.db.dispose()
