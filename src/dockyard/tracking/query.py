"""The query language that searches tracked runs: a lark grammar, a typed AST and its errors.

``parse_query("metrics.loss < 0.1 AND params.opt IN ('adam', 'sgd')")`` gives frozen dataclasses
that the store compiles to SQL (which checks values against columns, but metrics are numbers).
"""

from __future__ import annotations

import functools
import math
import re

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from dockyard.core.schemas import INT64_MAX, INT64_MIN
from dockyard.tracking.query_ast import (
    ATTRIBUTES,
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    OPERATORS,
    Agg,
    And,
    Compare,
    Expr,
    Field,
    In,
    IsNull,
    Kind,
    Like,
    Not,
    Or,
    OrderBy,
    QuerySyntaxError,
    Value,
    field_text,
    unparse,
)

__all__ = [
    "ATTRIBUTES",
    "MAX_DEPTH",
    "MAX_QUERY_LENGTH",
    "OPERATORS",
    "Agg",
    "And",
    "Compare",
    "Expr",
    "Field",
    "In",
    "IsNull",
    "Kind",
    "Like",
    "Not",
    "Or",
    "OrderBy",
    "QuerySyntaxError",
    "Value",
    "field_text",
    "parse_order_by",
    "parse_query",
    "unparse",
]

_NAMESPACES: dict[str, Kind] = {
    "params": "param", "param": "param", "metrics": "metric", "metric": "metric",
    "tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute",
    "attr": "attribute", "run": "attribute",
}  # fmt: skip
_AGGS: dict[str, Agg] = {"last": "last", "min": "min", "max": "max"}
_QUOTED = re.compile(r"`[^`]+`|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.S)
_UNESCAPE = re.compile(r"\\([\\'\"])")
_OPS = "=, !=, <, <=, > or >="
_NUMBERS = "metrics are numbers"
_SPACES = "params, metrics, tags or attributes"
_AGG_WORDS = "expected min, max or last of metrics.KEY (aggregates apply only to metrics)"

GRAMMAR = r"""
query: or_expr
order_by: order_item ("," order_item)*
order_item: field (ASC | DESC)?

?or_expr: and_expr (OR and_expr)*
?and_expr: not_expr (AND not_expr)*
?not_expr: NOT not_expr -> negation
         | "(" or_expr ")" -> group
         | predicate
predicate: field OP value -> compare
         | field NOT? IN in_list -> in_
         | field NOT? (LIKE | ILIKE) STRING -> like
         | field IS NOT? NULL -> is_null
!in_list: "(" (value ("," value)*)? ")"
?value: NUMBER | STRING | TRUE | FALSE
?field: ref
      | NAME "(" ref ")" -> aggregate
ref: NAME ("." (NAME | QKEY))?

// Keywords are case-insensitive and must not run into an identifier ("notes" is a name).
OR.2: /or(?![A-Za-z0-9_-])/i
AND.2: /and(?![A-Za-z0-9_-])/i
NOT.2: /not(?![A-Za-z0-9_-])/i
IN.2: /in(?![A-Za-z0-9_-])/i
LIKE.2: /like(?![A-Za-z0-9_-])/i
ILIKE.2: /ilike(?![A-Za-z0-9_-])/i
IS.2: /is(?![A-Za-z0-9_-])/i
NULL.2: /null(?![A-Za-z0-9_-])/i
TRUE.2: /true(?![A-Za-z0-9_-])/i
FALSE.2: /false(?![A-Za-z0-9_-])/i
ASC.2: /asc(?![A-Za-z0-9_-])/i
DESC.2: /desc(?![A-Za-z0-9_-])/i
OP: /[=!<>]+/
NUMBER: /-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/
STRING: /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/s
QKEY: /`[^`]+`/
NAME: /[A-Za-z_][A-Za-z0-9_-]*/
%ignore /\s+/
"""
"""The lark grammar (LALR(1)): start symbol ``query`` for filters, ``order_by`` for sorting.

``OP`` takes any run of ``=!<>``, so that ``==`` is reported as an unknown operator."""

_OPERATOR_WORDS = "=, !=, <, <=, >, >=, [NOT] IN, [NOT] LIKE, [NOT] ILIKE, IS [NOT] NULL"
_GROUPS = (  # plain words for sets of terminals, listed first; keywords keep their names
    ({"NUMBER", "STRING", "TRUE", "FALSE"}, "a value (number, 'string', true or false)"),
    ({"OP", "IN", "NOT", "LIKE", "ILIKE", "IS"}, f"an operator ({_OPERATOR_WORDS})"),
    ({"NAME", "QKEY"}, "a key (a name or a `quoted key`)"),
    ({"NAME"}, "a field (e.g. params.lr, metrics.loss or status)"),
    ({"STRING"}, "a 'string'"),
)
_PUNCTUATION = {"LPAR": "'('", "DOT": "'.'", "COMMA": "','", "RPAR": "')'"}


def parse_query(text: str) -> Expr | None:
    """Parse a search filter; a blank one gives ``None``. Raises QuerySyntaxError."""
    if not text.strip():
        return None
    return _Builder(text).expr(_parse(text, "query").children[0], 1)


def parse_order_by(text: str) -> list[OrderBy]:
    """Parse ``field [ASC|DESC], ...``; a blank clause gives ``[]``. Raises QuerySyntaxError."""
    if not text.strip():
        return []
    builder, keys = _Builder(text), []
    for item in _parse(text, "order_by").children:
        assert isinstance(item, Tree)
        descending = len(item.children) == 2 and _token(item.children[1]).type == "DESC"
        keys.append(OrderBy(builder.field(item.children[0]), descending))
    return keys


@functools.cache
def _parser(start: str) -> Lark:
    # One LALR table per start symbol, built on first use (tens of milliseconds).
    return Lark(GRAMMAR, parser="lalr", start=start, propagate_positions=True)


def _token(node: Tree[Token] | Token) -> Token:
    assert isinstance(node, Token)
    return node


def _error(text: str, position: int, problem: str, expected: str) -> QuerySyntaxError:
    start, end = max(0, position - 40), min(len(text), position + 40)
    before, after = ("..." if start else ""), ("..." if end < len(text) else "")
    shown = "".join(c if c.isprintable() else " " for c in text[start:end])
    caret = " " * (len(before) + position - start) + "^"
    message = f"{problem} at position {position}: {expected}\n  {before}{shown}{after}\n  {caret}"
    return QuerySyntaxError(message, details={"position": position, "query": text})


def _parse(text: str, start: str) -> Tree[Token]:
    limit = MAX_QUERY_LENGTH
    if len(text) > limit:
        raise _error(text, limit, "query too long", f"expected at most {limit} characters")
    try:
        return _parser(start).parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, start, exc) from None


