"""Run search: a parsed query (see :mod:`dockyard.tracking.query`) executed in SQL.

Each param, tag or metric a query names becomes one outer join on its key, so filters and
ordering use the ``(run_id, key)`` and ``(key, value)`` indexes instead of Python loops.

Sorted by a metric's last value or a param's number, a search runs in two parts: first the
runs having that key, ordered by its indexed column so that the database can walk the
``(key, value)`` index in order and stop after one page; then, only once those run out, the
runs lacking it (which sort after them in either direction). A cursor names the part and the
offset in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Join, Select, and_, func, literal_column, not_, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler

from dockyard.core.errors import InvalidInput
from dockyard.core.schemas import decode_cursor, encode_cursor
from dockyard.store.tables import (
    ExperimentRow,
    MetricSeriesRow,
    ParamRow,
    ProjectRow,
    RunRow,
    TagRow,
)
from dockyard.tracking.query_ast import (
    And,
    Compare,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    Not,
    Or,
    OrderBy,
    field_text,
)

_METRIC_COLUMNS = {"last": "last_value", "min": "min_value", "max": "max_value"}
_TIMES = ("start_time", "end_time")
_TABLES: dict[str, Any] = {"param": ParamRow, "tag": TagRow, "metric": MetricSeriesRow}
_WALK_STEPS_PER_ROW = 1000
"""SQLite VM steps an index walk may take per row of its page (each run it looks at costs
~20 and more with more filters): filters that keep fewer than ~1 in 50 of the runs having the
sort key are quicker to start from their own index, so the walk gives up and lets SQLite."""
_PROGRESS_EVERY = 1000  # VM steps between two calls of the SQLite progress handler
_FEW_SHARE = 0.15
"""A filtered search whose projects hold at most this share of the runs reads them from
their index (~30 VM steps a run): a walk would look at every other project's runs too."""
_SOME_SHARE = 0.5
"""A search whose projects hold at most this share of the runs reads them from their index
when its walk gives up: SQLite's own plan for a list of projects starts from a filter's index
over all of them (~0.6 s at 100k runs where reading a quarter of them takes ~0.1 s)."""
_COUNT_STEPS = 300_000
"""SQLite VM steps a count may take from a filter's index before it reads the scope instead."""


class CrossJoin(Join):
    """An inner join that SQLite runs in the order written (its left table as the outer loop)."""

    inherit_cache = True


@compiles(CrossJoin)
def _compile_cross_join(join: CrossJoin, compiler: SQLCompiler, **kw: Any) -> str:
    # Only built on SQLite, whose CROSS JOIN takes an ON clause; the left side is one table,
    # so the first " JOIN " of the text is this join's.
    text: str = compiler.visit_join(join, **kw)  # type: ignore[no-untyped-call]
    return text.replace(" JOIN ", " CROSS JOIN ", 1)


