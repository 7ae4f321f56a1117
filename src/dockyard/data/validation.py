"""Evaluate a dataset's rules against a version, with DuckDB over the view ``data``.

Rules are independent: each one that cannot be evaluated (an unknown column, SQL that
does not parse or bind, a bound of the wrong type) fails with a message saying what is
wrong, and the others are still evaluated. Nothing here raises for a bad rule.

Row-level rules (not_null, range, allowed_values, sql) share one scan: their failing-row
counts are aggregates of a single query (each rule's condition is bound on its own first,
so one bad rule does not take the others with it; if the shared query fails while running,
each rule is run on its own). Examples are fetched only for rules that failed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.duck import check_expression, first_line
from dockyard.data.schemas import (
    AllowedValuesRule,
    Column,
    ColumnRule,
    FreshnessRule,
    NotNullRule,
    RangeRule,
    RowCountRule,
    Rule,
    RuleResult,
    SqlRule,
    UniqueRule,
    ValidationReport,
    duration_seconds,
)
from dockyard.data.stats import (
    EXAMPLE_COLUMNS,
    NUMERIC,
    TEMPORAL,
    ColumnInfo,
    describe,
    fetch_one,
    json_safe,
)

if TYPE_CHECKING:
    import duckdb

EXAMPLES = 5


class RuleError(Exception):
    """A rule that cannot be evaluated; the message says why."""


@dataclass
class _Condition:
    """A row-level rule as SQL: rows where ``sql`` is true fail."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    first: list[str] = field(default_factory=list)
    """Columns shown first in examples."""
    describe: Callable[[int, list[dict[str, Any]]], str] = lambda n, _: f"{n:,} rows fail"
    passed: str = "no rows fail"


def validate(
    con: duckdb.DuckDBPyConnection,
    rules: list[Rule],
    columns: list[Column],
    rows: int,
    created_at: dt.datetime,
) -> ValidationReport:
    """Check ``rules`` against the version whose files are the view ``data``.

    ``columns`` is the version's schema, ``rows`` its row count and ``created_at`` when it
    was made (freshness is measured from it; a naive datetime is UTC).
    """
    infos = describe(con)
    registered = False
    if infos is None:  # a version without files: rules see an empty table of its schema
        con.register("data", _empty_table(columns))
        registered = True
        infos = describe(con) or {}
    try:
        checker = _Checker(con, infos, columns, rows, _utc(created_at))
        results = checker.run(rules)
    finally:
        if registered:
            con.unregister("data")
    return ValidationReport(
        passed=all(r.passed for r in results), checked_at=dt.datetime.now(dt.UTC), results=results
    )


def _empty_table(columns: list[Column]) -> Any:
    """An Arrow table without rows with the schema's columns (of type null when the type
    is not one this recognizes: nested types)."""
    import pyarrow as pa

    fields = []
    for c in columns:
        text = " ".join(c.type.split())
        if match := _TIMESTAMP.fullmatch(text):
            arrow_type = pa.timestamp(match[1], tz=match[2])
        elif match := _DECIMAL.fullmatch(text):
            arrow_type = pa.decimal128(int(match[1]), int(match[2]))
        else:
            try:
                arrow_type = pa.type_for_alias(text.lower())
            except ValueError:
                arrow_type = pa.null()
        fields.append(pa.field(c.name, arrow_type))
    return pa.schema(fields).empty_table()


_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:,\s*tz=(.+))?\]", re.I)
_DECIMAL = re.compile(r"decimal(?:128|256)?\((\d+),\s*(\d+)\)")


