"""Projects from the SDK: ``dy.connect().projects``."""

from __future__ import annotations

from collections.abc import Iterator

from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name
from dockyard.core.schemas import Page
from dockyard.projects.schemas import Project, ProjectCreate, ProjectQuery, ProjectUpdate
from dockyard.projects.service import ProjectService

_OPS = operations_by_name(ProjectService)


class ProjectsClient:
    """Create, list, get, rename and delete projects."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def create(self, name: str, *, description: str = "") -> Project:
        """Create a project; raises Conflict if the name is taken."""
        body = build(ProjectCreate, name=name, description=description)
        result: Project = self._transport.call(_OPS["create"], {"body": body})
        return result

    def page(self, *, limit: int = 100, cursor: str | None = None) -> Page[Project]:
        """One page of projects ordered by name."""
        query = build(ProjectQuery, limit=limit, cursor=cursor)
        result: Page[Project] = self._transport.call(_OPS["list"], {"query": query})
        return result

    def iter(self, *, page_size: int = 500) -> Iterator[Project]:
        """Every project, fetched a page at a time."""
        cursor = None
        while True:
            page = self.page(limit=page_size, cursor=cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def list(self, *, limit: int | None = None) -> list[Project]:
        """Projects ordered by name (all of them, or the first ``limit``)."""
        found: list[Project] = []
        for project in self.iter():
            if limit is not None and len(found) >= limit:
                break
            found.append(project)
        return found

    def get(self, name: str) -> Project:
        """A project by name or id; raises NotFound."""
        result: Project = self._transport.call(_OPS["get"], {"project": name})
        return result

    def update(
        self, name: str, *, new_name: str | None = None, description: str | None = None
    ) -> Project:
        """Change a project's name and/or description."""
        fields = {
            k: v for k, v in (("name", new_name), ("description", description)) if v is not None
        }
        body = build(ProjectUpdate, **fields)
        result: Project = self._transport.call(_OPS["update"], {"project": name, "body": body})
        return result

    def rename(self, name: str, new_name: str) -> Project:
        """Rename a project; raises Conflict if ``new_name`` is taken."""
        return self.update(name, new_name=new_name)

    def delete(self, name: str) -> Project:
        """Delete a project and return what it was."""
        result: Project = self._transport.call(_OPS["delete"], {"project": name})
        return result