class RunQueryCompiler:
    """Turns query ASTs into SQL over ``runs``, adding the joins the fields need."""

    def __init__(self, stmt: Select[Any], dialect: str) -> None:
        self.stmt = stmt
        self.dialect = dialect
        self._joined: dict[tuple[str, str], Any] = {}
        self._correlated_to: ColumnElement[str] | None = None

    def _join(self, kind: str, key: str) -> Any:
        alias = self._joined.get((kind, key))
        if alias is None:
            alias = aliased(_TABLES[kind])
            self.stmt = self.stmt.outerjoin(
                alias, and_(alias.run_id == RunRow.id, alias.key == key)
            )
            self._joined[(kind, key)] = alias
        return alias

    def lead(
        self, field: Field, *, having: bool, walk: bool = False, runs_first: bool = False
    ) -> ColumnElement[Any]:
        """Join on ``field``'s key ahead of the other fields; the column to sort by.

        ``having``: an inner join (the runs having the key), else an outer one (to find the
        runs lacking it). ``walk`` (SQLite): fix the plan to walk the ``(key, value)`` index
        in order. SQLite has no statistics and would rather start from a filter's index and
        sort all its matches, so the key's table leads by a CROSS JOIN and the other fields
        are read by correlated subqueries (same values, NULL when a run lacks the key), which
        cannot lead, on the walked run id, so that filters reject a run before its lookup.
        ``runs_first`` (SQLite): the runs lead instead (from the index of the search's
        projects, when it has few of the runs), and every field is read for each of them.
        """
        alias = aliased(_TABLES[field.kind])
        on = and_(alias.run_id == RunRow.id, alias.key == field.key)
        if runs_first:
            self.correlate_to_runs()
        if not having and runs_first:  # read like any other field, for each run
            return self.column(field, numeric=True)
        if not having:
            self.stmt = self.stmt.outerjoin(alias, on)
        elif runs_first:
            self.stmt = self.stmt.select_from(CrossJoin(RunRow, alias, on))
            self._correlated_to = RunRow.__table__.c.id
        elif walk:
            self.stmt = self.stmt.select_from(CrossJoin(alias, RunRow, on))
            self._correlated_to = alias.run_id
        else:
            self.stmt = self.stmt.join(alias, on)
        self._joined[(field.kind, field.key)] = alias
        return self.column(field, numeric=True)

    def correlate_to_runs(self) -> None:
        """Read every field not joined yet by a subquery on the run (SQLite: the runs lead)."""
        self._correlated_to = RunRow.__table__.c.id

    def column(self, field: Field, *, numeric: bool = False) -> ColumnElement[Any]:
        """The SQL expression of ``field`` (a param's number when compared with numbers)."""
        if field.kind == "attribute":
            return self._attribute(field.key)
        if field.kind == "metric":
            name = _METRIC_COLUMNS[field.agg or "last"]
        else:
            name = "value_num" if numeric and field.kind == "param" else "value"
        run_id = self._correlated_to
        if run_id is not None and (field.kind, field.key) not in self._joined:
            table = aliased(_TABLES[field.kind])
            value = select(getattr(table, name)).where(
                table.run_id == run_id, table.key == field.key
            )
            return value.scalar_subquery()
        return getattr(self._join(field.kind, field.key), name)  # type: ignore[no-any-return]

    def _attribute(self, name: str) -> ColumnElement[Any]:
        if name == "experiment":
            return (
                select(ExperimentRow.name)
                .where(ExperimentRow.id == RunRow.experiment_id)
                .scalar_subquery()
            )
        if name == "project":
            return (
                select(ProjectRow.name).where(ProjectRow.id == RunRow.project_id).scalar_subquery()
            )
        if name == "duration":
            if self.dialect == "postgresql":
                return func.extract("epoch", RunRow.end_time - RunRow.start_time)
            return (func.julianday(RunRow.end_time) - func.julianday(RunRow.start_time)) * 86400.0
        attribute: InstrumentedAttribute[Any] = getattr(RunRow, "id" if name == "run_id" else name)
        return attribute.expression

    def _value(self, field: Field, value: Any) -> Any:
        if field.kind == "attribute" and field.key in _TIMES:
            if not isinstance(value, str):
                raise InvalidInput(
                    f"{field_text(field)} compares with an ISO time such as '2026-01-31T12:00'"
                )
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                raise InvalidInput(
                    f"{value!r} is not an ISO time for {field_text(field)}"
                ) from None
            aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            return aware
        if isinstance(value, bool):
            return str(value)
        if (
            field.kind in ("tag", "attribute")
            and not isinstance(value, str)
            and field.key != "duration"
        ):
            return str(value)
        return value

    def where(self, expr: Expr) -> ColumnElement[bool]:
        """The SQL condition of a query expression."""
        if isinstance(expr, And):
            return and_(*(self.where(e) for e in expr.items))
        if isinstance(expr, Or):
            return or_(*(self.where(e) for e in expr.items))
        if isinstance(expr, Not):
            return not_(self.where(expr.item))
        if isinstance(expr, IsNull):
            column = self.column(expr.field)
            return column.is_not(None) if expr.negated else column.is_(None)
        if isinstance(expr, Like):
            column = self.column(expr.field)
            matched = (
                column.ilike(expr.pattern) if expr.case_insensitive else column.like(expr.pattern)
            )
            return not_(matched) if expr.negated else matched
        if isinstance(expr, In):
            numeric = all(_is_number(v) for v in expr.values)
            column = self.column(expr.field, numeric=numeric)
            values = [self._value(expr.field, v) for v in expr.values]
            return column.not_in(values) if expr.negated else column.in_(values)
        assert isinstance(expr, Compare)
        column = self.column(expr.field, numeric=_is_number(expr.value))
        value = self._value(expr.field, expr.value)
        conditions: dict[str, ColumnElement[bool]] = {
            "=": column == value,
            "!=": column != value,
            "<": column < value,
            "<=": column <= value,
            ">": column > value,
            ">=": column >= value,
        }
        return conditions[expr.op]

    def order(self, order_by: list[OrderBy]) -> list[Any]:
        """ORDER BY terms: the requested ones (missing values last), then newest first."""
        terms = []
        for item in order_by:
            column = self.column(item.field, numeric=item.field.kind == "param")
            terms.append((column.desc() if item.descending else column.asc()).nulls_last())
        return [*terms, RunRow.start_time.desc(), RunRow.id.desc()]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _indexed(field: Field) -> bool:
    """Whether a ``(key, value)`` index holds ``field`` in order: a param's number (nulls
    aside) or a metric's last value."""
    return field.kind == "param" or (field.kind == "metric" and field.agg == "last")


