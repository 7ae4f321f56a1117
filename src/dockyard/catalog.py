"""Every service class of the platform, imported eagerly: what the server mounts and the
OpenAPI document lists. (:class:`dockyard.services.Services` builds them lazily instead.)"""

from __future__ import annotations

from dockyard.access.audit import AuditService
from dockyard.access.secrets import SecretService
from dockyard.access.service import IdentityService
from dockyard.blobs.service import BlobService
from dockyard.core.operations import Operation, operations_of
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

SERVICE_CLASSES: tuple[type, ...] = (
    ProjectService,
    ExperimentService,
    RunService,
    MetricService,
    ArtifactService,
    RunIOService,
    DatasetService,
    FeatureService,
    ModelRegistry,
    ServingService,
    MonitorService,
    PipelineService,
    ScheduleService,
    BlobService,
    GarbageCollector,
    IdentityService,
    AuditService,
    SecretService,
)


def all_operations() -> list[Operation]:
    """Every operation of every service, in a stable order."""
    return [op for cls in SERVICE_CLASSES for op in operations_of(cls)]
