"""The distinct param, metric and tag keys of the runs in a scope (a table's column chooser).

Two plans, chosen by the size of the scope. A few runs: read their keys through the
``(run_id, key)`` primary keys, runs first. Many runs: list every distinct key by a loose scan
of a key-leading index (one seek per key, however many rows each has), then keep the keys
that some run of the scope has (found at once when the scope is large). Scanning every row of
a table of 100k runs x 20 params would take a hundred milliseconds or more either way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from dockyard.store.tables import MetricSeriesRow, ParamRow, RunRow, TagRow
from dockyard.tracking.schemas import RunKeys
from dockyard.tracking.search import CrossJoin

SMALL_SCOPE = 2000
"""Runs up to which a scope's keys are read run by run rather than key by key."""


def _keys_of_few_runs(
    session: Session, table: Any, scope: list[ColumnElement[bool]], sqlite: bool
) -> list[str]:
    on = table.run_id == RunRow.id
    stmt = select(table.key).where(*scope).distinct()
    if sqlite:  # runs first: CROSS JOIN keeps the written order
        stmt = stmt.select_from(CrossJoin(RunRow.__table__, table.__table__, on))
    else:
        stmt = stmt.select_from(RunRow).join(table, on)
    return sorted(session.scalars(stmt))


def _keys_of_many_runs(
    session: Session, table: Any, scope: list[ColumnElement[bool]], sqlite: bool
) -> list[str]:
    """Every distinct key by a loose index scan (a recursive CTE: the least key after the
    last one found), kept if a run of the scope has it."""
    first = aliased(table)
    keys = select(func.min(first.key).label("key")).cte("distinct_keys", recursive=True)
    following = aliased(table)
    after = select(func.min(following.key)).where(following.key > keys.c.key).scalar_subquery()
    keys = keys.union_all(select(after).where(keys.c.key.is_not(None)))
    holder = aliased(table)
    on = holder.run_id == RunRow.id
    used = select(holder.run_id).where(holder.key == keys.c.key, *scope)
    if sqlite:  # without statistics SQLite might start from the scope's runs: start from the key
        used = used.select_from(CrossJoin(holder, RunRow.__table__, on))
    else:
        used = used.select_from(holder).join(RunRow, on)
    # A scalar subquery that stops at the first run, not EXISTS: PostgreSQL would turn that
    # into a semi-join over every row of every key.
    first_run = used.limit(1).scalar_subquery()
    stmt = select(keys.c.key).where(keys.c.key.is_not(None), first_run.is_not(None))
    stmt = stmt.order_by(keys.c.key)
    return list(session.scalars(stmt))


def run_keys(session: Session, scope: list[ColumnElement[bool]]) -> RunKeys:
    """The sorted distinct keys of params, metrics and tags of the runs matching ``scope``."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    some = select(RunRow.id).where(*scope).limit(SMALL_SCOPE + 1).subquery()
    size = session.scalar(select(func.count()).select_from(some)) or 0
    if size == 0:
        return RunKeys(params=[], metrics=[], tags=[])
    found = {}
    for name, table in (("params", ParamRow), ("metrics", MetricSeriesRow), ("tags", TagRow)):
        if size <= SMALL_SCOPE:
            found[name] = _keys_of_few_runs(session, table, scope, sqlite)
        else:
            found[name] = _keys_of_many_runs(session, table, scope, sqlite)
    return RunKeys(**found)