@dataclass(frozen=True)
class Position:
    """Where a page of results starts: an offset into one part of them.

    Part 0 is every match or, when the first sort key is indexed (see :func:`_indexed`), the
    matches having it; part 1 the matches lacking it, which come after all of part 0.
    """

    part: int = 0
    offset: int = 0

    @classmethod
    def from_cursor(cls, cursor: str | None) -> Position:
        """The position a ``next_cursor`` stands for (the start without one)."""
        if not cursor:
            return cls()
        part, offset = decode_cursor(cursor, 2)
        if type(part) is not int or type(offset) is not int or part not in (0, 1) or offset < 0:
            raise InvalidInput(f"cursor {cursor!r} is not valid; pass a next_cursor from a listing")
        return cls(part, offset)

    def cursor(self) -> str:
        """The ``next_cursor`` of this position."""
        return encode_cursor([self.part, self.offset])


@dataclass(frozen=True)
class _Search:
    """The statements of one search: everything but the offset and limit."""

    dialect: str
    where: Expr | None
    order_by: list[OrderBy]
    scope: list[ColumnElement[bool]]

    def statement(
        self, part: int | None, *, walk: bool = False, runs_first: bool = False
    ) -> Select[Any]:
        """All matches (``part`` None), or those having (0) or lacking (1) the first sort key;
        ``walk`` and ``runs_first``: see :meth:`RunQueryCompiler.lead`."""
        compiler = RunQueryCompiler(select(RunRow.id), self.dialect)
        if runs_first:
            compiler.correlate_to_runs()
        conditions, ordering, rest = list(self.scope), [], self.order_by
        if part is not None:
            first, rest = self.order_by[0], self.order_by[1:]
            value = compiler.lead(first.field, having=part == 0, walk=walk, runs_first=runs_first)
            if part == 1:
                conditions.append(value.is_(None))
            else:
                if first.field.kind == "param":
                    conditions.append(value.is_not(None))  # params that are not numbers
                ordering.append(value.desc() if first.descending else value.asc())
        if self.where is not None:
            condition = compiler.where(self.where)
            if walk and part is None:
                # most runs pass: SQLite then walks the runs in order (or all of them, for a
                # count) instead of starting from a filter's index and visiting every match
                condition = func.likelihood(condition, literal_column("0.9"))
            conditions.append(condition)
        ordering += compiler.order(rest)
        return compiler.stmt.where(*conditions).order_by(*ordering)