def _syntax_error(text: str, start: str, exc: UnexpectedInput) -> QuerySyntaxError:
    token = exc.token if isinstance(exc, UnexpectedToken) else None
    if isinstance(exc, UnexpectedCharacters):
        position = exc.pos_in_stream or 0
        if text[position] in "'\"`" and not _QUOTED.match(text, position):
            what = "`quoted key`" if text[position] == "`" else "string"
            return _error(
                text, position, f"unterminated {what}", f"expected a closing {text[position]}"
            )
        word = re.compile(r"[A-Za-z0-9_.-]+|\S").match(text, position)
        found = _shown(word.group() if word else text[position])
    elif token is None or token.type == "$END":
        found, position = "end of query", len(text)
    else:
        found, position = _shown(token.value), token.start_pos or 0
    try:  # the terminals the parser accepts there, exactly (lark's sets are LALR-merged)
        parser = _parser(start).parse_interactive(text[:position])
        parser.exhaust_lexer()
        expected: set[str] = parser.accepts()  # type: ignore[no-untyped-call]
    except UnexpectedInput:  # cannot happen: that prefix was parsed once already
        expected = set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    return _error(text, position, f"unexpected {found}", _expected(expected))


def _shown(value: str) -> str:
    value = value if len(value) <= 40 else value[:37] + "..."
    if not value.isprintable():
        return repr(value)
    return value if value[:1] in ("'", '"', "`") else f"'{value}'"


def _expected(names: set[str]) -> str:
    phrases = []
    for group, words in _GROUPS:
        if group <= names:
            phrases.append(words)
            names = names - group
    phrases += [words for name, words in _PUNCTUATION.items() if name in names]
    phrases += sorted(names - _PUNCTUATION.keys() - {"$END"})
    phrases += ["the end of the query"] if "$END" in names else []
    if len(phrases) < 2:
        return "expected " + (phrases[0] if phrases else "nothing more")
    return "expected " + ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _flat(items: list[Expr], kind: type[And | Or]) -> tuple[Expr, ...]:
    return tuple(
        part for item in items for part in (item.items if isinstance(item, kind) else [item])
    )


