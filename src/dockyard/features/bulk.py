"""Settling a large batch of events per entity with array operations (materialization).

:meth:`dockyard.features.online_values.OnlineFeatures` adds a small push event by event
(:class:`~dockyard.features.partials.Consumer`: ``add`` each event, then ``settle``). For a
large batch this module computes the very same states, byte for byte once encoded, for one
chunk of entities at a time:

- the events of each entity are its stored pending events (in their order) then the new
  ones (in arrival order); each is dropped (before every window a lookup at or after the
  new horizon can ask for), folded (settled) or kept pending, by the rule of ``settle``;
- folded events are merged into their group's partial (entity x bucket, or entity for all
  history), starting from the stored partial, in the same order and with the same float
  arithmetic (:mod:`dockyard.features.folds`); ``last`` and Fields keep the latest by
  ``(ts, seq)``; ``distinct_count`` keeps values in order of first appearance;
- stored buckets no window can reach any more are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dockyard.features.folds import Partials, empty, fold, from_python, objects, to_python
from dockyard.features.partials import Consumer, Record, State


@dataclass
class Values:
    """One value column of a chunk: values in a numpy array (the column's own type, object
    for text) and where they are null."""

    values: np.ndarray
    nulls: np.ndarray | None

    @classmethod
    def of(cls, array: pa.Array) -> Values:
        kind = array.type
        nulls = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
        if pa.types.is_integer(kind):
            try:
                values = pc.fill_null(array.cast(pa.int64()), 0).to_numpy()
            except pa.ArrowInvalid:  # an unsigned value past int64: plain Python ints
                values = objects(array.to_pylist())
        elif pa.types.is_floating(kind):
            values = pc.fill_null(array.cast(pa.float64()), 0.0).to_numpy()
        elif pa.types.is_boolean(kind):
            values = pc.fill_null(array, False).to_numpy(zero_copy_only=False)
        else:
            values = objects(array.to_pylist())
        return cls(values, nulls)

    def python(self, at: np.ndarray) -> list[Any]:
        """The values at positions ``at`` as Python values (None where null)."""
        out: list[Any] = self.values[at].tolist()
        if self.nulls is not None:
            for i in np.flatnonzero(self.nulls[at]).tolist():
                out[i] = None
        return out


@dataclass
class Chunk:
    """The new events of a run of entities, grouped by entity (``entity``: 0, 1, ...),
    each entity's events in arrival order."""

    entities: int
    entity: np.ndarray
    ts: np.ndarray
    seq: np.ndarray
    columns: dict[str, Values]
    gates: dict[str, tuple[np.ndarray, np.ndarray | None]]  # microseconds, nulls


def settle_chunk(
    consumers: Sequence[Consumer], horizon: int, chunk: Chunk, records: list[Record]
) -> None:
    """Add the chunk's events to ``records`` (one per entity; ``{}`` for a new one) and
    settle every consumer's state against ``horizon``, in place."""
    for consumer in consumers:
        states = _Settle(consumer, horizon, chunk, [r.get(consumer.name) for r in records]).run()
        for record, state in zip(records, states, strict=True):
            record[consumer.name] = state


