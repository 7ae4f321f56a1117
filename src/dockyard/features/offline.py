"""Point-in-time correct training sets, computed in DuckDB.

:func:`training_set` gives, for each row of a labels table (entity keys and an event time),
every requested feature as it was known strictly before that time, by the rules of
:mod:`dockyard.features.windows`. The statements (:mod:`dockyard.features.offline_sql`)
sort label rows among the events (an ASOF join for Fields, running sums and window frames
for aggregates), so their cost grows with the number of labels plus events, never with
their product; only the columns the features read are handed to DuckDB. They run in one
DuckDB connection of this process (:mod:`dockyard.features.offline_join`), or, with
``partitions``, split by entity over an executor (:mod:`dockyard.features.partitioned`):
the same statements, the same result (float sums, means and standard deviations to their
last bits, which vary between single-process runs too).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from dockyard.compute.executor import Executor
from dockyard.features.definitions import Aggregate, FeatureView, Field
from dockyard.features.errors import InvalidTable
from dockyard.features.offline_join import ViewInput, join_views
from dockyard.features.ondemand import apply_on_demand
from dockyard.features.partitioned import check_partitioning, join_partitioned
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
    executor: Executor | None = None,
    partitions: int | None = None,
) -> pa.Table:
    """One row per label row, in the labels' order: the label columns, then the requested
    features (named by feature, or ``view__feature`` with ``full_names``).

    ``labels`` holds the key columns of every requested view and an event-time column
    (``event_time``, or its only timestamp column). ``sources`` maps each view's ``source``
    name to its events (pyarrow Table or pandas DataFrame); the row order of a source is
    its arrival order (it breaks ties between events at one time).

    Without ``partitions`` the join runs here, in one DuckDB connection of ``threads``
    threads (default: every CPU). With ``partitions=N`` each view's label rows and events
    are split in N shares by a hash of the view's key values and each share is joined as
    one unit of work of ``executor`` (default: in this process, one after another), with
    ``threads`` threads (default 1) and as many CPUs asked of the executor; the result is
    the same (see :mod:`dockyard.features.partitioned`). ``memory_limit`` (DuckDB's, e.g.
    ``"4GB"``) applies to each connection.
    """
    check_partitioning(executor, partitions, threads)
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
    inputs = [
        ViewInput(
            request.views[name], tuple(features), _source(request.views[name], sources, table)
        )
        for name, features in request.stored.items()
    ]
    if partitions is None:
        values = join_views(
            slim, inputs, threads=threads or max(1, os.cpu_count() or 1), memory_limit=memory_limit
        )
    else:
        values = join_partitioned(
            slim,
            inputs,
            executor=executor,
            partitions=partitions,
            threads=threads or 1,
            memory_limit=memory_limit,
        )
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
