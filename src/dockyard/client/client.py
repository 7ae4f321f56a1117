"""``dockyard.connect()``: the client, embedded or against a server, through one interface."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from dockyard.client.inprocess import InProcessTransport
from dockyard.client.transport import Transport
from dockyard.core.config import Settings, load_settings
from dockyard.core.errors import InvalidInput
from dockyard.core.operations import build, operations_by_name
from dockyard.core.principal import Principal, local_principal
from dockyard.gc.predictions import PruneReport, PruneRequest
from dockyard.gc.service import (
    RETENTION_SECONDS,
    GarbageCollector,
    GcReport,
    GcRequest,
    PurgeReport,
    PurgeRequest,
)
from dockyard.services import Services

if TYPE_CHECKING:
    from dockyard.client.audit import AuditClient
    from dockyard.client.blobs import BlobsClient
    from dockyard.client.data import DatasetsClient
    from dockyard.client.features import FeaturesClient
    from dockyard.client.identity import IdentityClient
    from dockyard.client.models import ModelsClient
    from dockyard.client.monitoring import MonitoringClient
    from dockyard.client.pipelines import PipelinesClient
    from dockyard.client.projects import ProjectsClient
    from dockyard.client.schedules import SchedulesClient
    from dockyard.client.secrets import SecretsClient
    from dockyard.client.serving import ServingClient
    from dockyard.client.tracking import ExperimentsClient, RunsClient

_GC = operations_by_name(GarbageCollector)


class Client:
    """Everything dockyard does, as methods; build it with :func:`connect`.

    Each sub-API (``client.runs``, ``client.datasets``, ...) is built on first access, and
    its module (with the service it speaks to) is imported then: a script that only tracks
    runs never loads the data service's pyarrow and DuckDB. These function-local imports
    are for start-up time only.
    """

    def __init__(self, transport: Transport, settings: Settings) -> None:
        self.transport = transport
        self.settings = settings

    @cached_property
    def projects(self) -> ProjectsClient:
        from dockyard.client.projects import ProjectsClient

        return ProjectsClient(self.transport)

    @cached_property
    def identity(self) -> IdentityClient:
        """Users, teams, project grants and API tokens."""
        from dockyard.client.identity import IdentityClient

        return IdentityClient(self.transport)

    @cached_property
    def audit(self) -> AuditClient:
        """The audit log of a server's calls."""
        from dockyard.client.audit import AuditClient

        return AuditClient(self.transport)

    @cached_property
    def secrets(self) -> SecretsClient:
        """A project's secrets: set, list (names only), delete."""
        from dockyard.client.secrets import SecretsClient

        return SecretsClient(self.transport)

    @cached_property
    def blobs(self) -> BlobsClient:
        from dockyard.client.blobs import BlobsClient

        return BlobsClient(self.transport)

    @cached_property
    def experiments(self) -> ExperimentsClient:
        from dockyard.client.tracking import ExperimentsClient

        return ExperimentsClient(self.transport)

    @cached_property
    def runs(self) -> RunsClient:
        from dockyard.client.tracking import RunsClient

        return RunsClient(self.transport)

    @cached_property
    def datasets(self) -> DatasetsClient:
        from dockyard.client.data import DatasetsClient

        cache = self.settings.home / "cache" / "blobs"
        return DatasetsClient(self.transport, self.blobs, cache)

    @cached_property
    def features(self) -> FeaturesClient:
        from dockyard.client.features import FeaturesClient

        return FeaturesClient(self.transport)

    @cached_property
    def serving(self) -> ServingClient:
        from dockyard.client.serving import ServingClient

        return ServingClient(self.transport)

    @cached_property
    def monitoring(self) -> MonitoringClient:
        from dockyard.client.monitoring import MonitoringClient

        return MonitoringClient(self.transport)

    @cached_property
    def pipelines(self) -> PipelinesClient:
        from dockyard.client.pipelines import PipelinesClient

        return PipelinesClient(self.transport)

    @cached_property
    def schedules(self) -> SchedulesClient:
        from dockyard.client.schedules import SchedulesClient

        return SchedulesClient(self.transport)

    @cached_property
    def models(self) -> ModelsClient:
        from dockyard.client.models import ModelsClient

        cache = self.settings.home / "cache" / "models"
        return ModelsClient(self.transport, self.blobs, self.runs, cache)

    @property
    def is_remote(self) -> bool:
        return self.settings.is_remote

    def gc(self, *, dry_run: bool = False, grace_seconds: int = 3600) -> GcReport:
        """Delete blobs nothing references (older than the grace period) from storage."""
        body = build(GcRequest, dry_run=dry_run, grace_seconds=grace_seconds)
        result: GcReport = self.transport.call(_GC["collect"], {"body": body})
        return result

    def purge_deleted(
        self, *, older_than_seconds: int = RETENTION_SECONDS, dry_run: bool = False
    ) -> PurgeReport:
        """Erase runs and experiments deleted longer ago than ``older_than_seconds`` (the
        bin's retention period) and drop references nothing owns; ``gc`` then frees the
        blobs."""
        body = build(PurgeRequest, dry_run=dry_run, older_than_seconds=older_than_seconds)
        result: PurgeReport = self.transport.call(_GC["purge"], {"body": body})
        return result

    def prune_predictions(self, *, older_than_seconds: int, dry_run: bool = False) -> PruneReport:
        """Keep ``older_than_seconds`` (at least an hour) of the prediction history: older
        prediction log segments, monitor windows and labels are deleted; ``gc`` then frees
        the segments' blobs."""
        body = build(PruneRequest, older_than_seconds=older_than_seconds, dry_run=dry_run)
        result: PruneReport = self.transport.call(_GC["prune_predictions"], {"body": body})
        return result

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.settings.url if self.is_remote else f"embedded at {self.settings.home}"
        return f"<dockyard.Client {where}>"


def connect(
    url: str | None = None,
    *,
    home: str | Path | None = None,
    db: str | None = None,
    blobs: str | None = None,
    token: str | None = None,
    principal: Principal | None = None,
) -> Client:
    """Connect to dockyard: a server at ``url`` (or ``DOCKYARD_URL``), else the embedded home.

    Explicit arguments win over ``DOCKYARD_*`` environment variables, which win over
    ``$DOCKYARD_HOME/config.toml``; with nothing set, everything lives in ``~/.dockyard``.
    A server knows who calls from ``token`` (``DOCKYARD_TOKEN``); ``principal`` names the
    acting user of an embedded home only (default: the operating-system user, every role).
    """
    settings = load_settings(home=home, db=db, blobs=blobs, url=url, token=token)
    return connect_with(settings, principal=principal)


def connect_with(settings: Settings, *, principal: Principal | None = None) -> Client:
    """A client for already-resolved settings."""
    transport: Transport
    if settings.url:
        if principal is not None:
            raise InvalidInput(
                f"a server ({settings.url}) decides who is calling from the token "
                "(DOCKYARD_TOKEN), not from the client: leave out principal="
            )
        # httpx imports its own CLI (click, rich, pygments): load it only for remote use.
        from dockyard.client.http import HttpTransport

        transport = HttpTransport(settings.url, token=settings.token)
    else:
        transport = InProcessTransport(Services.open(settings), principal or local_principal())
    return Client(transport, settings)