class _Settle:
    """One consumer over one chunk."""

    def __init__(
        self, consumer: Consumer, horizon: int, chunk: Chunk, old: list[State | None]
    ) -> None:
        self.c = consumer
        self.horizon = horizon
        self.chunk = chunk
        self.old = old
        self.column = chunk.columns[consumer.column]

    def run(self) -> list[State]:
        c, chunk, column = self.c, self.chunk, self.column
        # the new events the consumer keeps (Consumer.add)
        keep = np.ones(len(chunk.ts), dtype=bool)
        if not c.field:
            if column.nulls is not None:
                keep &= ~column.nulls
            if c.gate is not None:
                nulls = chunk.gates[c.gate][1]
                if nulls is not None:
                    keep &= ~nulls
        new = np.flatnonzero(keep)
        # stored pending events first, then the new ones, per entity
        old_entity: list[int] = []
        old_events: list[list[Any]] = []
        for e, state in enumerate(self.old):
            if state is not None:
                old_events.extend(state["p"])
                old_entity.extend([e] * len(state["p"]))
        self.n_old = len(old_events)
        self.old_values = [p[3] for p in old_events]
        self.new = new
        entity = np.concatenate((np.array(old_entity, np.int64), chunk.entity[new]))
        ts = np.concatenate((np.array([p[0] for p in old_events], np.int64), chunk.ts[new]))
        seq = np.concatenate((np.array([p[1] for p in old_events], np.int64), chunk.seq[new]))
        gated = c.gate is not None
        if gated:
            assert c.gate is not None
            available = np.concatenate(
                (np.array([p[2] for p in old_events], np.int64), chunk.gates[c.gate][0][new])
            )
        order = np.argsort(entity, kind="stable") if self.n_old else np.arange(len(entity))
        self.order = order
        entity, ts, seq = entity[order], ts[order], seq[order]
        # Consumer.settle: dropped, folded or still pending
        window, bucket, horizon = c.window, c.bucket, self.horizon
        if window is not None:
            edge = horizon - horizon % bucket
            oldest = edge - window
            starts = ts - ts % bucket
            dropped = ts < oldest
            folded = ~dropped & (starts + bucket <= edge)
        else:
            oldest = None
            starts = np.zeros(len(ts), np.int64)
            dropped = np.zeros(len(ts), dtype=bool)
            folded = ts < horizon
        if gated:
            available = available[order]
            folded &= available < horizon
        pending = np.flatnonzero(~dropped & ~folded)
        entities = chunk.entities
        # pending lists
        bounds = np.searchsorted(entity[pending], np.arange(entities + 1))
        rows = [
            list(r)
            for r in zip(
                ts[pending].tolist(),
                seq[pending].tolist(),
                available[pending].tolist() if gated else [None] * len(pending),
                self.values(pending),
                strict=True,
            )
        ]
        waiting = [rows[bounds[e] : bounds[e + 1]] for e in range(entities)]
        settled = self.settled(np.flatnonzero(folded), entity, starts, ts, seq, oldest)
        return [{"s": settled[e], "p": waiting[e]} for e in range(entities)]

    def values(self, at: np.ndarray) -> list[Any]:
        """Python values of items (positions after the entity sort)."""
        source = self.order[at]
        if not self.n_old:
            return self.column.python(self.new[source])
        out: list[Any] = [None] * len(at)
        mine = source < self.n_old
        for i, s in zip(np.flatnonzero(mine).tolist(), source[mine].tolist(), strict=True):
            out[i] = self.old_values[s]
        fresh = np.flatnonzero(~mine)
        for i, v in zip(
            fresh.tolist(),
            self.column.python(self.new[source[fresh] - self.n_old]),
            strict=True,
        ):
            out[i] = v
        return out

    def numbers(self, at: np.ndarray, as_float: bool) -> np.ndarray:
        """Values of items as an array (floats for sums, else the column's own type)."""
        source = self.order[at]
        own = self.column.values
        dtype = np.dtype(np.float64) if as_float else own.dtype
        if self.n_old:
            stored = np.array(self.old_values, dtype=dtype) if dtype.kind != "O" else None
            pool = np.concatenate(
                (stored if stored is not None else objects(self.old_values), own[self.new])
            )
        else:
            pool = own[self.new]
        out: np.ndarray = pool[source]
        return out.astype(dtype) if as_float else out

    def settled(
        self,
        folded: np.ndarray,
        entity: np.ndarray,
        starts: np.ndarray,
        ts: np.ndarray,
        seq: np.ndarray,
        oldest: int | None,
    ) -> list[Any]:
        c = self.c
        fn = c.fn
        # the stored partials still in reach: (entity, bucket start or 0, partial)
        old_entity: list[int] = []
        old_start: list[int] = []
        old_partial: list[Any] = []
        for e, state in enumerate(self.old):
            if state is None:
                continue
            if c.window is not None:
                for start, partial in state["s"]:
                    if oldest is None or start >= oldest:
                        old_entity.append(e)
                        old_start.append(start)
                        old_partial.append(partial)
            elif state["s"] is not None:
                old_entity.append(e)
                old_start.append(0)
                old_partial.append(state["s"])
        n_old = len(old_entity)
        keys_entity = np.concatenate((np.array(old_entity, np.int64), entity[folded]))
        keys_start = np.concatenate((np.array(old_start, np.int64), starts[folded]))
        by_key = np.lexsort((keys_start, keys_entity))
        sorted_entity, sorted_start = keys_entity[by_key], keys_start[by_key]
        first = np.ones(len(by_key), dtype=bool)
        first[1:] = (sorted_entity[1:] != sorted_entity[:-1]) | (
            sorted_start[1:] != sorted_start[:-1]
        )
        group = np.empty(len(by_key), np.int64)
        group[by_key] = np.cumsum(first) - 1
        group_entity, group_start = sorted_entity[first], sorted_start[first]
        groups = len(group_entity)
        old_group, item_group = group[:n_old], group[n_old:]
        in_group = np.argsort(item_group, kind="stable")  # by group, then in order
        items = folded[in_group]
        item_group = item_group[in_group]
        partials: list[Any]
        if fn == "last":
            partials = self._latest(old_group, old_partial, items, item_group, ts, seq, groups)
        elif fn == "distinct_count":
            partials = [None] * groups
            for g, partial in zip(old_group.tolist(), old_partial, strict=True):
                partials[g] = list(partial)
            seen: list[set[Any] | None] = [None] * groups
            for g, value in zip(item_group.tolist(), self.values(items), strict=True):
                listed = partials[g]
                if listed is None:
                    partials[g] = [value]
                    seen[g] = {value}
                    continue
                known = seen[g]
                if known is None:
                    known = seen[g] = set(listed)
                if value not in known:
                    known.add(value)
                    listed.append(value)
        else:
            if fn == "count":  # the values are not read
                x = np.zeros(len(items))
            else:
                x = self.numbers(items, fn in ("sum", "mean", "std"))
            acc: Partials = empty(fn, groups, x.dtype)
            if n_old:
                stored = from_python(fn, old_partial, x.dtype)
                acc.has[old_group] = True
                for mine, theirs in zip(acc.columns, stored.columns, strict=True):
                    mine[old_group] = theirs
            fold(fn, acc, item_group, x)
            partials = to_python(fn, acc)
        entities = self.chunk.entities
        if c.window is not None:
            buckets = [[s, p] for s, p in zip(group_start.tolist(), partials, strict=True)]
            bounds = np.searchsorted(group_entity, np.arange(entities + 1)).tolist()
            return [buckets[bounds[e] : bounds[e + 1]] for e in range(entities)]
        out: list[Any] = [None] * entities
        for e, partial in zip(group_entity.tolist(), partials, strict=True):
            out[e] = partial
        return out

    def _latest(
        self,
        old_group: np.ndarray,
        old_partial: list[Any],
        items: np.ndarray,
        item_group: np.ndarray,
        ts: np.ndarray,
        seq: np.ndarray,
        groups: int,
    ) -> list[Any]:
        """``[ts, seq, value]`` of the latest (by ts, then arrival) of each group."""
        n_old = len(old_partial)
        cand_group = np.concatenate((old_group, item_group))
        cand_ts = np.concatenate((np.array([p[0] for p in old_partial], np.int64), ts[items]))
        cand_seq = np.concatenate((np.array([p[1] for p in old_partial], np.int64), seq[items]))
        by = np.lexsort((cand_seq, cand_ts, cand_group))
        last = np.ones(len(by), dtype=bool)
        last[:-1] = cand_group[by][1:] != cand_group[by][:-1]
        winners = by[last]  # one per group, in group order
        fresh = winners >= n_old
        values: list[Any] = [None] * groups
        for i, value in zip(
            np.flatnonzero(fresh).tolist(), self.values(items[winners[fresh] - n_old]), strict=True
        ):
            values[i] = value
        for i, w in zip(np.flatnonzero(~fresh).tolist(), winners[~fresh].tolist(), strict=True):
            values[i] = old_partial[w][2]
        return [
            [t, q, v]
            for t, q, v in zip(
                cand_ts[winners].tolist(), cand_seq[winners].tolist(), values, strict=True
            )
        ]


