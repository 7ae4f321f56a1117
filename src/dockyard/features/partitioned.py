"""A training set's join split by entity and run as units of work of an executor.

Every value of a feature depends only on the label row and the events of one entity, so the
join splits by entity. Views are grouped by their key columns (a card view and a user view
are split each by its own keys); in each group the label rows (``__row``, ``__t`` and the
keys) and every view's prepared events are cut in ``P`` shares by DuckDB's hash of the key
values (integers hashed as HUGEINT and floats as DOUBLE, so keys of one family but other
widths land together; the driver hashes both sides). An event keeps its ``__seq``, its
position in the whole source, and the shares keep the arrival order, so ties at one time
break as in one process. Share ``p`` of every group is one unit of work
(:class:`PartitionJoin`): it runs :func:`dockyard.features.offline_join.join_views` per
group, the very statements of the single-process join, and returns
``(__row, view:feature, ...)``; the driver puts the rows back in the labels' order.

The result has the same columns, types, row order and values as the single-process join,
bit for bit, except the last bits of ``sum``, ``mean`` and ``std``: DuckDB's window
aggregates add floats in an order that depends on which other entities share a hash group
and on the thread count, so those vary as much between two single-process runs with
several threads (measured: under 1e-13 relative on the tests' data).

Tables travel as Arrow IPC streams (bytes) both ways: the work carries the shares it
joins and returns its result as bytes, which the driver reads as Arrow, never unpickles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from dockyard.compute.executor import Executor, Resources
from dockyard.compute.inprocess import InProcessExecutor
from dockyard.core.errors import InvalidInput
from dockyard.features.definitions import FeatureView, OnDemand
from dockyard.features.offline_join import Stored, ViewInput, join_views
from dockyard.features.offline_sql import quote

MAX_PARTITIONS = 10_000


def check_partitions(partitions: Any, *, executor: bool) -> None:
    """Refuse a partition count that is not a whole number from 1 to
    :data:`MAX_PARTITIONS`, or none when an ``executor`` is given."""
    if partitions is None:
        if executor:
            raise InvalidInput(
                "an executor needs partitions=N: how many shares of the entities to join "
                "separately (e.g. the number of CPUs the executor has)"
            )
        return
    if isinstance(partitions, bool) or not isinstance(partitions, int):
        raise InvalidInput(
            f"partitions must be a whole number from 1 to {MAX_PARTITIONS:,} (how many shares "
            f"of the entities to join separately), not {partitions!r}"
        )
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise InvalidInput(
            f"partitions must be from 1 to {MAX_PARTITIONS:,} (how many shares of the "
            f"entities to join separately), not {partitions}"
        )


def check_partitioning(executor: Any, partitions: Any, threads: Any) -> None:
    """Refuse an executor that is not one, a bad partition count (:func:`check_partitions`)
    or, with partitions, threads that are not a whole number >= 1 (without partitions
    ``threads`` keeps its meaning: a false value is every CPU)."""
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise InvalidInput(
            "executor must be a dockyard executor (InProcessExecutor, ProcessExecutor, "
            f"RayExecutor), not {type(executor).__name__}; to name one ('ray', 'process', "
            "'inprocess'), use dy.features.training_set or "
            "dockyard.compute.registry.open_executor"
        )
    check_partitions(partitions, executor=executor is not None)
    bad_threads = isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    if partitions is not None and threads is not None and bad_threads:
        raise InvalidInput(
            f"threads must be a whole number >= 1 (DuckDB threads per partition), not {threads!r}"
        )


@dataclass(frozen=True)
class ViewShare:
    """One view's events of one partition, as an Arrow IPC stream."""

    view: FeatureView  # its stored features only
    features: tuple[Stored, ...]
    events: bytes


@dataclass(frozen=True)
class GroupShare:
    """The label rows of one partition for views sharing key columns, and those views'
    events of the same partition."""

    labels: bytes
    views: tuple[ViewShare, ...]


@dataclass(frozen=True)
class PartitionJoin:
    """One unit of work: the join of one partition, group by group; returns one Arrow IPC
    stream ``(__row, view:feature, ...)`` per group, in the order of ``groups``."""

    groups: tuple[GroupShare, ...]
    threads: int
    memory_limit: str | None

    def __call__(self) -> list[bytes]:
        out = []
        for group in self.groups:
            inputs = [ViewInput(v.view, v.features, from_ipc(v.events)) for v in group.views]
            joined = join_views(
                from_ipc(group.labels), inputs, threads=self.threads, memory_limit=self.memory_limit
            )
            out.append(to_ipc(joined))
        return out