def run_scope(
    project_ids: list[str], experiment_ids: list[str], include_deleted: bool = False
) -> list[ColumnElement[bool]]:
    """The conditions of a search's scope: its projects and experiments, deleted runs or not."""
    scope: list[ColumnElement[bool]] = []
    if not include_deleted:
        scope.append(RunRow.deleted_at.is_(None))
        binned = select(ExperimentRow.id).where(ExperimentRow.deleted_at.is_not(None))
        scope.append(RunRow.experiment_id.not_in(binned))
    if project_ids:
        scope.append(RunRow.project_id.in_(project_ids))
    if experiment_ids:
        scope.append(RunRow.experiment_id.in_(experiment_ids))
    return scope


def _count(session: Session, stmt: Select[Any]) -> int:
    """How many rows ``stmt`` (a select of run ids) gives, without ordering them."""
    counted = select(func.count()).select_from(stmt.order_by(None).subquery())
    return int(session.scalar(counted) or 0)


def count_runs(
    session: Session,
    *,
    where: Expr | None,
    project_ids: list[str],
    experiment_ids: list[str],
    include_deleted: bool,
) -> int:
    """How many runs match ``where`` in the scope (the ``total`` of a search).

    On SQLite a filter's index is tried first, within a budget: it is quick when few runs
    match, but visits every match; when many do, reading the scope's runs once is quicker.
    """
    dialect = session.get_bind().dialect.name
    search = _Search(dialect, where, [], run_scope(project_ids, experiment_ids, include_deleted))
    if dialect == "sqlite" and where is not None:
        try:
            with _interrupted_after(session, _COUNT_STEPS):
                return _count(session, search.statement(None))
        except OperationalError as exc:
            if "interrupted" not in str(exc.orig):
                raise
        return _count(session, search.statement(None, walk=True))
    return _count(session, search.statement(None))


def search_run_ids(
    session: Session,
    *,
    where: Expr | None,
    order_by: list[OrderBy],
    project_ids: list[str],
    experiment_ids: list[str],
    include_deleted: bool,
    start: Position,
    limit: int,
) -> tuple[list[str], Position | None]:
    """Ids of up to ``limit`` runs matching ``where`` in order from ``start``, and where the
    next page starts (None after the last match).

    Sorted by an indexed key (:func:`_indexed`), the runs having it are fetched first, ordered
    by the indexed column itself, so that the database walks the index and stops after one
    page; the runs lacking the key, which sort after them either way, are fetched only once
    those run out. Otherwise one query sorts all matches, missing values last. A start in
    part 0 beyond the runs having the key (an offset into the whole results) continues that
    far into the runs lacking it.
    """
    dialect = session.get_bind().dialect.name
    search = _Search(
        dialect, where, order_by, run_scope(project_ids, experiment_ids, include_deleted)
    )

    def fetch(
        part: int | None, offset: int, count: int, *, walk: bool = False, runs_first: bool = False
    ) -> list[str]:
        stmt = search.statement(part, walk=walk, runs_first=runs_first)
        return list(session.scalars(stmt.offset(offset).limit(count)))

    # A search of a few projects (a user who reads 10 of 100, say) on SQLite: a walk of the
    # sort key's index passes over the other projects' runs too (it looks at runs / share /
    # the filter's pass rate of them), and SQLite's own plan starts from a filter's index over
    # every project. Reading the projects' runs from their index costs a known time per run:
    # with a filter, that is the plan; without one, a walk is worth a try first.
    # Past a walk, SQLite's own plan for a list of projects is worse still than reading them.
    scoped = dialect == "sqlite" and bool(project_ids)
    few = scoped and where is not None and _holds_at_most(session, project_ids, _FEW_SHARE)

    counted: list[bool] = []

    def some() -> bool:  # asked only once a walk gave up (counting costs up to ~5 ms)
        if not counted:
            counted.append(few or (scoped and _holds_at_most(session, project_ids, _SOME_SHARE)))
        return counted[0]

    def having(offset: int, count: int) -> list[str]:
        if dialect == "postgresql":
            with _serial_plans(session):
                return fetch(0, offset, count)
        if dialect == "sqlite":
            if few:
                return fetch(0, offset, count, runs_first=True)
            try:
                with _interrupted_after(session, _WALK_STEPS_PER_ROW * (offset + count)):
                    return fetch(0, offset, count, walk=True)
            except OperationalError as exc:
                if "interrupted" not in str(exc.orig):
                    raise
            if some():
                return fetch(0, offset, count, runs_first=True)
        return fetch(0, offset, count)  # the planner's choice, e.g. from a selective filter

    def matches(offset: int, count: int) -> list[str]:
        if few:
            return fetch(None, offset, count, runs_first=True)
        if dialect == "sqlite" and where is not None:
            # walk the runs in order (by start time, say) until a page passes the filter; a
            # filter that keeps few runs gives up the walk for its own index
            try:
                with _interrupted_after(session, _WALK_STEPS_PER_ROW * (offset + count)):
                    return fetch(None, offset, count, walk=True)
            except OperationalError as exc:
                if "interrupted" not in str(exc.orig):
                    raise
            if some():
                return fetch(None, offset, count, runs_first=True)
        return fetch(None, offset, count)

    if not (order_by and _indexed(order_by[0].field)):
        if start.part != 0:
            raise InvalidInput("this cursor belongs to a search with another order; start over")
        ids = matches(start.offset, limit + 1)
        return ids[:limit], Position(0, start.offset + limit) if len(ids) > limit else None
    ids, offset = [], start.offset
    if start.part == 0:
        ids = having(start.offset, limit + 1)
        if len(ids) > limit:
            return ids[:limit], Position(0, start.offset + limit)
        # Past the runs having the key: as far into those lacking it as the start was beyond.
        skipped = 0 if ids or not start.offset else _count(session, search.statement(0))
        offset = max(start.offset - skipped, 0) if not ids and start.offset else 0
    taken = len(ids)
    ids += fetch(1, offset, limit + 1 - taken, runs_first=some())
    more = len(ids) > limit
    return ids[:limit], Position(1, offset + limit - taken) if more else None


