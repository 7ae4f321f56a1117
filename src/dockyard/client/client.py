"""``dockyard.connect()``: the client, embedded or against a server, through one interface."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from dockyard.client.blobs import BlobsClient
from dockyard.client.data import DatasetsClient
from dockyard.client.inprocess import InProcessTransport
from dockyard.client.models import ModelsClient
from dockyard.client.pipelines import PipelinesClient
from dockyard.client.projects import ProjectsClient
from dockyard.client.schedules import SchedulesClient
from dockyard.client.tracking import ExperimentsClient, RunsClient
from dockyard.client.transport import Transport
from dockyard.core.config import Settings, load_settings
from dockyard.core.errors import InvalidInput
from dockyard.core.operations import build, operations_by_name
from dockyard.core.principal import Principal, local_principal
from dockyard.gc.service import (
    RETENTION_SECONDS,
    GarbageCollector,
    GcReport,
    GcRequest,
    PurgeReport,
    PurgeRequest,
)
from dockyard.services import Services

_GC = operations_by_name(GarbageCollector)


class Client:
    """Everything dockyard does, as methods; build it with :func:`connect`."""

    def __init__(self, transport: Transport, settings: Settings) -> None:
        self.transport = transport
        self.settings = settings
        self.projects = ProjectsClient(transport)
        self.blobs = BlobsClient(transport)
        self.experiments = ExperimentsClient(transport)
        self.runs = RunsClient(transport)
        self.datasets = DatasetsClient(transport, self.blobs, settings.home / "cache" / "blobs")
        self.pipelines = PipelinesClient(transport)
        self.schedules = SchedulesClient(transport)
        self.models = ModelsClient(
            transport, self.blobs, self.runs, settings.home / "cache" / "models"
        )

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
