"""What each run read and wrote: the edges every lineage question is answered from.

Other capabilities record their entities here by kind (``dataset_version``,
``model_version``...) and id; the run side needs to know nothing about them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from pydantic import Field
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dockyard.core.operations import Target, operation
from dockyard.core.principal import Principal
from dockyard.core.schemas import Model
from dockyard.store.db import Database
from dockyard.store.tables import RunIORow, utcnow
from dockyard.tracking.runs import find_run

Direction = Literal["input", "output"]


class RunIO(Model):
    run_id: str
    direction: Direction
    kind: str = Field(description="dataset_version, model_version...")
    ref: str = Field(description="the entity's id")
    label: str = Field(description="a readable name, as it was when recorded")
    created_at: dt.datetime


def _to_model(row: RunIORow) -> RunIO:
    return RunIO(
        run_id=row.run_id,
        direction=row.direction,
        kind=row.kind,
        ref=row.ref,
        label=row.label,
        created_at=row.created_at,
    )


def record_io(
    session: Session, run_id: str, direction: Direction, kind: str, ref: str, label: str
) -> None:
    """Record that a run read or wrote an entity (recording it again changes nothing)."""
    run = find_run(session, run_id)
    values = {
        "run_id": run.id,
        "direction": direction,
        "kind": kind,
        "ref": ref,
        "label": label[:512],
        "created_at": utcnow(),
    }
    if session.get_bind().dialect.name == "postgresql":
        # The PostgreSQL dialect package costs ~0.1 s to import; load it only when used.
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(RunIORow).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite_insert(RunIORow).values(values).on_conflict_do_nothing())


def io_of_runs(session: Session, run_ids: Iterable[str]) -> list[RunIO]:
    """Everything the given runs read or wrote."""
    ids = list(run_ids)
    if not ids:
        return []
    rows = session.scalars(
        select(RunIORow)
        .where(RunIORow.run_id.in_(ids))
        .order_by(RunIORow.run_id, RunIORow.created_at, RunIORow.kind, RunIORow.ref)
    )
    return [_to_model(r) for r in rows]


def runs_touching(session: Session, entities: Iterable[tuple[str, str]]) -> list[RunIO]:
    """Every run that read or wrote one of the ``(kind, ref)`` entities."""
    keys = list(set(entities))
    if not keys:
        return []
    rows = session.scalars(
        select(RunIORow)
        .where(tuple_(RunIORow.kind, RunIORow.ref).in_(keys))
        .order_by(RunIORow.created_at, RunIORow.run_id)
    )
    return [_to_model(r) for r in rows]


class RunIOService:
    """A run's inputs and outputs, for the run page and for reproducing it."""

    service_name = "run_io"

    def __init__(self, db: Database) -> None:
        self.db = db

    @operation("GET", "/runs/{run_id}/io", on=Target("run", "run_id"))
    def list(self, principal: Principal, run_id: str) -> list[RunIO]:
        """What the run read (inputs) and wrote (outputs)."""

        def fetch(session: Session) -> list[RunIO]:
            run = find_run(session, run_id, include_deleted=True)
            return io_of_runs(session, [run.id])

        return self.db.query(fetch)