def _holds_at_most(session: Session, project_ids: list[str], share: float) -> bool:
    """Whether ``project_ids`` hold at most about ``share`` of all runs (counted on their
    index, no further than that share)."""
    # the highest rowid: about how many runs there are, in one index lookup
    total = session.scalar(select(func.max(literal_column("rowid"))).select_from(RunRow))
    if not total:
        return False
    cap = int(total * share) + 1
    held: Select[Any] = (
        select(literal_column("1")).where(RunRow.project_id.in_(project_ids)).limit(cap)
    )
    counted = session.scalar(select(func.count()).select_from(held.subquery()))
    return (counted or 0) < cap


@contextmanager
def _serial_plans(session: Session) -> Iterator[None]:
    """PostgreSQL plans the block's statements without parallel workers or JIT compilation.

    An index walk that stops after a page takes milliseconds; starting parallel workers for it
    took ~30 ms on two busy cores, and JIT compiling ~1 s. The settings are undone with a
    savepoint, since larger sorts (the runs lacking the key, say) gain from parallel workers.
    """
    savepoint = session.begin_nested()
    try:
        off = ("max_parallel_workers_per_gather", "0"), ("jit", "off")
        session.execute(select(*(func.set_config(name, value, True) for name, value in off)))
        yield
    finally:
        savepoint.rollback()


@contextmanager
def _interrupted_after(session: Session, steps: int) -> Iterator[None]:
    """SQLite statements of the block fail ("interrupted") after about ``steps`` VM steps."""
    connection: Any = session.connection().connection.dbapi_connection
    calls = steps // _PROGRESS_EVERY + 1

    def spent() -> bool:
        nonlocal calls
        calls -= 1
        return calls < 0

    connection.set_progress_handler(spent, _PROGRESS_EVERY)
    try:
        yield
    finally:
        connection.set_progress_handler(None, 0)