def _utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` as a naive UTC datetime (a naive one is taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def normalize_type(text: str) -> str:
    """An Arrow type name in canonical form: aliases resolved (``float64`` -> ``double``,
    ``utf8`` -> ``string``, ``i8`` -> ``int64``), spaces and case of the rest evened out."""
    import pyarrow as pa

    cleaned = " ".join(text.strip().split())
    try:
        return str(pa.type_for_alias(cleaned.lower()))
    except ValueError:
        return cleaned.lower().replace(", ", ",").replace(" ,", ",")


def _label(rule: Rule) -> str:
    return f"{rule.name}: " if rule.name else ""


def _show(value: Any, numeric: bool = False) -> str:
    """A value as it reads in a message: text quoted, numbers (and NaN, inf) bare."""
    value = json_safe(value)
    return repr(value) if isinstance(value, str) and not numeric else str(value)


def _bound(value: float | int | str | None) -> str:
    return "" if value is None else _show(value)


class _Checker:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        infos: dict[str, ColumnInfo],
        columns: list[Column],
        rows: int,
        created_at: dt.datetime,
    ) -> None:
        self.con = con
        self.infos = infos
        self.schema = {c.name: c for c in columns}
        self.rows = rows
        self.created_at = created_at

    def run(self, rules: list[Rule]) -> list[RuleResult]:
        results: dict[int, RuleResult] = {}
        conditions: dict[int, _Condition] = {}
        for n, rule in enumerate(rules):
            try:
                if isinstance(rule, NotNullRule | RangeRule | AllowedValuesRule | SqlRule):
                    condition = self.condition(rule, f"r{n}")
                    self.bind(condition)
                    conditions[n] = condition
                else:
                    results[n] = self.table_rule(rule)
            except Exception as exc:  # a rule never raises: it fails and says why
                results[n] = self.failed(rule, exc)
        counts = self.count(conditions)
        for n, condition in conditions.items():
            rule = rules[n]
            try:
                failing = counts[n]
                if isinstance(failing, Exception):
                    raise failing
                results[n] = self.row_result(rule, condition, failing)
            except Exception as exc:
                results[n] = self.failed(rule, exc)
        return [results[n] for n in range(len(rules))]

    def failed(self, rule: Rule, exc: Exception) -> RuleResult:
        if isinstance(exc, RuleError | InvalidInput):
            reason = str(exc)
        elif isinstance(rule, SqlRule):
            reason = f"sql rule {rule.expression[:200]!r} could not be evaluated: {first_line(exc)}"
        else:
            reason = f"could not be evaluated: {first_line(exc)}"
        return RuleResult(rule=rule, passed=False, message=_label(rule) + reason)

    # -- columns -------------------------------------------------------------------------

    def column(self, name: str) -> ColumnInfo:
        info = self.infos.get(name)
        if info is None:
            raise RuleError(self.unknown(name))
        return info

    def type_of(self, info: ColumnInfo) -> str:
        """The column's Arrow type from the schema (DuckDB's if the schema lacks it)."""
        column = self.schema.get(info.name)
        return column.type if column else info.type

    def unknown(self, name: str) -> str:
        names = list(self.infos) or list(self.schema)
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(repr(n) for n in names[:10]) + (", ..." if len(names) > 10 else "")
        return f"column {name!r} does not exist{hint} (columns: {listed or 'none'})"

    # -- rules over the whole table ------------------------------------------------------

    def table_rule(self, rule: Rule) -> RuleResult:
        if isinstance(rule, ColumnRule):
            return self.column_rule(rule)
        if isinstance(rule, RowCountRule):
            return self.row_count(rule)
        if isinstance(rule, UniqueRule):
            return self.unique(rule)
        if isinstance(rule, FreshnessRule):
            return self.freshness(rule)
        raise RuleError(f"unknown rule {rule.check!r}")  # pragma: no cover

    def column_rule(self, rule: ColumnRule) -> RuleResult:
        column = self.schema.get(rule.column)
        if column is None:
            raise RuleError(self.unknown(rule.column))
        if rule.type is not None and normalize_type(rule.type) != normalize_type(column.type):
            return RuleResult(
                rule=rule,
                passed=False,
                message=f"{_label(rule)}{rule.column} has type {column.type}, not {rule.type}",
            )
        return RuleResult(
            rule=rule,
            passed=True,
            message=f"{_label(rule)}{rule.column} ({column.type}) is present",
        )

    def row_count(self, rule: RowCountRule) -> RuleResult:
        low = rule.min is not None and self.rows < rule.min
        high = rule.max is not None and self.rows > rule.max
        if low:
            message = f"{self.rows:,} rows, expected at least {rule.min:,}"
        elif high:
            message = f"{self.rows:,} rows, expected at most {rule.max:,}"
        else:
            lo = "" if rule.min is None else f"{rule.min:,}"
            hi = "" if rule.max is None else f"{rule.max:,}"
            message = f"{self.rows:,} rows, within [{lo or '0'}, {hi or 'any'}]"
        return RuleResult(rule=rule, passed=not (low or high), message=_label(rule) + message)

    def unique(self, rule: UniqueRule) -> RuleResult:
        infos = [self.column(name) for name in dict.fromkeys(rule.columns)]
        keys = ", ".join(i.sql for i in infos)
        what = infos[0].name if len(infos) == 1 else "(" + ", ".join(i.name for i in infos) + ")"
        noun = "value" if len(infos) == 1 else "key"
        groups = f"SELECT {keys}, count(*) AS n FROM data GROUP BY ALL HAVING count(*) > 1"
        row = fetch_one(self.con, f"SELECT count(*), sum(n) FROM ({groups})")
        duplicated, failing = int(row[0]), int(row[1] or 0)
        if not duplicated:
            return RuleResult(
                rule=rule,
                passed=True,
                message=f"{_label(rule)}{what}: every value is unique",
                failing_rows=0,
            )
        shown = ", ".join(i.shown(i.sql) for i in infos)
        sample = self.con.execute(
            f"SELECT {shown}, count(*) FROM data GROUP BY ALL HAVING count(*) > 1 "
            f"ORDER BY count(*) DESC LIMIT {EXAMPLES}"
        ).fetchall()
        examples = [
            {"key": {i.name: i.value(v) for i, v in zip(infos, r, strict=False)}, "rows": r[-1]}
            for r in sample
        ]
        first = examples[0]
        key_text = ", ".join(f"{k}={_show(v)}" for k, v in first["key"].items())
        message = (
            f"{what}: {duplicated:,} {noun}{' appears' if duplicated == 1 else 's appear'} "
            f"more than once ({failing:,} rows), e.g. {key_text} ({first['rows']:,} rows)"
        )
        return RuleResult(
            rule=rule,
            passed=False,
            message=_label(rule) + message,
            failing_rows=failing,
            examples=examples,
        )

    def freshness(self, rule: FreshnessRule) -> RuleResult:
        info = self.column(rule.column)
        if info.kind not in TEMPORAL:
            raise RuleError(
                f"{info.name} has type {self.type_of(info)}: freshness needs a timestamp or "
                "date column"
            )
        newest_sql = (
            f"timezone('UTC', max({info.sql}))"
            if info.kind == "timestamptz"
            else f"CAST(max({info.sql}) AS TIMESTAMP)"
        )
        row = fetch_one(self.con, f"SELECT CAST({newest_sql} AS VARCHAR) FROM data")
        if row[0] is None:
            raise RuleError(f"{info.name} has no values, so the data cannot be shown to be fresh")
        try:
            newest = dt.datetime.fromisoformat(row[0])
        except ValueError:
            raise RuleError(f"{info.name}: newest value {row[0]!r} is not a date") from None
        max_age = dt.timedelta(seconds=duration_seconds(rule.max_age))
        age = self.created_at - newest
        if info.kind == "date":
            shown = newest.date().isoformat()
        else:
            shown = newest.isoformat() + ("+00:00" if info.kind == "timestamptz" else "")
        if age > max_age:
            message = (
                f"{info.name}: newest value {shown} was {_age(age)} old when the version "
                f"was made, more than {rule.max_age}"
            )
            return RuleResult(rule=rule, passed=False, message=_label(rule) + message)
        when = f"{_age(age)} old" if age >= dt.timedelta(0) else f"{_age(-age)} in the future"
        message = f"{info.name}: newest value {shown} is {when}, within {rule.max_age}"
        return RuleResult(rule=rule, passed=True, message=_label(rule) + message)

    # -- row-level rules -----------------------------------------------------------------

    def condition(
        self, rule: NotNullRule | RangeRule | AllowedValuesRule | SqlRule, tag: str
    ) -> _Condition:
        """The rule's failing rows as SQL; its parameters are named ``<tag>_...``."""
        if isinstance(rule, NotNullRule):
            info = self.column(rule.column)
            return _Condition(
                sql=f"{info.sql} IS NULL",
                first=[info.name],
                describe=lambda n, _: f"{info.name}: {n:,} null {'value' if n == 1 else 'values'}",
                passed=f"{info.name}: no nulls",
            )
        if isinstance(rule, RangeRule):
            return self.range(rule, tag)
        if isinstance(rule, AllowedValuesRule):
            return self.allowed(rule, tag)
        return self.sql(rule)

    def range(self, rule: RangeRule, tag: str) -> _Condition:
        info = self.column(rule.column)
        params: dict[str, Any] = {}
        parts: list[str] = []
        column = info.sql
        if info.kind in NUMERIC:
            convert: Callable[[Any], Any] = _number_bound
            if info.kind == "float":
                parts.append(f"isnan({column})")
        elif info.kind == "string":
            convert = _string_bound
        elif info.kind in TEMPORAL:
            convert = _time_bound
            column = _as_utc(info)
        else:
            raise RuleError(
                f"{info.name} has type {self.type_of(info)}: a range needs numbers, text or times"
            )
        for name, bound, op in (("lo", rule.min, "<"), ("hi", rule.max, ">")):
            if bound is None:
                continue
            try:
                params[f"{tag}_{name}"] = convert(bound)
            except ValueError as exc:
                bound_name = "min" if name == "lo" else "max"
                raise RuleError(
                    f"{info.name} has type {self.type_of(info)}: range {bound_name} {exc}"
                ) from None
            param = f"${tag}_{name}"
            cast = f"CAST({param} AS TIMESTAMP)" if info.kind in TEMPORAL else param
            parts.append(f"{column} {op} {cast}")
        if rule.min is not None and rule.max is not None:
            where = f"outside [{_bound(rule.min)}, {_bound(rule.max)}]"
        elif rule.min is not None:
            where = f"below {_bound(rule.min)}"
        else:
            where = f"above {_bound(rule.max)}"

        def describe(n: int, examples: list[dict[str, Any]]) -> str:
            return f"{info.name}: {n:,} {'row' if n == 1 else 'rows'} {where}" + _eg(info, examples)

        return _Condition(
            sql=f"{info.sql} IS NOT NULL AND ({' OR '.join(parts)})",
            params=params,
            first=[info.name],
            describe=describe,
            passed=f"{info.name}: every value within [{_bound(rule.min)}, {_bound(rule.max)}]",
        )

    def allowed(self, rule: AllowedValuesRule, tag: str) -> _Condition:
        info = self.column(rule.column)
        column = info.sql
        convert: Callable[[Any], Any]
        if info.kind == "string":
            element, convert = "VARCHAR", _string_bound
            if info.type.startswith("ENUM"):
                column = f"CAST({info.sql} AS VARCHAR)"
        elif info.kind == "integer":
            element, convert = info.type, _integer_value
        elif info.kind in ("float", "decimal"):
            element, convert = "DOUBLE", _number_bound
            column = f"CAST({info.sql} AS DOUBLE)"
        elif info.kind == "boolean":
            element, convert = "BOOLEAN", _bool_value
        elif info.kind in TEMPORAL:
            element, convert = "TIMESTAMP", _time_bound
            column = _as_utc(info)
        else:
            raise RuleError(
                f"{info.name} has type {self.type_of(info)}: allowed_values does not apply"
            )
        values = []
        for value in rule.values:
            try:
                values.append(convert(value))
            except ValueError as exc:
                raise RuleError(
                    f"{info.name} has type {self.type_of(info)}: allowed value {exc}"
                ) from None
        count = len(set(values))

        def describe(n: int, examples: list[dict[str, Any]]) -> str:
            return (
                f"{info.name}: {n:,} {'row holds a value' if n == 1 else 'rows hold values'} "
                f"not among the {count:,} allowed" + _eg(info, examples)
            )

        return _Condition(
            sql=(
                f"{info.sql} IS NOT NULL AND {column} NOT IN "
                f"(SELECT unnest(CAST(${tag}_values AS {element}[])))"
            ),
            params={f"{tag}_values": values},
            first=[info.name],
            describe=describe,
            passed=f"{info.name}: every value is allowed",
        )

    def sql(self, rule: SqlRule) -> _Condition:
        expression = check_expression(rule.expression, "sql rule")
        import duckdb

        self.reads_only_data(rule.expression)
        try:
            relation = self.con.sql(f"SELECT ({expression}\n) FROM data")
        except duckdb.Error as exc:
            raise RuleError(f"sql rule {rule.expression[:200]!r}: {first_line(exc)}") from None
        result_type = relation.types[0]
        if result_type.id not in ("boolean", "null"):
            raise RuleError(
                f"sql rule {rule.expression[:200]!r} gives {result_type}, not true or false"
            )
        lowered = rule.expression.lower()
        mentioned = [name for name in self.infos if name.lower() in lowered]
        return _Condition(
            sql=f"({expression}\n) IS NOT TRUE",
            first=mentioned,
            describe=lambda n, _: (
                f"{n:,} {'row does' if n == 1 else 'rows do'} not satisfy {rule.expression[:200]}"
            ),
            passed=f"every row satisfies {rule.expression[:200]}",
        )

    def reads_only_data(self, expression: str) -> None:
        """Refuse an expression that reads any table but ``data``: no table functions
        (``read_csv``, ``read_parquet``...), no file names, no other views. The sandbox
        allows the folders of the version's files, which may hold other files."""
        query = f"SELECT 1 FROM data WHERE ({expression}\n)"
        row = fetch_one(self.con, "SELECT json_serialize_sql($q)", {"q": query})
        tree = json.loads(row[0]) if row and row[0] else {}
        for node in _nodes(tree):
            kind = node.get("type")
            if kind == "TABLE_FUNCTION":
                name = (node.get("function") or {}).get("function_name", "a table function")
                raise RuleError(
                    f"sql rule {expression[:200]!r} may only read the version's rows: "
                    f"it calls {name}"
                )
            if kind == "BASE_TABLE" and (
                str(node.get("table_name", "")).lower() != "data"
                or node.get("schema_name")
                or node.get("catalog_name")
            ):
                raise RuleError(
                    f"sql rule {expression[:200]!r} may only read the table data, "
                    f"not {node.get('table_name')!r}"
                )

    def bind(self, condition: _Condition) -> None:
        """Raise (a DuckDB error) unless the condition binds; nothing is read."""
        self.con.sql(_count_sql(condition), params=condition.params or None)

    def count(self, conditions: dict[int, _Condition]) -> dict[int, int | Exception]:
        """Failing rows per rule: in one scan, or rule by rule if that scan fails."""
        if not conditions:
            return {}
        aggregates: list[str] = []
        params: dict[str, Any] = {}
        for condition in conditions.values():
            aggregates.append(f"count(*) FILTER (WHERE {condition.sql})")
            params.update(condition.params)
        try:
            row = fetch_one(self.con, f"SELECT {', '.join(aggregates)} FROM data", params)
            return {n: int(v) for n, v in zip(conditions, row, strict=True)}
        except Exception:  # e.g. a conversion error in one rule's SQL: find which, below
            pass
        counts: dict[int, int | Exception] = {}
        for n, condition in conditions.items():
            try:
                row = fetch_one(self.con, _count_sql(condition), condition.params or None)
                counts[n] = int(row[0])
            except Exception as exc:
                counts[n] = exc
        return counts

    def row_result(self, rule: Rule, condition: _Condition, failing: int) -> RuleResult:
        if not failing:
            return RuleResult(
                rule=rule, passed=True, message=_label(rule) + condition.passed, failing_rows=0
            )
        examples = self.examples(condition)
        return RuleResult(
            rule=rule,
            passed=False,
            message=_label(rule) + condition.describe(failing, examples),
            failing_rows=failing,
            examples=examples,
        )

    def examples(self, condition: _Condition) -> list[dict[str, Any]]:
        names = list(dict.fromkeys([*condition.first, *self.infos]))[:EXAMPLE_COLUMNS]
        infos = [self.infos[n] for n in names]
        shown = ", ".join(i.shown(i.sql) for i in infos)
        try:
            rows = self.con.execute(
                f"SELECT {shown} FROM data WHERE {condition.sql} LIMIT {EXAMPLES}",
                condition.params or None,
            ).fetchall()
        except Exception:  # examples are a courtesy: the count already stands
            return []
        return [{i.name: i.value(v) for i, v in zip(infos, row, strict=True)} for row in rows]


def _count_sql(condition: _Condition) -> str:
    return f"SELECT count(*) FILTER (WHERE {condition.sql}) FROM data"


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``tree``."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _eg(info: ColumnInfo, examples: list[dict[str, Any]]) -> str:
    values = list(dict.fromkeys(_show(e.get(info.name), info.numeric) for e in examples))[:3]
    return f", e.g. {', '.join(values)}" if values else ""


def _as_utc(info: ColumnInfo) -> str:
    """A temporal column as a naive UTC TIMESTAMP."""
    if info.kind == "timestamptz":
        return f"timezone('UTC', {info.sql})"
    return f"CAST({info.sql} AS TIMESTAMP)"


def _number_bound(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None
    if math.isnan(number):
        raise ValueError(f"{value!r} is not a number")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _integer_value(value: Any) -> int:
    number = _number_bound(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return int(number)
    return number


def _string_bound(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text; give it as a string")
    return value


def _bool_value(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _time_bound(value: Any) -> str:
    """An ISO date or timestamp as naive UTC text DuckDB casts to TIMESTAMP."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date or timestamp; give it as an ISO string")
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date or timestamp") from None
    return _utc(moment).isoformat(sep=" ")


def _age(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes and not days:
        parts.append(f"{minutes}m")
    if not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)
