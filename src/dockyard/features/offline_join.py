"""One point-in-time join in one DuckDB connection: the statements of
:mod:`dockyard.features.offline_sql` for some views over some label rows.

Both ways of computing a training set run it: :func:`dockyard.features.offline.training_set`
over all the label rows at once, and each partition of
:mod:`dockyard.features.partitioned` over its share of them. Its inputs are already checked
and converted (:func:`dockyard.features.offline.training_set` does that once, in the
caller's process).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from dockyard.features.definitions import Aggregate, FeatureView, Field
from dockyard.features.offline_sql import ViewSQL, quote

Stored = Field | Aggregate


@dataclass(frozen=True)
class ViewInput:
    """One view's part of a join: the view, its stored features to compute, and its events
    as the statements read them (the key columns, ``__ts`` and ``__seq`` as int64, the value
    columns, ``__a_<column>`` for available-at times)."""

    view: FeatureView
    features: tuple[Stored, ...]
    events: pa.Table


def stored_name(view: FeatureView, feature: Stored) -> str:
    """The output column of a stored feature: ``view:feature``."""
    return f"{view.name}:{feature.name}"


def join_views(
    labels: pa.Table, inputs: Sequence[ViewInput], *, threads: int, memory_limit: str | None
) -> pa.Table:
    """``(__row, view:feature, ...)``: one row per row of ``labels`` (``__row``, ``__t`` in
    microseconds and the key columns of every view in ``inputs``), ordered by ``__row``."""
    con = duckdb.connect(config={"threads": threads})
    try:
        if memory_limit is not None:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.register("labels_", labels)
        return _compute(con, inputs)
    finally:
        con.close()


def _compute(con: duckdb.DuckDBPyConnection, inputs: Sequence[ViewInput]) -> pa.Table:
    parts: list[tuple[str, dict[str, str]]] = []  # (temp table, alias -> output column)
    for index, item in enumerate(inputs):
        view, features = item.view, item.features
        src = f"src_{index}"
        con.register(src, item.events)
        sql = ViewSQL(view, src)
        aliases = {f.name: f"v{index}_{i}" for i, f in enumerate(features)}
        out = {aliases[f.name]: stored_name(view, f) for f in features}
        statements: list[tuple[str, str, list[str]]] = []  # (table, SQL, features made)
        fields = [(aliases[f.name], f) for f in features if isinstance(f, Field)]
        if fields:
            statements.append((f"fields_{index}", sql.fields(fields), [a for a, _ in fields]))
        known: dict[str, str] = {}
        for f in features:
            if isinstance(f, Aggregate) and f.available_at is not None:
                name = known[aliases[f.name]] = f"known_{index}_{len(known)}"
                statements.append((name, sql.known(f), []))
        sums = [
            (aliases[f.name], f)
            for f in features
            if isinstance(f, Aggregate) and f.fn in ("count", "sum", "mean")
        ]
        if sums:
            statements.append((f"sums_{index}", sql.sums(sums, known), [a for a, _ in sums]))
        # std / min / max / last / distinct_count: one narrow statement each (a wide one carries
        # every column through its sort and was slower on 10M events)
        for f in features:
            if isinstance(f, Aggregate) and f.fn in ("std", "min", "max", "last", "distinct_count"):
                statements.append(
                    (f"agg_{aliases[f.name]}", sql.timeline(aliases[f.name], f), [aliases[f.name]])
                )
        for table, statement, produced in statements:
            try:
                con.execute(f"CREATE TEMP TABLE {table} AS {statement}")
            except duckdb.Error as exc:  # a bug of ours: say which statement failed
                exc.add_note(statement)
                raise
            if produced:
                parts.append((table, {a: out[a] for a in produced}))
    selects = "".join(
        f", {t}.{a} AS {quote(name)}" for t, cols in parts for a, name in cols.items()
    )
    joins = "".join(f" LEFT JOIN {t} ON {t}.__row = labels_.__row" for t, _ in parts)
    return con.sql(
        f"SELECT labels_.__row{selects} FROM labels_{joins} ORDER BY labels_.__row"
    ).to_arrow_table()
