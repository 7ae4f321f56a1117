"""validate(): every rule kind passing and failing, rules that cannot be evaluated, edge cases."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import TypeAdapter

from dockyard.data.duck import sandbox
from dockyard.data.schemas import Column, Rule, RuleResult, ValidationReport
from dockyard.data.validation import normalize_type, validate

RULES = TypeAdapter(list[Rule])
CREATED = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
N = 1000


def orders_table() -> tuple[pa.Table, pd.DataFrame]:
    rng = np.random.default_rng(3)
    amount = rng.uniform(0, 10_000, N)
    amount[[3, 50, 700]] = [-5.0, 12_000.0, -0.5]
    amount[[10, 11]] = np.nan
    amount_null = np.zeros(N, bool)
    amount_null[[20, 21, 22, 23]] = True
    countries = rng.choice(["FR", "DE", "US"], N).astype(object)
    countries[[5, 6]] = "XX"
    countries[7] = None
    base = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    created = [base + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 40_000, N)]
    created[100] = dt.datetime(2024, 2, 29, 18, 0, tzinfo=dt.UTC)  # the newest
    days = [c.date() for c in created]
    table = pa.table(
        {
            "id": pa.array(np.arange(N), pa.int64()),
            "amount": pa.array(amount, pa.float64(), mask=amount_null),
            "country": pa.array(countries, pa.string()),
            "paid": pa.array(rng.random(N) < 0.5, pa.bool_()),
            "created": pa.array(created, pa.timestamp("us", tz="UTC")),
            "day": pa.array(days, pa.date32()),
            "local": pa.array([c.replace(tzinfo=None) for c in created], pa.timestamp("ns")),
            "price": pa.array([decimal.Decimal(i) / 4 for i in range(N)], pa.decimal128(10, 2)),
            "tags": pa.array([["a"]] * N, pa.list_(pa.string())),
            'odd "name" é': pa.array(np.arange(N) % 7, pa.int32()),
        }
    )
    frame = pd.DataFrame(
        {
            "amount": pd.Series(amount).where(~amount_null),
            "amount_null": amount_null,
            "country": countries,
            "created": created,
        }
    )
    return table, frame


@pytest.fixture(scope="module")
def orders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table, pd.DataFrame]:
    table, frame = orders_table()
    root = tmp_path_factory.mktemp("orders")
    path = root / "part-0.parquet"
    pq.write_table(table, path)
    # a file next to the version's file, which rules must not be able to read
    (root / "secret.csv").write_text("password\nhunter2\n")
    return path, table, frame


def run(
    path: Path | list[Path],
    table: pa.Table,
    rules: list[dict[str, Any]],
    created_at: dt.datetime = CREATED,
) -> ValidationReport:
    paths = path if isinstance(path, list) else [path]
    columns = [Column(name=f.name, type=str(f.type)) for f in table.schema]
    with sandbox(paths) as con:
        report = validate(con, RULES.validate_python(rules), columns, table.num_rows, created_at)
    check_json(report)
    return report


def check_json(report: ValidationReport) -> None:
    def refuse(token: str) -> None:
        raise AssertionError(f"non-finite {token} in the report")

    json.loads(report.model_dump_json(), parse_constant=refuse)
    for result in report.results:
        assert len(result.examples) <= 5
        json.dumps(result.examples, allow_nan=False)


def one(orders: tuple[Path, pa.Table, pd.DataFrame], rule: dict[str, Any]) -> RuleResult:
    path, table, _ = orders
    report = run(path, table, [rule])
    assert len(report.results) == 1
    assert report.passed == report.results[0].passed
    return report.results[0]


# -- column ----------------------------------------------------------------------------


def test_column_present_and_typed(orders: Any) -> None:
    assert one(orders, {"check": "column", "column": "amount"}).passed
    for alias in ("double", "float64", " Float64 ", "f8"):
        assert one(orders, {"check": "column", "column": "amount", "type": alias}).passed, alias
    assert one(orders, {"check": "column", "column": "id", "type": "i8"}).passed
    assert one(orders, {"check": "column", "column": "country", "type": "utf8"}).passed
    assert one(orders, {"check": "column", "column": "created", "type": "timestamp[us, tz=UTC]"})
    assert one(orders, {"check": "column", "column": "price", "type": "decimal128(10,2)"}).passed


def test_column_rule_failures(orders: Any) -> None:
    result = one(orders, {"check": "column", "column": "amuont"})
    assert not result.passed
    assert "'amuont' does not exist" in result.message
    assert "did you mean 'amount'" in result.message
    result = one(orders, {"check": "column", "column": "amount", "type": "int64"})
    assert not result.passed
    assert result.message == "amount has type double, not int64"


def test_normalize_type() -> None:
    assert normalize_type("float64") == normalize_type("double") == "double"
    assert normalize_type("utf8") == "string"
    assert normalize_type("large_utf8") == "large_string"
    assert normalize_type("list<item: int64>") == "list<item: int64>"
    assert normalize_type("date32") == normalize_type("date32[day]")


# -- not_null --------------------------------------------------------------------------


def test_not_null(orders: Any) -> None:
    _, _, frame = orders
    assert one(orders, {"check": "not_null", "column": "id"}).passed
    result = one(orders, {"check": "not_null", "column": "amount"})
    assert not result.passed
    assert result.failing_rows == int(frame["amount_null"].sum()) == 4
    assert result.message == "amount: 4 null values"
    assert len(result.examples) == 4
    assert all(e["amount"] is None for e in result.examples)
    assert next(iter(result.examples[0])) == "amount"  # the rule's column comes first
    assert {e["id"] for e in result.examples} == {20, 21, 22, 23}


# -- range -----------------------------------------------------------------------------


def test_range_numbers(orders: Any) -> None:
    _, _, frame = orders
    amount = frame["amount"]
    outside = int(((amount < 0) | (amount > 10_000) | amount.isna() & ~frame["amount_null"]).sum())
    result = one(orders, {"check": "range", "column": "amount", "min": 0, "max": 10_000})
    assert not result.passed
    assert result.failing_rows == outside == 5  # -5, 12000, -0.5 and two NaN
    assert result.message.startswith("amount: 5 rows outside [0, 10000], e.g. ")
    shown = {e["amount"] for e in result.examples}
    assert shown == {-5.0, 12_000.0, -0.5, "NaN"}

    result = one(orders, {"check": "range", "column": "amount", "min": 0})
    assert result.failing_rows == 4  # -5, -0.5 and the NaN
    assert "below 0" in result.message
    result = one(orders, {"check": "range", "column": "amount", "max": 10_000.0})
    assert result.failing_rows == 3  # 12000 and the NaN
    assert "above 10000.0" in result.message
    assert one(orders, {"check": "range", "column": "id", "min": 0, "max": N - 1}).passed
    assert one(orders, {"check": "range", "column": "id", "min": "0"}).passed
    result = one(orders, {"check": "range", "column": "id", "min": 0.5, "max": 998.5})
    assert result.failing_rows == 2
    assert one(orders, {"check": "range", "column": "price", "min": 0, "max": N / 4}).passed
    result = one(orders, {"check": "range", "column": "price", "max": 10})
    assert result.failing_rows == sum(1 for i in range(N) if i / 4 > 10)


def test_range_text_and_times(orders: Any) -> None:
    _, _, frame = orders
    result = one(orders, {"check": "range", "column": "country", "min": "DE", "max": "US"})
    assert not result.passed
    assert result.failing_rows == int((frame["country"] == "XX").sum()) == 2
    assert result.message == "country: 2 rows outside ['DE', 'US'], e.g. 'XX'"

    created = pd.Series(frame["created"])
    cutoff = dt.datetime(2024, 2, 15, tzinfo=dt.UTC)
    before = int((created < cutoff).sum())
    for column in ("created", "local"):
        for bound in ("2024-02-15", "2024-02-15T00:00:00Z", "2024-02-15T01:00:00+01:00"):
            rule = {"check": "range", "column": column, "min": bound}
            result = one(orders, rule)
            assert result.failing_rows == before, (column, bound)
    result = one(orders, {"check": "range", "column": "created", "min": "2024-02-15"})
    assert all(e["created"] < "2024-02-15" for e in result.examples)
    assert result.examples[0]["created"].endswith("+00:00")
    days = pd.Series([c.date() for c in frame["created"]])
    rule = {"check": "range", "column": "day", "max": "2024-02-20"}
    assert one(orders, rule).failing_rows == int((days > dt.date(2024, 2, 20)).sum())
    rule = {"check": "range", "column": "created", "min": "2024-01-01", "max": "2024-12-31"}
    assert one(orders, rule).passed


def test_range_that_cannot_be_evaluated(orders: Any) -> None:
    cases = [
        ({"column": "amount", "min": "lots"}, "amount has type double: range min 'lots' is not"),
        ({"column": "country", "min": 3}, "country has type string: range min 3 is not text"),
        ({"column": "created", "min": 3}, "range min 3 is not a date or timestamp"),
        ({"column": "created", "max": "yesterday"}, "'yesterday' is not an ISO date"),
        ({"column": "tags", "min": "a"}, "tags has type list<item: string>: a range needs"),
        ({"column": "nope", "min": 1}, "column 'nope' does not exist"),
    ]
    for rule, message in cases:
        result = one(orders, {"check": "range", **rule})
        assert not result.passed
        assert message in result.message, (rule, result.message)


# -- allowed values --------------------------------------------------------------------


def test_allowed_values(orders: Any) -> None:
    _, _, frame = orders
    rule = {"check": "allowed_values", "column": "country", "values": ["FR", "DE", "US", "XX"]}
    assert one(orders, rule).passed  # nulls are not checked
    rule["values"] = ["FR", "DE", "US"]
    result = one(orders, rule)
    assert result.failing_rows == 2
    assert result.message == "country: 2 rows hold values not among the 3 allowed, e.g. 'XX'"
    rule = {"check": "allowed_values", "column": "country", "values": ["FR"]}
    expected = int(frame["country"].isin(["DE", "US", "XX"]).sum())
    assert one(orders, rule).failing_rows == expected

    rule = {"check": "allowed_values", "column": 'odd "name" é', "values": [0, 1, 2, 3, 4, 5]}
    result = one(orders, rule)
    assert result.failing_rows == sum(1 for i in range(N) if i % 7 == 6)
    assert {e['odd "name" é'] for e in result.examples} == {6}
    assert one(orders, {"check": "allowed_values", "column": "paid", "values": [True, False]})
    assert one(orders, {"check": "allowed_values", "column": "paid", "values": [True]}).failing_rows
    rule = {"check": "allowed_values", "column": "price", "values": [i / 4 for i in range(N)]}
    assert one(orders, rule).passed
    rule = {"check": "allowed_values", "column": "day", "values": ["2024-02-01"]}
    days = [c.date() for c in frame["created"]]
    assert one(orders, rule).failing_rows == sum(1 for d in days if d != dt.date(2024, 2, 1))


def test_allowed_values_of_the_wrong_type(orders: Any) -> None:
    result = one(orders, {"check": "allowed_values", "column": "country", "values": ["FR", 1]})
    assert not result.passed
    assert "allowed value 1 is not text" in result.message
    result = one(orders, {"check": "allowed_values", "column": "id", "values": [1.5]})
    assert "1.5 is not an integer" in result.message
    result = one(orders, {"check": "allowed_values", "column": "tags", "values": ["a"]})
    assert "allowed_values does not apply" in result.message


# -- unique ----------------------------------------------------------------------------


def test_unique(tmp_path: Path, orders: Any) -> None:
    assert one(orders, {"check": "unique", "columns": ["id"]}).passed
    table = pa.table(
        {
            "a": pa.array([1, 1, 1, 2, 2, 3, None, None], pa.int64()),
            "b": pa.array(["x", "x", "y", "z", "z", "z", "n", "n"]),
        }
    )
    path = tmp_path / "v.parquet"
    pq.write_table(table, path)
    (result,) = run(path, table, [{"check": "unique", "columns": ["a"]}]).results
    assert not result.passed
    assert result.failing_rows == 7  # a=1 (3 rows), a=2 (2), NULL (2)
    assert result.message == "a: 3 values appear more than once (7 rows), e.g. a=1 (3 rows)"
    assert result.examples[0] == {"key": {"a": 1}, "rows": 3}
    assert {e["rows"] for e in result.examples} == {3, 2}
    (result,) = run(path, table, [{"check": "unique", "columns": ["a", "b"]}]).results
    assert result.failing_rows == 6
    assert result.message.startswith("(a, b): 3 keys appear more than once (6 rows)")
    (result,) = run(path, table, [{"check": "unique", "columns": ["a", "nope"]}]).results
    assert not result.passed and "'nope' does not exist" in result.message


# -- row count -------------------------------------------------------------------------


def test_row_count(orders: Any) -> None:
    assert one(orders, {"check": "row_count", "min": 1, "max": N}).passed
    result = one(orders, {"check": "row_count", "min": 5000})
    assert not result.passed
    assert result.message == "1,000 rows, expected at least 5,000"
    result = one(orders, {"check": "row_count", "max": 10})
    assert result.message == "1,000 rows, expected at most 10"


# -- freshness -------------------------------------------------------------------------


def test_freshness(orders: Any) -> None:
    # the newest value is 2024-02-29 18:00 UTC; the version was made 2024-03-01 12:00 UTC
    result = one(orders, {"check": "freshness", "column": "created", "max_age": "1d"})
    assert result.passed, result.message
    assert "2024-02-29T18:00:00+00:00" in result.message
    result = one(orders, {"check": "freshness", "column": "created", "max_age": "12h"})
    assert not result.passed
    assert result.message == (
        "created: newest value 2024-02-29T18:00:00+00:00 was 18h old when the version was "
        "made, more than 12h"
    )
    assert one(orders, {"check": "freshness", "column": "local", "max_age": "19h"}).passed
    assert not one(orders, {"check": "freshness", "column": "local", "max_age": "17h"}).passed
    # a date counts from its midnight: 2024-02-29 is 36h before the version
    assert one(orders, {"check": "freshness", "column": "day", "max_age": "36h"}).passed
    assert not one(orders, {"check": "freshness", "column": "day", "max_age": "35h"}).passed
    result = one(orders, {"check": "freshness", "column": "amount", "max_age": "1d"})
    assert not result.passed
    assert "freshness needs a timestamp or date column" in result.message


def test_freshness_created_at_forms(orders: Any) -> None:
    path, table, _ = orders
    rule = [{"check": "freshness", "column": "created", "max_age": "20h"}]
    naive = dt.datetime(2024, 3, 1, 12, 0)  # UTC
    assert run(path, table, rule, created_at=naive).passed
    later = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert not run(path, table, rule, created_at=later).passed  # 17:00 UTC: 23h


def test_freshness_without_values(tmp_path: Path) -> None:
    table = pa.table({"t": pa.nulls(3, pa.timestamp("us"))})
    path = tmp_path / "v.parquet"
    pq.write_table(table, path)
    (result,) = run(path, table, [{"check": "freshness", "column": "t", "max_age": "1d"}]).results
    assert not result.passed
    assert "has no values" in result.message


# -- sql -------------------------------------------------------------------------------


def test_sql(orders: Any) -> None:
    assert one(orders, {"check": "sql", "expression": "id >= 0 AND id < 1000"}).passed
    result = one(orders, {"check": "sql", "expression": "amount >= 0"})
    # false for the 2 negatives, NULL for the 4 nulls; NaN >= 0 holds in DuckDB
    assert result.failing_rows == 2 + 4
    assert result.message == "6 rows do not satisfy amount >= 0"
    assert next(iter(result.examples[0])) == "amount"
    rule = {"check": "sql", "expression": "amount >= 0 OR amount IS NULL OR country = 'XX'"}
    assert one(orders, rule).failing_rows == 2
    # a subquery over the version itself is allowed
    rule = {"check": "sql", "expression": "id <= (SELECT max(id) FROM data)"}
    assert one(orders, rule).passed


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("amount >", "is not valid SQL"),
        ("amount > 0; DROP TABLE x", "is not valid SQL"),
        ("amuont > 0", 'Referenced column "amuont" not found'),
        ("amount + 1", "gives DOUBLE, not true or false"),
        ("CAST(country AS INTEGER) > 0", "could not be evaluated: Could not convert string"),
        ("count(*) > 0", "aggregate"),
        ("(SELECT count(*) FROM read_csv('/etc/passwd')) > 0", "it calls read_csv"),
        ("id IN (SELECT 1 FROM '/etc/passwd')", "may only read the table data"),
        ("id IN (SELECT * FROM range(3))", "it calls range"),
    ],
)
def test_sql_that_cannot_be_evaluated(orders: Any, expression: str, message: str) -> None:
    result = one(orders, {"check": "sql", "expression": expression})
    assert not result.passed
    assert message in result.message, result.message
    assert result.failing_rows is None


def test_sql_cannot_read_files_next_to_the_data(orders: Any) -> None:
    path, _, _ = orders
    secret = str(path.parent / "secret.csv")
    for expression in (
        f"(SELECT count(*) FROM read_csv('{secret}')) = 0",
        f"(SELECT min(password) FROM '{secret}') = 'x'",
        f"country IN (SELECT password FROM read_csv_auto('{secret}'))",
        f"(SELECT content FROM read_text('{secret}')) = ''",
    ):
        result = one(orders, {"check": "sql", "expression": expression})
        assert not result.passed
        assert "hunter2" not in result.model_dump_json()


# -- all together ----------------------------------------------------------------------


def test_rules_are_independent(orders: Any) -> None:
    path, table, _ = orders
    rules = [
        {"check": "sql", "expression": "CAST(country AS INTEGER) > 0"},  # fails while running
        {"check": "not_null", "column": "missing"},
        {"check": "not_null", "column": "id", "name": "ids are set"},
        {"check": "sql", "expression": "amount >"},
        {"check": "range", "column": "amount", "min": 0, "max": 10_000},
        {"check": "allowed_values", "column": "country", "values": ["FR", "DE", "US"]},
        {"check": "sql", "expression": "id >= 0"},
        {"check": "unique", "columns": ["id"]},
        {"check": "row_count", "min": 1},
    ]
    report = run(path, table, rules)
    assert [r.passed for r in report.results] == [
        False,
        False,
        True,
        False,
        False,
        False,
        True,
        True,
        True,
    ]
    assert [r.failing_rows for r in report.results][4:7] == [5, 2, 0]
    assert report.results[2].message == "ids are set: id: no nulls"
    assert not report.passed
    assert "amount: 5 rows outside" in report.summary()
    assert report.checked_at.tzinfo is not None


def test_all_rules_pass(orders: Any) -> None:
    path, table, _ = orders
    rules = [
        {"check": "column", "column": "id", "type": "int64"},
        {"check": "not_null", "column": "id"},
        {"check": "range", "column": "id", "min": 0},
        {"check": "allowed_values", "column": "paid", "values": [True, False]},
        {"check": "unique", "columns": ["id"]},
        {"check": "row_count", "min": 1},
        {"check": "freshness", "column": "created", "max_age": "2d"},
        {"check": "sql", "expression": "price >= 0"},
    ]
    report = run(path, table, rules)
    assert report.passed, report.summary()
    assert report.summary() == "all 8 rules passed"
    assert run(path, table, []).passed


def test_several_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"k": [1, 2]}), a)
    pq.write_table(pa.table({"k": [2, 3]}), b)
    table = pa.table({"k": [1, 2, 2, 3]})
    report = run([a, b], table, [{"check": "unique", "columns": ["k"]}])
    assert report.results[0].failing_rows == 2


def test_zero_rows(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([], pa.int64()), "t": pa.array([], pa.timestamp("us"))})
    path = tmp_path / "v.parquet"
    pq.write_table(table, path)
    rules = [
        {"check": "not_null", "column": "x"},
        {"check": "range", "column": "x", "min": 0},
        {"check": "unique", "columns": ["x"]},
        {"check": "sql", "expression": "x > 0"},
        {"check": "row_count", "min": 1},
        {"check": "freshness", "column": "t", "max_age": "1d"},
    ]
    report = run(path, table, rules)
    assert [r.passed for r in report.results] == [True, True, True, True, False, False]


def test_no_files() -> None:
    columns = [Column(name="x", type="int64"), Column(name="s", type="string")]
    rules = RULES.validate_python(
        [
            {"check": "column", "column": "x", "type": "int64"},
            {"check": "not_null", "column": "x"},
            {"check": "sql", "expression": "s <> ''"},
            {"check": "row_count", "min": 1},
        ]
    )
    with sandbox([]) as con:
        report = validate(con, rules, columns, 0, CREATED)
        assert [r.passed for r in report.results] == [True, True, True, False]
        with pytest.raises(Exception, match="does not exist"):
            con.sql("SELECT * FROM data")  # the stand-in table is gone again


def test_column_names_that_look_like_parameters(tmp_path: Path) -> None:
    table = pa.table({"$r0_lo": [1, 5, 10], "$r1_values": ["a", "b", "c"]})
    path = tmp_path / "v.parquet"
    pq.write_table(table, path)
    rules = [
        {"check": "range", "column": "$r0_lo", "min": 2, "max": 9},
        {"check": "allowed_values", "column": "$r1_values", "values": ["a"]},
        {"check": "sql", "expression": '"$r0_lo" > 1'},
    ]
    report = run(path, table, rules)
    assert [r.failing_rows for r in report.results] == [2, 2, 1]


def test_connection_is_left_usable(orders: Any) -> None:
    path, table, _ = orders
    rules = RULES.validate_python(
        [
            {"check": "sql", "expression": "CAST(country AS INTEGER) > 0"},
            {"check": "sql", "expression": "nope > 1"},
            {"check": "not_null", "column": "amount"},
            {"check": "unique", "columns": ["paid"]},
        ]
    )
    columns = [Column(name=f.name, type=str(f.type)) for f in table.schema]
    with sandbox([path]) as con:
        report = validate(con, rules, columns, table.num_rows, CREATED)
        con.register("probe", pa.table({"x": [1]}))  # refused while a result is left open
        con.unregister("probe")
        assert con.execute("SELECT count(*) FROM data").fetchall() == [(N,)]
    assert [r.passed for r in report.results] == [False, False, False, False]


def test_no_files_with_typed_schema() -> None:
    columns = [
        Column(name="t", type="timestamp[us, tz=UTC]"),
        Column(name="p", type="decimal128(10, 2)"),
    ]
    rules = RULES.validate_python(
        [
            {"check": "range", "column": "t", "min": "2024-01-01"},
            {"check": "range", "column": "p", "max": 5},
            {"check": "freshness", "column": "t", "max_age": "1d"},
        ]
    )
    with sandbox([]) as con:
        report = validate(con, rules, columns, 0, CREATED)
    assert [r.passed for r in report.results] == [True, True, False]


def test_the_sandbox_reads_only_its_own_files(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "mine")
    (tmp_path / "neighbour.csv").write_text("secret\n42\n")
    with sandbox([tmp_path / "mine"], temp_dir=tmp_path / "spill") as con:
        assert con.execute("SELECT sum(a) FROM data").fetchall() == [(3,)]
        for sql in (
            f"SELECT * FROM read_csv('{tmp_path / 'neighbour.csv'}')",
            f"SELECT * FROM read_csv('{tmp_path / 'mine'}/../neighbour.csv')",
            "COPY (SELECT 1) TO '/tmp/dockyard-sandbox-escape.csv'",
            "SET enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    assert list((tmp_path / "spill").iterdir()) == []
