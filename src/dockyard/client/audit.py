"""The audit log from the SDK: ``dy.connect().audit``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from dockyard.access.audit import AuditService
from dockyard.access.schemas import AuditEvent, AuditPage, AuditQuery
from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name

_OPS = operations_by_name(AuditService)


class AuditClient:
    """Who did what, when, from where, and how it ended (a server's calls)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def page(
        self,
        *,
        project: str | None = None,
        actor: str | None = None,
        operation: str | None = None,
        outcome: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> AuditPage:
        """One page of events, newest first; pass ``next_cursor`` on for the next."""
        query = build(
            AuditQuery,
            project=project,
            actor=actor,
            operation=operation,
            outcome=outcome,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        result: AuditPage = self._transport.call(_OPS["list"], {"query": query})
        return result

    def events(self, *, limit: int | None = None, **filters: object) -> Iterator[AuditEvent]:
        """Events newest first (all that match, or the first ``limit``), a page at a time."""
        cursor = None
        seen = 0
        while True:
            page = self.page(cursor=cursor, limit=1000, **filters)  # type: ignore[arg-type]
            for event in page.items:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield event
            if not page.next_cursor:
                return
            cursor = page.next_cursor
