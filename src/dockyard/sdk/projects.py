"""Projects from the SDK: made on first use, as MLflow makes experiments."""

from __future__ import annotations

import contextlib

from dockyard.client.client import Client
from dockyard.core.errors import Conflict, NotFound


def ensure_project(client: Client, project: str) -> None:
    """Create ``project`` unless it exists."""
    try:
        client.projects.get(project)
    except NotFound:
        with contextlib.suppress(Conflict):  # made by someone else meanwhile
            client.projects.create(project)