@dataclass
class Batch:
    """A batch's events grouped by entity: ``rows`` (table rows, by entity then arrival),
    the first position of each entity in ``rows`` (``starts``, one more at the end), the
    entities' store keys, and each table row's place in arrival order (``arrival``: its
    ``seq`` is ``seq0`` plus that)."""

    rows: np.ndarray
    starts: np.ndarray
    keys: list[str]
    arrival: np.ndarray
    seq0: int

    def chunks(self, max_rows: int, max_entities: int) -> list[tuple[int, int]]:
        """Runs of whole entities ``[first, last)`` of at most about ``max_rows`` events
        (one entity may exceed it alone) and ``max_entities`` entities."""
        out = []
        first = 0
        count = len(self.keys)
        while first < count:
            limit = self.starts[first] + max_rows
            last = int(np.searchsorted(self.starts, limit, side="right")) - 1
            last = min(max(last, first + 1), first + max_entities, count)
            out.append((first, last))
            first = last
        return out


def group_by_entity(
    table: pa.Table, keys: Sequence[str], arrival: np.ndarray, seq0: int, entity_key: Any
) -> Batch:
    """The rows of ``table`` by entity (rows with a null key name none and are left out),
    each entity's rows in arrival order (``arrival``: the rows in that order)."""
    small = np.int32 if table.num_rows < 2**31 else np.int64  # row numbers: half the memory
    code = np.zeros(table.num_rows, np.int64)
    valid = np.ones(table.num_rows, dtype=bool)
    dictionaries = []
    for name in keys:
        encoded = pc.dictionary_encode(table.column(name).combine_chunks())
        indices = encoded.indices
        if indices.null_count:
            valid &= ~indices.is_null().to_numpy(zero_copy_only=False)
        size = len(encoded.dictionary)
        code *= max(size, 1)
        code += pc.fill_null(indices, 0).to_numpy()
        dictionaries.append(encoded.dictionary.to_pylist())
        del encoded, indices
    position = np.empty(table.num_rows, small)
    position[arrival] = np.arange(table.num_rows, dtype=small)
    rows = arrival[valid[arrival]].astype(small)
    del valid
    codes = code[rows]
    del code
    by_entity = np.argsort(codes, kind="stable")
    rows = rows[by_entity]
    codes = codes[by_entity]
    del by_entity
    first = np.ones(len(rows), dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    starts = np.append(np.flatnonzero(first), len(rows))
    names = []
    for value in codes[first].tolist():
        parts = []
        for dictionary in reversed(dictionaries):
            parts.append(dictionary[value % max(len(dictionary), 1)])
            value //= max(len(dictionary), 1)
        names.append(entity_key(parts[::-1]))
    return Batch(rows, starts, names, position, seq0)


def chunk_of(
    table: pa.Table,
    batch: Batch,
    first: int,
    last: int,
    consumers: Sequence[Consumer],
    timestamps: np.ndarray,
    gate_times: dict[str, tuple[np.ndarray, np.ndarray | None]],
) -> Chunk:
    """The events of entities ``[first, last)`` of ``batch`` as arrays."""
    lo, hi = int(batch.starts[first]), int(batch.starts[last])
    rows = batch.rows[lo:hi]
    sizes = np.diff(batch.starts[first : last + 1])
    entity = np.repeat(np.arange(last - first, dtype=np.int64), sizes)
    take = pa.array(rows)
    columns = {
        c.column: Values.of(table.column(c.column).take(take).combine_chunks()) for c in consumers
    }
    gates = {
        name: (times[rows], None if nulls is None else nulls[rows])
        for name, (times, nulls) in gate_times.items()
    }
    seq = batch.seq0 + batch.arrival[rows].astype(np.int64)
    return Chunk(last - first, entity, timestamps[rows], seq, columns, gates)