class _Builder:
    """Turns a lark parse tree into the AST, with the checks the grammar cannot make."""

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, node: Tree[Token] | Token, problem: str, expected: str) -> QuerySyntaxError:
        position = node.start_pos if isinstance(node, Token) else node.meta.start_pos
        return _error(self.text, position or 0, problem, expected)

    def expr(self, node: Tree[Token] | Token, depth: int) -> Expr:
        assert isinstance(node, Tree)
        if depth > MAX_DEPTH:
            levels = f"expected at most {MAX_DEPTH} levels of NOT, AND, OR and parentheses"
            raise self.fail(node, "query nested too deeply", levels)
        if node.data == "negation":
            return Not(self.expr(node.children[-1], depth + 1))
        if node.data == "group":  # parentheses are a level of their own
            return self.expr(node.children[0], depth + 1)
        if node.data in ("and_expr", "or_expr"):
            items = [self.expr(c, depth + 1) for c in node.children if isinstance(c, Tree)]
            return And(_flat(items, And)) if node.data == "and_expr" else Or(_flat(items, Or))
        return self.predicate(node)

    def predicate(self, node: Tree[Token]) -> Expr:
        field, rule = self.field(node.children[0]), node.data
        tokens = [child for child in node.children[1:] if isinstance(child, Token)]
        negated = any(token.type == "NOT" for token in tokens)
        if rule == "compare":
            op = tokens[0]
            if op.value not in OPERATORS:
                raise self.fail(op, f"unknown operator '{op.value}'", "expected " + _OPS)
            return Compare(field, op.value, self.value(tokens[1], field))
        if rule == "in_":
            listed = node.children[-1]
            assert isinstance(listed, Tree)
            values = [t for t in map(_token, listed.children) if t.type not in _PUNCTUATION]
            if not values:
                raise self.fail(listed, "empty IN list", "expected at least one value")
            return In(field, tuple(self.value(token, field) for token in values), negated)
        if rule == "like":
            pattern = str(self.value(tokens[-1], field))
            return Like(field, pattern, negated, case_insensitive=tokens[-2].type == "ILIKE")
        return IsNull(field, negated)

    def value(self, token: Token, field: Field) -> Value:
        if token.type == "STRING":
            if field.kind == "metric":
                raise self.fail(token, f"string {_shown(token.value)} for a metric", _NUMBERS)
            return _UNESCAPE.sub(r"\1", token.value[1:-1])
        if token.type in ("TRUE", "FALSE"):
            return token.type == "TRUE"
        try:
            is_float = any(c in token.value for c in ".eE")
            number: float | int = float(token.value) if is_float else int(token.value)
        except ValueError:  # an int of more digits than Python converts
            number = math.inf
        if not math.isfinite(number):
            raise self.fail(token, f"number {token.value[:40]} out of range", "expected less")
        if isinstance(number, int) and not INT64_MIN <= number <= INT64_MAX:
            raise self.fail(
                token,
                f"integer {token.value[:40]} out of range",
                "expected an integer of at most 64 bits (write larger numbers as 1e20)",
            )
        return number

    def field(self, node: Tree[Token] | Token) -> Field:
        assert isinstance(node, Tree)
        if node.data == "aggregate":
            name, ref = _token(node.children[0]), node.children[1]
            agg = _AGGS.get(name.value.lower())
            if agg is None:
                raise self.fail(name, f"unknown aggregate {_shown(name.value)}", _AGG_WORDS)
            inner = self.field(ref)
            if inner.kind != "metric":
                raise self.fail(ref, f"{agg}() of a {inner.kind}", _AGG_WORDS)
            return Field("metric", inner.key, agg)
        first = _token(node.children[0])
        kind = _NAMESPACES.get(first.value.lower()) if len(node.children) == 2 else "attribute"
        if kind is None:
            raise self.fail(first, f"unknown namespace '{first.value}'", "expected " + _SPACES)
        token = _token(node.children[-1])
        key = token.value[1:-1] if token.type == "QKEY" else token.value
        if kind == "attribute" and key.lower() not in ATTRIBUTES:
            known = f"expected one of {', '.join(ATTRIBUTES)} (or params.KEY, tags.KEY, ...)"
            raise self.fail(token, f"unknown attribute {_shown(token.value)}", known)
        return Field(kind, key.lower() if kind == "attribute" else key)
