"""Insert-or-update of many rows in one statement, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.dml import Insert


@functools.lru_cache(maxsize=64)
def _statement(
    table: Table, dialect: str, columns: tuple[str, ...], keys: tuple[str, ...]
) -> Insert:
    """The upsert statement for one table and column set (built once: building it costs
    more than running it)."""
    if dialect == "postgresql":
        # The PostgreSQL dialect package costs ~0.1 s to import; load it only when used.
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table)  # type: ignore[assignment]
    excluded = stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: excluded[c] for c in columns if c not in keys}
    )


def upsert(
    session: Session,
    model: type[DeclarativeBase] | Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
) -> None:
    """Insert ``rows``; a row whose ``keys`` exist already has its other columns replaced."""
    if not rows:
        return
    table: Table = model if isinstance(model, Table) else model.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    session.execute(_statement(table, dialect, tuple(rows[0]), tuple(keys)), list(rows))
