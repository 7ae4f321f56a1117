"""The run-search query language: parsing, canonical text, errors and round-trip properties."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.core.errors import InvalidInput
from dockyard.tracking.query import (
    ATTRIBUTES,
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
    QuerySyntaxError,
    field_text,
    parse_order_by,
    parse_query,
    unparse,
)

P, M, T = Field("param", "lr"), Field("metric", "loss"), Field("tag", "env")
STATUS = Field("attribute", "status")
a, b, c = Compare(P, "=", 1), Compare(M, "<", 0.5), Compare(T, "!=", "prod")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr = 1", a),
        ("metrics.loss < 0.5", b),
        ("tags.env != 'prod'", c),
        ("metrics.loss <= -2", Compare(M, "<=", -2)),
        ("metrics.loss > 1e-3", Compare(M, ">", 0.001)),
        ("metrics.loss >= -1.5E+2", Compare(M, ">=", -150.0)),
        ("metrics.loss = .5", Compare(M, "=", 0.5)),
        ("params.flag = true", Compare(Field("param", "flag"), "=", True)),
        ("params.flag = FALSE", Compare(Field("param", "flag"), "=", False)),
        ('params.lr = "1"', Compare(P, "=", "1")),
        ("params.lr IN (1, 'a', 2.5, true)", In(P, (1, "a", 2.5, True))),
        ("params.lr not in ('x')", In(P, ("x",), negated=True)),
        ("tags.env LIKE 'pr%'", Like(T, "pr%")),
        ("tags.env NOT LIKE '_x'", Like(T, "_x", negated=True)),
        ("tags.env ilike 'PR%'", Like(T, "PR%", case_insensitive=True)),
        ("tags.env Not ILike '%a'", Like(T, "%a", negated=True, case_insensitive=True)),
        ("status IS NULL", IsNull(STATUS)),
        ("status is not null", IsNull(STATUS, negated=True)),
        ("NOT params.lr = 1", Not(a)),
        ("not not params.lr = 1", Not(Not(a))),
    ],
)
def test_predicates(text: str, expected: Expr) -> None:
    assert parse_query(text) == expected


def test_precedence_and_parentheses() -> None:
    x, y, z = "params.lr = 1", "metrics.loss < 0.5", "tags.env != 'prod'"
    assert parse_query(f"{x} OR {y} AND {z}") == Or((a, And((b, c))))
    assert parse_query(f"{x} AND {y} OR {z}") == Or((And((a, b)), c))
    assert parse_query(f"({x} OR {y}) AND {z}") == And((Or((a, b)), c))
    assert parse_query(f"NOT {x} AND {y}") == And((Not(a), b))
    assert parse_query(f"NOT ({x} AND {y})") == Not(And((a, b)))
    assert parse_query(f"{x} AND ({y} AND {z})") == And((a, b, c))
    assert parse_query(f"(({x}) OR ({y} OR {z}))") == Or((a, b, c))
    assert parse_query(f"{x}\n\tand {y}") == And((a, b))


def test_fields_aliases_backticks_and_aggregates() -> None:
    def field(text: str) -> Field:
        expr = parse_query(f"{text} IS NULL")
        assert isinstance(expr, IsNull)
        return expr.field

    for alias in ("params", "param", "PARAMS"):
        assert field(f"{alias}.lr") == P
    for alias in ("metrics", "metric"):
        assert field(f"{alias}.loss") == Field("metric", "loss", "last")
    assert field("tag.env") == field("tags.env") == T
    for alias in ("attributes", "attribute", "attr", "run"):
        assert field(f"{alias}.status") == STATUS
    assert field("status") == field("Status") == field("attributes.`status`") == STATUS
    assert field("params.my-key_2") == Field("param", "my-key_2")
    assert field("params.`my key.with dots/:`") == Field("param", "my key.with dots/:")
    assert field("params.and") == Field("param", "and")  # keywords are plain keys after a dot
    assert field("note") == Field("attribute", "note")  # not NOT followed by e
    assert field("min(metrics.loss)") == Field("metric", "loss", "min")
    assert field("MAX(metric.`val.loss`)") == Field("metric", "val.loss", "max")
    assert field("last(metrics.loss)") == field("metrics.loss") == M
    assert Field("metric", "loss").agg == "last"
    with pytest.raises(ValueError, match="only to metrics"):
        Field("param", "lr", "min")


def test_strings_escapes_and_numbers() -> None:
    def value(text: str) -> object:
        expr = parse_query(f"params.x = {text}")
        assert isinstance(expr, Compare)
        return expr.value

    assert value(r"'it\'s'") == "it's"
    assert value(r'"say \"hi\""') == 'say "hi"'
    assert value(r"'back\\slash'") == "back\\slash"
    assert value(r"'C:\dir'") == "C:\\dir"  # other backslashes are kept
    assert value("'a\"b'") == 'a"b'
    assert value("''") == ""
    for text, number in [("3", 3), ("-3", -3), ("3.0", 3.0), ("1e3", 1000.0), ("-0.25", -0.25)]:
        assert value(text) == number
        assert type(value(text)) is type(number)


def test_blank_query_and_unparse() -> None:
    assert parse_query("") is None
    assert parse_query(" \n\t ") is None
    expr = Or((And((a, Not(Or((b, c))))), Like(T, "it's%", True, True), In(M, (1, 2.5), True)))
    text = unparse(expr)
    assert text == (
        "params.lr = 1 AND NOT (metrics.loss < 0.5 OR tags.env != 'prod') OR "
        r"tags.env NOT ILIKE 'it\'s%' OR metrics.loss NOT IN (1, 2.5)"
    )
    assert parse_query(text) == expr
    assert field_text(Field("metric", "val.loss", "max")) == "max(metrics.`val.loss`)"
    assert field_text(STATUS) == "attributes.status"
    with pytest.raises(ValueError):
        field_text(Field("param", "a`b"))


def test_order_by() -> None:
    assert parse_order_by("metrics.auc DESC, params.lr, attributes.start_time asc") == [
        OrderBy(Field("metric", "auc"), descending=True),
        OrderBy(P),
        OrderBy(Field("attribute", "start_time")),
    ]
    assert parse_order_by("min(metrics.loss) desc, name") == [
        OrderBy(Field("metric", "loss", "min"), True),
        OrderBy(Field("attribute", "name")),
    ]
    assert parse_order_by("  ") == []


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("(params.lr = 1", 14, "expected ')'"),
        ("params.lr = 1 )", 14, "unexpected ')' at position 14: expected AND, OR or the end"),
        ("params.lr = 1 params.x = 2", 14, "expected AND, OR or the end"),
        ("params.lr = )", 12, "unexpected ')' at position 12: expected a value (number, 'string'"),
        ("params.lr =", 11, "unexpected end of query at position 11: expected a value"),
        ("params.lr", 9, "expected an operator (=, !="),
        ("params.lr == 1", 10, "unknown operator '==' at position 10: expected =, !=, <"),
        ("params.lr <> 1", 10, "unknown operator '<>'"),
        ("foo.bar = 1", 0, "unknown namespace 'foo' at position 0: expected params, metrics"),
        ("params.x = 1 AND colour = 2", 17, "unknown attribute 'colour' at position 17"),
        ("attributes.colour = 2", 11, "expected one of run_id, name, status"),
        ("min(params.lr) = 1", 4, "min() of a param at position 4: expected min, max or last"),
        ("avg(metrics.loss) = 1", 0, "unknown aggregate 'avg' at position 0: expected min, max"),
        ("metrics.loss = 'low'", 15, "string 'low' for a metric at position 15: metrics are num"),
        ("metrics.loss IN (1, 'a')", 20, "metrics are numbers"),
        ("metrics.loss LIKE '1%'", 18, "metrics are numbers"),
        ("params.lr IN ()", 13, "empty IN list at position 13: expected at least one value"),
        ("tags.env LIKE 5", 14, "unexpected '5' at position 14: expected a 'string'"),
        ("tags.env = 'prod", 11, "unterminated string at position 11: expected a closing '"),
        ('tags.env = "prod', 11, 'expected a closing "'),
        ("params.`a b = 1", 7, "unterminated `quoted key` at position 7: expected a closing `"),
        ("params. = 1", 8, "expected a key (a name or a `quoted key`)"),
        ("params.lr = 1 AND", 17, "unexpected end of query at position 17: expected a field"),
        ("status notin ('x')", 7, "unexpected 'notin' at position 7: expected an operator"),
        ("params.lr = #", 12, "unexpected '#' at position 12: expected a value"),
        ("params.lr = 1e999", 12, "number 1e999 out of range at position 12"),
        ("x" * 10_001, 10_000, "query too long at position 10000: expected at most 10000"),
        ("NOT " * 101 + "status IS NULL", 400, "nested too deeply at position 400"),
    ],
)
def test_errors(text: str, position: int, expected: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text)
    error = info.value
    assert (error.position, error.text) == (position, text)
    assert error.details == {"position": position, "query": text}
    assert expected in error.message
    assert isinstance(error, InvalidInput) and error.code == "invalid_query"
    first, shown, caret = error.message.split("\n")
    assert f"at position {position}:" in first
    assert (shown + " ")[caret.index("^")] == (text + " ")[position]


def test_error_messages_avoid_lark_names_and_order_by_errors() -> None:
    for text in ["(", "params.lr = 1 )", "params.lr IN (1", "params.", "params.lr IS", "max("]:
        with pytest.raises(QuerySyntaxError) as info:
            parse_query(text)
        assert not any(name in info.value.message for name in ("RPAR", "__ANON", "$END", "NAME"))
    with pytest.raises(QuerySyntaxError, match="at position 10: expected a field"):
        parse_order_by("metrics.a,")
    with pytest.raises(
        QuerySyntaxError, match="unexpected 'desc' at position 10: expected ',' or the end"
    ):
        parse_order_by("name desc desc")
    with pytest.raises(QuerySyntaxError, match="unknown attribute"):
        parse_order_by("bogus")
    rebuilt = QuerySyntaxError("bad", details={"position": 3, "query": "abcd"})
    assert (rebuilt.position, rebuilt.text) == (3, "abcd")


# --- properties ---------------------------------------------------------------------------

keys = st.text(min_size=1, max_size=8).filter(lambda key: "`" not in key)
plain_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True)
any_keys = plain_keys | keys | st.sampled_from(["and", "not", "in", "true", "null", "desc"])
metric_fields = st.builds(
    Field, st.just("metric"), any_keys, st.sampled_from(["last", "min", "max"])
)
text_fields = st.builds(Field, st.sampled_from(["param", "tag"]), any_keys) | st.builds(
    Field, st.just("attribute"), st.sampled_from(ATTRIBUTES)
)
# integers as the database compares them (64 bits); larger literals are syntax errors
numbers = st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
scalars = numbers | st.booleans()
ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])


@st.composite
def predicates(draw: st.DrawFn) -> Expr:
    metric = draw(st.booleans())
    field = draw(metric_fields if metric else text_fields)
    value = scalars if metric else scalars | st.text(max_size=6)
    kind = draw(st.sampled_from(["compare", "in", "like", "null"]))
    negated = draw(st.booleans())
    if kind == "compare":
        return Compare(field, draw(ops), draw(value))
    if kind == "in":
        return In(field, tuple(draw(st.lists(value, min_size=1, max_size=3))), negated)
    if kind == "like" and not metric:
        return Like(field, draw(st.text(max_size=6)), negated, draw(st.booleans()))
    return IsNull(field, negated)


def _flat(kind: type[And] | type[Or], items: list[Expr]) -> Expr:
    return kind(tuple(p for i in items for p in (i.items if isinstance(i, kind) else [i])))


expressions = st.recursive(
    predicates(),
    lambda inner: (
        st.builds(Not, inner)
        | st.lists(inner, min_size=2, max_size=3).map(lambda items: _flat(And, items))
        | st.lists(inner, min_size=2, max_size=3).map(lambda items: _flat(Or, items))
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(expressions)
def test_unparse_round_trips(expr: Expr) -> None:
    parsed = parse_query(unparse(expr))
    assert parsed == expr
    assert repr(parsed) == repr(expr)  # also tells 1 from 1.0 and True from 1


@settings(max_examples=300, deadline=None)
@given(st.lists(metric_fields | text_fields, max_size=3), st.lists(st.booleans(), max_size=3))
def test_order_by_round_trips(fields: list[Field], descending: list[bool]) -> None:
    wanted = [OrderBy(f, d) for f, d in zip(fields, descending, strict=False)]
    text = ", ".join(field_text(o.field) + (" DESC" if o.descending else "") for o in wanted)
    assert parse_order_by(text) == wanted


fragments = st.sampled_from(
    ["params.lr", "metrics.`a b`", "max(", "foo.", "status", "(", ")", " AND ", " OR ", "NOT ",
     " IN ", " LIKE ", " IS ", "NULL", "=", "==", "<", "'s", "'s'", '"', "`", "1", "-2.5e3",
     "1e999", ",", ".", " ", "true", "\\", "desc"]
)  # fmt: skip


def _check_fails_cleanly(parse: Callable[[str], object], text: str) -> None:
    try:
        parse(text)
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert error.message.count("\n") == 2


@settings(max_examples=300, deadline=None)
@given(st.text() | st.lists(fragments, max_size=12).map("".join))
def test_only_query_syntax_errors(text: str) -> None:
    _check_fails_cleanly(parse_query, text)
    _check_fails_cleanly(parse_order_by, text)