def join_partitioned(
    labels: pa.Table,
    inputs: Sequence[ViewInput],
    *,
    executor: Executor | None,
    partitions: int,
    threads: int,
    memory_limit: str | None,
) -> pa.Table:
    """What :func:`dockyard.features.offline_join.join_views` gives for ``labels`` and
    ``inputs``, computed in ``partitions`` units of work of ``executor`` (default: in this
    process, one after another), each with ``threads`` DuckDB threads and as many CPUs."""
    groups: dict[tuple[str, ...], list[ViewInput]] = {}
    for item in inputs:
        groups.setdefault(tuple(item.view.keys), []).append(item)
    splits = [
        _Split(
            split(labels.select(["__row", "__t", *keys]), keys, partitions),
            [(_stored_only(i.view), i.features, split(i.events, keys, partitions)) for i in items],
        )
        for keys, items in groups.items()
    ]
    runner = executor if executor is not None else InProcessExecutor()
    futures = []
    for p in range(partitions):  # each share is serialized just before its work is submitted
        work = PartitionJoin(tuple(s.share(p) for s in splits), threads, memory_limit)
        label = f"training set partition {p + 1} of {partitions}"
        futures.append((label, runner.submit(work, resources=Resources(cpu=threads), label=label)))
    results = []
    for label, future in futures:
        try:
            results.append(future.result())
        except Exception as exc:
            exc.add_note(f"in {label}")
            raise
    return _merge(labels.num_rows, len(splits), results)


@dataclass(frozen=True)
class _Split:
    """The label rows of one group of views and each view's events, cut in shares."""

    labels: list[pa.Table]
    views: list[tuple[FeatureView, tuple[Stored, ...], list[pa.Table]]]

    def share(self, p: int) -> GroupShare:
        """Share ``p`` as IPC streams (events only where there are label rows to join)."""
        labels = self.labels[p]
        views = tuple(
            ViewShare(view, features, to_ipc(events[p] if labels.num_rows else events[p][:0]))
            for view, features, events in self.views
        )
        return GroupShare(to_ipc(labels), views)


def _merge(rows: int, groups: int, results: Sequence[list[bytes]]) -> pa.Table:
    """``(__row, view:feature, ...)`` in label order from every partition's results."""
    values = {"__row": pa.array(np.arange(rows, dtype=np.int64))}
    for g in range(groups):
        joined = pa.concat_tables(from_ipc(result[g]) for result in results)
        position = np.empty(rows, dtype=np.int64)  # every label row is in one share per group
        position[joined.column("__row").to_numpy()] = np.arange(joined.num_rows, dtype=np.int64)
        ordered = joined.take(position)
        for name in ordered.column_names[1:]:
            values[name] = ordered.column(name)
    return pa.table(values)


def partition_ids(table: pa.Table, keys: Sequence[str], partitions: int) -> np.ndarray:
    """The partition (0 to ``partitions - 1``) of each row: DuckDB's hash of its key values,
    the same in every process and for either side of the join."""
    expressions = ", ".join(_hashable(k, table.schema.field(k).type) for k in keys)
    con = duckdb.connect()
    try:
        con.register("keys_", table.select(list(keys)))
        ids = con.sql(f"SELECT (hash({expressions}) % {partitions})::INTEGER AS p FROM keys_")
        column: np.ndarray = ids.to_arrow_table().column("p").to_numpy()
        return column
    finally:
        con.close()


def split(table: pa.Table, keys: Sequence[str], partitions: int) -> list[pa.Table]:
    """``table`` in ``partitions`` shares by :func:`partition_ids`, each in the table's order."""
    if partitions == 1:
        return [table]
    ids = partition_ids(table, keys, partitions)
    order = np.argsort(ids, kind="stable")
    ends = np.cumsum(np.bincount(ids, minlength=partitions))
    grouped = table.take(pa.array(order))
    return [
        grouped.slice(end - size, size)
        for end, size in zip(ends, np.diff(ends, prepend=0), strict=True)
    ]


def _hashable(key: str, kind: pa.DataType) -> str:
    """The key as DuckDB should hash it: one type per family the join compares as equal."""
    if pa.types.is_integer(kind):
        return f"{quote(key)}::HUGEINT"
    if pa.types.is_floating(kind):
        return f"{quote(key)}::DOUBLE"
    return quote(key)


def _stored_only(view: FeatureView) -> FeatureView:
    """The view without its on-demand features (their functions stay in the driver)."""
    return view.model_copy(
        update={"features": [f for f in view.features if not isinstance(f, OnDemand)]}
    )


def to_ipc(table: pa.Table) -> bytes:
    """``table`` as an Arrow IPC stream."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def from_ipc(data: bytes) -> pa.Table:
    """The table of an Arrow IPC stream."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
