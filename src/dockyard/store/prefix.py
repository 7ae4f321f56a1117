"""Finding ids by their first characters, with a range on the primary-key index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement

ID_LENGTH = 32


def id_starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix`` (lowercase hex, as made by ``core.ids.new_id``).

    Written as a range between the prefix padded with ``0`` and with ``f`` so that both
    SQLite and PostgreSQL (whatever its collation, where ``LIKE 'p%'`` cannot use a plain
    B-tree index) walk the primary-key index; the ``LIKE`` only re-checks the rows in range.
    """
    return and_(
        column >= prefix.ljust(ID_LENGTH, "0"),
        column <= prefix.ljust(ID_LENGTH, "f"),
        column.startswith(prefix, autoescape=True),
    )
