"""Run search: a parsed query (see :mod:`dockyard.tracking.query`) executed in SQL.

Each param, tag or metric a query names becomes one outer join on its key, so filters and
ordering use the ``(run_id, key)`` and ``(key, value)`` indexes instead of Python loops.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from dockyard.core.errors import InvalidInput
from dockyard.store.tables import (
    ExperimentRow,
    MetricSeriesRow,
    ParamRow,
    ProjectRow,
    RunRow,
    TagRow,
)
from dockyard.tracking.query import (
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


class RunQueryCompiler:
    """Turns query ASTs into SQL over ``runs``, adding the joins the fields need."""

    def __init__(self, stmt: Select[Any], dialect: str) -> None:
        self.stmt = stmt
        self.dialect = dialect
        self._joined: dict[tuple[str, str], Any] = {}

    def _join(self, kind: str, key: str) -> Any:
        alias = self._joined.get((kind, key))
        if alias is None:
            table = {"param": ParamRow, "tag": TagRow, "metric": MetricSeriesRow}[kind]
            alias = aliased(table)
            self.stmt = self.stmt.outerjoin(
                alias, and_(alias.run_id == RunRow.id, alias.key == key)
            )
            self._joined[(kind, key)] = alias
        return alias

    def column(self, field: Field, *, numeric: bool = False) -> ColumnElement[Any]:
        """The SQL expression of ``field`` (a param's number when compared with numbers)."""
        if field.kind == "metric":
            return getattr(self._join("metric", field.key), _METRIC_COLUMNS[field.agg or "last"])  # type: ignore[no-any-return]
        if field.kind == "param":
            alias = self._join("param", field.key)
            return alias.value_num if numeric else alias.value  # type: ignore[no-any-return]
        if field.kind == "tag":
            return self._join("tag", field.key).value  # type: ignore[no-any-return]
        return self._attribute(field.key)

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


def search_run_ids(
    session: Session,
    *,
    where: Expr | None,
    order_by: list[OrderBy],
    project_ids: list[str],
    experiment_ids: list[str],
    include_deleted: bool,
    offset: int,
    limit: int,
) -> list[str]:
    """Ids of the runs matching ``where`` in order, one page of them."""
    compiler = RunQueryCompiler(select(RunRow.id), session.get_bind().dialect.name)
    conditions: list[ColumnElement[bool]] = []
    if not include_deleted:
        conditions.append(RunRow.deleted_at.is_(None))
        binned = select(ExperimentRow.id).where(ExperimentRow.deleted_at.is_not(None))
        conditions.append(RunRow.experiment_id.not_in(binned))
    if project_ids:
        conditions.append(RunRow.project_id.in_(project_ids))
    if experiment_ids:
        conditions.append(RunRow.experiment_id.in_(experiment_ids))
    if where is not None:
        conditions.append(compiler.where(where))
    ordering = compiler.order(order_by)
    stmt = compiler.stmt.where(*conditions).order_by(*ordering).offset(offset).limit(limit)
    return list(session.scalars(stmt))
