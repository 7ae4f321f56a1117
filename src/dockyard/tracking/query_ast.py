"""The AST of the query language that searches tracked runs (no parser: see
:mod:`dockyard.tracking.query`), so that compiling a query to SQL does not load lark."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from dockyard.core.errors import InvalidQuery

Kind = Literal["param", "metric", "tag", "attribute"]
Agg = Literal["last", "min", "max"]
Value = str | float | int | bool

MAX_QUERY_LENGTH = 10_000  # characters in a query or order-by clause
MAX_DEPTH = 100  # levels of NOT, AND, OR and parentheses
ATTRIBUTES = (
    "run_id", "name", "status", "user", "note", "experiment", "project",
    "parent_id", "start_time", "end_time", "duration",
)  # fmt: skip
"""Run attributes a query may name, as ``attributes.NAME`` or a bare ``NAME``."""
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")  # of ``field op value``

_PREFIXES = {"param": "params", "metric": "metrics", "tag": "tags", "attribute": "attributes"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class QuerySyntaxError(InvalidQuery):
    """A query that cannot be parsed; ``position`` (0-based) and ``text`` are in ``details``."""


@dataclass(frozen=True)
class Field:
    """A param, metric or tag by key, or a run attribute; ``agg`` is for metrics (default last)."""

    kind: Kind
    key: str
    agg: Agg | None = None

    def __post_init__(self) -> None:
        if self.kind == "metric" and self.agg is None:
            object.__setattr__(self, "agg", "last")
        elif self.kind != "metric" and self.agg is not None:
            raise ValueError(f"aggregates apply only to metrics, not to a {self.kind}")


@dataclass(frozen=True)
class Compare:
    """``field op value``, ``op`` being one of ``OPERATORS``."""

    field: Field
    op: str
    value: Value


@dataclass(frozen=True)
class In:
    """``field [NOT] IN (value, ...)``."""

    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    """``field [NOT] LIKE|ILIKE 'pattern'``; the SQL pattern (``%``, ``_``) is kept as given."""

    field: Field
    pattern: str
    negated: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True)
class IsNull:
    """``field IS [NOT] NULL``."""

    field: Field
    negated: bool = False


@dataclass(frozen=True)
class And:
    """All of ``items`` hold (the parser gives two or more, none of them an ``And``)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """One of ``items`` holds (the parser gives two or more, none of them an ``Or``)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """``item`` does not hold."""

    item: Expr


Expr = Compare | In | Like | IsNull | And | Or | Not


@dataclass(frozen=True)
class OrderBy:
    """One sort key of an order-by clause."""

    field: Field
    descending: bool = False


def field_text(field: Field) -> str:
    """The canonical text of a field: ``params.lr``, ``max(metrics.auc)``, ``attributes.name``.

    Raises ValueError for a key the language cannot write (empty, or holding a backtick).
    """
    if not field.key or "`" in field.key:
        raise ValueError(f"key {field.key!r} cannot be written in a query")
    key = field.key if _IDENTIFIER.fullmatch(field.key) else f"`{field.key}`"
    text = f"{_PREFIXES[field.kind]}.{key}"
    return text if field.agg in (None, "last") else f"{field.agg}({text})"


def unparse(expr: Expr) -> str:
    """Canonical text for ``expr``; ``parse_query`` reads it back to an equal AST.

    That holds for every AST the parser gives (not for, say, an empty ``In`` or an infinite float).
    """
    match expr:
        case Compare(field, op, value):
            return f"{field_text(field)} {op} {_value_text(value)}"
        case In(field, values, negated):
            listed = ", ".join(_value_text(value) for value in values)
            return f"{field_text(field)} {'NOT IN' if negated else 'IN'} ({listed})"
        case Like(field, pattern, negated, case_insensitive):
            operator = ("NOT " if negated else "") + ("ILIKE" if case_insensitive else "LIKE")
            return f"{field_text(field)} {operator} {_value_text(pattern)}"
        case IsNull(field, negated):
            return f"{field_text(field)} IS {'NOT ' if negated else ''}NULL"
        case And(items):
            return " AND ".join(_wrapped(item, (And, Or)) for item in items)
        case Or(items):
            return " OR ".join(_wrapped(item, (Or,)) for item in items)
        case Not(item):
            return "NOT " + _wrapped(item, (And, Or))
    raise TypeError(f"not a query expression: {expr!r}")


def _wrapped(expr: Expr, kinds: tuple[type[And | Or], ...]) -> str:
    return f"({unparse(expr)})" if isinstance(expr, kinds) else unparse(expr)


def _value_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)
