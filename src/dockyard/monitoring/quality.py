"""Data quality of one window of live traffic: the reference dataset's column rules run on
the window (in a DuckDB connection that reads nothing but the window), columns the
reference had that traffic lacks, values of the wrong type, categories the reference never
had and null shares that rose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

from dockyard.core.errors import DockyardError
from dockyard.data.duck import sandbox
from dockyard.data.schemas import Column, Rule
from dockyard.monitoring.profile import Summary
from dockyard.monitoring.schemas import QualityConfig, QualityProblem

_WINDOW_RULES = ("column", "not_null", "range", "allowed_values", "sql")
"""Rule kinds that mean something for a window (row counts and freshness are about a
dataset version, not a slice of traffic)."""
_MAX_SHOWN = 10


def rule_problems(
    table: pa.Table, rules: Sequence[Rule], columns: list[Column], at: dt.datetime
) -> list[QualityProblem]:
    """The reference dataset's rules that fail on the window's rows."""
    from dockyard.data.validation import validate

    kept = [r for r in rules if r.check in _WINDOW_RULES]
    if not kept or table.num_rows == 0:
        return []
    try:
        with sandbox([]) as con:
            con.register("data", table)
            report = validate(con, kept, columns, table.num_rows, at)
    except DockyardError as exc:
        return [QualityProblem(column="", check="rules", message=exc.message)]
    return [
        QualityProblem(
            column=getattr(r.rule, "column", "") or "",
            check=f"rule:{r.rule.check}",
            message=r.message,
            count=r.failing_rows or 0,
        )
        for r in report.results
        if not r.passed
    ]


def summary_problems(
    reference: Summary, current: Summary, config: QualityConfig
) -> list[QualityProblem]:
    """What the window's summary says against the reference's: missing columns, values of
    the wrong type, new categories, null shares that rose by more than allowed."""
    found: list[QualityProblem] = []
    for name, ref in reference.columns.items():
        cur = current.columns.get(name)
        if cur is None or (cur.missing and cur.missing == cur.rows):
            found.append(
                QualityProblem(
                    column=name, check="missing", message=f"traffic has no column {name!r}"
                )
            )
            continue
        if cur.invalid:
            found.append(
                QualityProblem(
                    column=name,
                    check="type",
                    message=f"{cur.invalid:,} values of {name!r} are not of the reference's type",
                    count=cur.invalid,
                )
            )
        if config.new_categories and cur.new:
            shown = ", ".join(repr(k) for k in list(cur.new)[:_MAX_SHOWN])
            count = sum(cur.new.values())
            found.append(
                QualityProblem(
                    column=name,
                    check="new_category",
                    message=f"{name!r} has values the reference never had: {shown}",
                    count=count,
                )
            )
        ref_share = ref.nulls / ref.rows if ref.rows else 0.0
        cur_share = cur.nulls / cur.rows if cur.rows else 0.0
        if cur.rows and cur_share - ref_share > config.max_null_increase:
            found.append(
                QualityProblem(
                    column=name,
                    check="nulls",
                    message=f"{cur_share:.1%} of {name!r} are null (reference: {ref_share:.1%})",
                    count=cur.nulls,
                )
            )
    return found
