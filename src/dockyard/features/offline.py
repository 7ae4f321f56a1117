"""Point-in-time correct training sets, computed in DuckDB.

:func:`training_set` gives, for each row of a labels table (entity keys and an event time),
every requested feature as it was known strictly before that time, by the rules of
:mod:`dockyard.features.windows`. The statements (:mod:`dockyard.features.offline_sql`)
sort label rows among the events (an ASOF join for Fields, running sums and window frames
for aggregates), so their cost grows with the number of labels plus events, never with
their product; only the columns the features read are handed to DuckDB.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from dockyard.features.definitions import Aggregate, FeatureView, Field
from dockyard.features.errors import InvalidTable
from dockyard.features.offline_sql import ViewSQL, quote
from dockyard.features.ondemand import apply_on_demand
from dockyard.features.refs import Plan, plan
from dockyard.features.tables import (
    as_arrow,
    check_key_types,
    check_value_column,
    require_columns,
    time_micros,
)


def training_set(
    labels: Any,
    views: Iterable[FeatureView],
    sources: Mapping[str, Any],
    refs: Sequence[str],
    *,
    event_time: str | None = None,
    full_names: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> pa.Table:
    """One row per label row, in the labels' order: the label columns, then the requested
    features (named by feature, or ``view__feature`` with ``full_names``).

    ``labels`` holds the key columns of every requested view and an event-time column
    (``event_time``, or its only timestamp column). ``sources`` maps each view's ``source``
    name to its events (pyarrow Table or pandas DataFrame); the row order of a source is
    its arrival order (it breaks ties between events at one time).
    """
    request = plan(views, refs, full_names=full_names)
    table = as_arrow(labels, "labels table")
    time_name = _event_time(table, event_time)
    keys = list(dict.fromkeys(k for v in request.views.values() for k in v.keys))
    require_columns(table, keys, "labels table")
    taken = [r.column for r in request.requested if r.column in table.column_names]
    if taken:
        raise InvalidTable(
            f"the labels table already has the column(s) {taken} a feature would fill: rename "
            "them, or ask for full feature names (view__feature)"
        )
    require_columns(
        table, request.request_values, "labels table (request values of on-demand features)"
    )
    slim = pa.table(
        {
            "__row": pa.array(np.arange(table.num_rows, dtype=np.int64)),
            "__t": time_micros(table.column(time_name), time_name, "labels table"),
            **{k: table.column(k) for k in keys},
        }
    )
    con = duckdb.connect(config={"threads": threads or max(1, os.cpu_count() or 1)})
    try:
        if memory_limit is not None:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET preserve_insertion_order = false")
        con.register("labels_", slim)
        values = _compute(con, request, sources, slim)
    finally:
        con.close()
    return _assemble(table, request, values)


def _event_time(table: pa.Table, event_time: str | None) -> str:
    if event_time is not None:
        require_columns(table, [event_time], "labels table")
        return event_time
    times = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    if len(times) == 1:
        return str(times[0])
    if not times:
        raise InvalidTable(
            "the labels table has no event-time column: add a timestamp column saying when "
            f"each label's features are asked for (it has {table.column_names})"
        )
    raise InvalidTable(f"the labels table has several timestamp columns {times}: pass event_time=")


def _source(view: FeatureView, sources: Mapping[str, Any], labels: pa.Table) -> pa.Table:
    if view.source not in sources:
        raise InvalidTable(
            f"no events given for the source {view.source!r} of feature view {view.name!r} "
            f"(given: {sorted(sources)})"
        )
    table = as_arrow(sources[view.source], f"source {view.source!r}")
    what = f"source {view.source!r} of {view.name!r}"
    require_columns(table, view.source_columns(), what)
    check_key_types(labels, table, view.keys, view.name)
    columns: dict[str, Any] = {k: table.column(k) for k in view.keys}
    columns["__ts"] = time_micros(table.column(view.timestamp), view.timestamp, what)
    columns["__seq"] = pa.array(np.arange(table.num_rows, dtype=np.int64))
    for feature in view.features:
        if isinstance(feature, Field | Aggregate):
            check_value_column(table, feature.column, what)
            columns[feature.column] = table.column(feature.column)
        if isinstance(feature, Aggregate) and feature.available_at is not None:
            at = feature.available_at
            columns[f"__a_{at}"] = time_micros(table.column(at), at, what)
    return pa.table(columns)


def _compute(
    con: duckdb.DuckDBPyConnection, request: Plan, sources: Mapping[str, Any], labels: pa.Table
) -> pa.Table:
    parts: list[tuple[str, dict[str, str]]] = []  # (temp table, alias -> output column)
    for index, (view_name, features) in enumerate(request.stored.items()):
        view = request.views[view_name]
        src = f"src_{index}"
        con.register(src, _source(view, sources, labels))
        sql = ViewSQL(view, src)
        aliases = {f.name: f"v{index}_{i}" for i, f in enumerate(features)}
        out = {aliases[f.name]: _stored_name(view, f) for f in features}
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
    if not parts:
        return con.sql("SELECT __row FROM labels_ ORDER BY __row").to_arrow_table()
    selects = ", ".join(
        f"{t}.{a} AS {quote(name)}" for t, cols in parts for a, name in cols.items()
    )
    joins = "".join(f" LEFT JOIN {t} ON {t}.__row = labels_.__row" for t, _ in parts)
    return con.sql(f"SELECT {selects} FROM labels_{joins} ORDER BY labels_.__row").to_arrow_table()


def _stored_name(view: FeatureView, feature: Field | Aggregate) -> str:
    return f"{view.name}:{feature.name}"


def _assemble(labels: pa.Table, request: Plan, values: pa.Table) -> pa.Table:
    columns = {name: labels.column(name) for name in labels.column_names}
    on_demand = apply_on_demand(
        request,
        lambda ref: values.column(ref).to_pylist(),
        lambda name: labels.column(name).to_pylist(),
        labels.num_rows,
    )
    for item in request.requested:
        if item.ref in on_demand:
            columns[item.column] = pa.chunked_array([pa.array(on_demand[item.ref])])
        else:
            columns[item.column] = values.column(item.ref)
    return pa.table(columns)
