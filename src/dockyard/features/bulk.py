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

from dockyard.features.folds import Partials, empty, fold, from_python, objects
from dockyard.features.partials import Consumer, Record, State
from dockyard.features.slots import Column


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


@dataclass
class Pool:
    """The values a consumer's chunk refers to by position: its stored values (pending
    events, stored partials) then the chunk's new events, in one array of the column's own
    type (Python objects when the stored values are of another type)."""

    values: np.ndarray
    nulls: np.ndarray | None

    @classmethod
    def of(cls, stored: list[Any], fresh: Values, new: np.ndarray) -> Pool:
        values = fresh.values[new]
        nulls = None if fresh.nulls is None else fresh.nulls[new]
        if not stored:
            return cls(values, nulls)
        kind = _PYTHON_TYPES.get(values.dtype.kind)
        if kind is not None and all(_fits(v, kind) for v in stored):
            own = np.array([0 if v is None else v for v in stored], dtype=values.dtype)
            missing = np.array([v is None for v in stored], dtype=bool)
            if nulls is None and not missing.any():
                return cls(np.concatenate((own, values)), None)
            if nulls is None:
                nulls = np.zeros(len(values), dtype=bool)
            return cls(np.concatenate((own, values)), np.concatenate((missing, nulls)))
        fresh_objects = objects(Values(values, nulls).python(np.arange(len(values))))
        return cls(np.concatenate((objects(stored), fresh_objects)), None)

    def column(self, at: np.ndarray) -> Column:
        return Column.of(self.values[at], None if self.nulls is None else self.nulls[at])

    def python(self, at: np.ndarray) -> list[Any]:
        return Values(self.values, self.nulls).python(at)

    def numbers(self, at: np.ndarray, as_float: bool) -> np.ndarray:
        out: np.ndarray = self.values[at]
        return out.astype(np.float64) if as_float else out


def _ordered(first: np.ndarray, second: np.ndarray | None = None) -> bool:
    """Whether the pairs (first, second) are already in ascending order."""
    if len(first) < 2:
        return True
    up = first[1:] > first[:-1]
    same = first[1:] == first[:-1]
    if second is None:
        return bool(np.all(up | same))
    return bool(np.all(up | (same & (second[1:] >= second[:-1]))))


def _fits(value: Any, kind: type) -> bool:
    """Whether a stored value has the type of the chunk's column (so it keeps its tag)."""
    if value is None:
        return True
    if type(value) is not kind:
        return False
    return not isinstance(value, int) or -(2**63) <= value < 2**63


_PYTHON_TYPES = {"f": float, "i": int, "u": int, "b": bool}


@dataclass
class Settled:
    """One consumer's states over a chunk of entities ``0 .. entities - 1``, as arrays.

    Settled partials, one per group (entity x bucket start, or entity for all history), by
    entity then start: ``partials`` (count / sum / mean / std / min / max; min and max hold
    pool values) or ``latest`` (last and Fields: ts, seq, pool position of the value).
    Pending events by entity then arrival, their values by pool position. A
    ``distinct_count`` keeps Python ``states`` instead.
    """

    consumer: Consumer
    entities: int
    pool: Pool
    group_entity: np.ndarray
    group_start: np.ndarray
    partials: Partials | None
    latest: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    p_entity: np.ndarray
    p_ts: np.ndarray
    p_seq: np.ndarray
    p_available: np.ndarray | None
    p_value: np.ndarray
    states: list[State] | None = None


def settle_chunk(
    consumers: Sequence[Consumer], horizon: int, chunk: Chunk, records: list[Record]
) -> list[Settled]:
    """Each consumer's states after adding the chunk's events to ``records`` (one per
    entity; ``{}`` for a new one) and settling them against ``horizon``."""
    stored = any(records)  # none on a first materialization: skip reading them
    # Without stored states, features over the same column, window and bucket share the
    # layout of their events and groups (a sum and a mean share their partials too).
    shared: dict[tuple[Any, ...], Any] | None = None if stored else {}
    return [
        _Settle(
            consumer,
            horizon,
            chunk,
            [r.get(consumer.name) for r in records] if stored else [None] * len(records),
            shared,
        ).run()
        for consumer in consumers
    ]


@dataclass
class _Layout:
    """Where a consumer's events go: the value pool, the pending events and the groups of
    the folded ones (items by group, then in order)."""

    pool: Pool
    n_old: int
    stored_partials: tuple[list[int], list[int], list[Any]]
    p_entity: np.ndarray
    p_ts: np.ndarray
    p_seq: np.ndarray
    p_available: np.ndarray | None
    p_value: np.ndarray
    group_entity: np.ndarray
    group_start: np.ndarray
    old_group: np.ndarray
    items: np.ndarray  # positions in ts / seq / place
    item_group: np.ndarray
    ts: np.ndarray
    seq: np.ndarray
    place: np.ndarray


class _Settle:
    """One consumer over one chunk."""

    def __init__(
        self,
        consumer: Consumer,
        horizon: int,
        chunk: Chunk,
        old: list[State | None],
        shared: dict[tuple[Any, ...], Any] | None = None,
    ) -> None:
        self.any_old = shared is None
        self.shared = shared
        self.c = consumer
        self.horizon = horizon
        self.chunk = chunk
        self.old = old
        self.column = chunk.columns[consumer.column]

    def run(self) -> Settled:
        c = self.c
        key = (c.column, c.field, c.gate, c.window, c.bucket)
        if self.shared is None:
            layout = self._layout()
        else:
            layout = self.shared.get(key) or self.shared.setdefault(key, self._layout())
        out = Settled(
            consumer=c,
            entities=self.chunk.entities,
            pool=layout.pool,
            group_entity=layout.group_entity,
            group_start=layout.group_start,
            partials=None,
            latest=None,
            p_entity=layout.p_entity,
            p_ts=layout.p_ts,
            p_seq=layout.p_seq,
            p_available=layout.p_available,
            p_value=layout.p_value,
        )
        fn = c.fn
        if fn == "last":
            out.latest = self._latest(layout)
        elif fn == "distinct_count":
            out.states = self._distinct(out, layout)
        elif fn in ("min", "max"):
            out.partials = self._extremes(layout)
        else:
            kind = (*key, "sum" if fn == "mean" else fn)  # a mean keeps a sum's partials
            found = None if self.shared is None else self.shared.get(kind)
            if found is None:
                found = self._moments(layout)
                if self.shared is not None:
                    self.shared[kind] = found
            out.partials = found
        return out

    def _layout(self) -> _Layout:
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
        new = np.flatnonzero(keep) if not keep.all() else np.arange(len(keep))
        # stored pending events first, then the new ones, per entity
        old_entity: list[int] = []
        old_events: list[list[Any]] = []
        if self.any_old:
            for e, state in enumerate(self.old):
                if state is not None:
                    old_events.extend(state["p"])
                    old_entity.extend([e] * len(state["p"]))
        n_old = len(old_events)
        stored_values = [p[3] for p in old_events]
        # stored partials holding values (last, Fields, min, max) join the pool after them
        stored_partials = self._stored_partials()
        if c.fn in ("last", "min", "max"):
            for partial in stored_partials[2]:
                stored_values.append(partial[2] if c.fn == "last" else partial)
        n_stored = len(stored_values)
        pool = Pool.of(stored_values, column, new)
        if n_old:
            entity = np.concatenate((np.array(old_entity, np.int64), chunk.entity[new]))
            ts = np.concatenate((np.array([p[0] for p in old_events], np.int64), chunk.ts[new]))
            seq = np.concatenate((np.array([p[1] for p in old_events], np.int64), chunk.seq[new]))
        else:
            entity, ts, seq = chunk.entity[new], chunk.ts[new], chunk.seq[new]
        # pool position of each item (before the entity sort)
        place = np.concatenate((np.arange(n_old), n_stored + np.arange(len(new)))).astype(np.int64)
        available = None
        if c.gate is not None:
            available = np.concatenate(
                (np.array([p[2] for p in old_events], np.int64), chunk.gates[c.gate][0][new])
            )
        if n_old:
            order = np.argsort(entity, kind="stable")
            entity, ts, seq, place = entity[order], ts[order], seq[order], place[order]
            if available is not None:
                available = available[order]
        # Consumer.settle: dropped, folded or still pending
        window, bucket, horizon = c.window, c.bucket, self.horizon
        if window is not None:
            edge = horizon - horizon % bucket
            oldest = edge - window
            starts = ts - ts % bucket
            dropped = ts < oldest
            folded = ~dropped & (starts + bucket <= edge)
        else:
            starts = np.zeros(len(ts), np.int64)
            dropped = np.zeros(len(ts), dtype=bool)
            folded = ts < horizon
        if available is not None:
            folded &= available < horizon
        pending = np.flatnonzero(~dropped & ~folded)
        folded_at = np.flatnonzero(folded)
        # groups of the folded events and stored partials: (entity, bucket start)
        old_entity_p, old_start, _ = stored_partials
        n_partials = len(old_entity_p)
        keys_entity = np.concatenate((np.array(old_entity_p, np.int64), entity[folded_at]))
        keys_start = np.concatenate((np.array(old_start, np.int64), starts[folded_at]))
        if n_partials == 0 and _ordered(keys_entity, keys_start):  # events came in time order
            by_key = np.arange(len(keys_entity))
        else:
            by_key = np.lexsort((keys_start, keys_entity))
        sorted_entity, sorted_start = keys_entity[by_key], keys_start[by_key]
        first = np.ones(len(by_key), dtype=bool)
        first[1:] = (sorted_entity[1:] != sorted_entity[:-1]) | (
            sorted_start[1:] != sorted_start[:-1]
        )
        group = np.empty(len(by_key), np.int64)
        group[by_key] = np.cumsum(first) - 1
        item_group = group[n_partials:]
        in_group = (  # by group, then in order
            np.arange(len(item_group))
            if _ordered(item_group)
            else np.argsort(item_group, kind="stable")
        )
        return _Layout(
            pool=pool,
            n_old=n_old,
            stored_partials=stored_partials,
            p_entity=entity[pending],
            p_ts=ts[pending],
            p_seq=seq[pending],
            p_available=None if available is None else available[pending],
            p_value=place[pending],
            group_entity=sorted_entity[first],
            group_start=sorted_start[first],
            old_group=group[:n_partials],
            items=folded_at[in_group],
            item_group=item_group[in_group],
            ts=ts,
            seq=seq,
            place=place,
        )

    def _stored_partials(self) -> tuple[list[int], list[int], list[Any]]:
        """The stored partials still in reach: (entity, bucket start or 0, partial)."""
        c = self.c
        horizon = self.horizon
        oldest = None
        if c.window is not None:
            oldest = horizon - horizon % c.bucket - c.window
        old_entity: list[int] = []
        old_start: list[int] = []
        old_partial: list[Any] = []
        if not self.any_old:
            return old_entity, old_start, old_partial
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
        return old_entity, old_start, old_partial

    def _extremes(self, layout: _Layout) -> Partials:
        """min / max of each group: pool values."""
        fn = self.c.fn
        n_partials = len(layout.old_group)
        values = layout.pool.values
        acc = empty(fn, len(layout.group_entity), values.dtype)
        acc.has[layout.old_group] = True
        # the stored partials' pool positions: after the stored pending events
        acc.columns[0][layout.old_group] = values[layout.n_old + np.arange(n_partials)]
        fold(fn, acc, layout.item_group, values[layout.place[layout.items]])
        return acc

    def _moments(self, layout: _Layout) -> Partials:
        """count / sum / mean / std of each group."""
        fn = self.c.fn
        items = layout.items
        # a count does not read the values
        if fn == "count":
            x = np.zeros(len(items))
        else:
            x = layout.pool.numbers(layout.place[items], True)
        acc = empty(fn, len(layout.group_entity), x.dtype)
        old_partial = layout.stored_partials[2]
        if old_partial:
            stored = from_python(fn, old_partial, x.dtype)
            acc.has[layout.old_group] = True
            for mine, theirs in zip(acc.columns, stored.columns, strict=True):
                mine[layout.old_group] = theirs
        fold(fn, acc, layout.item_group, x)
        return acc

    def _latest(self, layout: _Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ts, seq, pool position of the value)`` of the latest (by ts, then arrival) of
        each group. A group's items come in arrival order, after its stored partial."""
        old_group, old_partial = layout.old_group, layout.stored_partials[2]
        items, item_group = layout.items, layout.item_group
        ts, seq, place = layout.ts, layout.seq, layout.place
        groups = len(layout.group_entity)
        win_ts = np.full(groups, np.iinfo(np.int64).min, np.int64)
        win_seq = np.zeros(groups, np.int64)
        win_place = np.zeros(groups, np.int64)
        if len(items):
            item_ts = ts[items]
            first = np.flatnonzero(np.concatenate(([True], item_group[1:] != item_group[:-1])))
            newest = np.maximum.reduceat(item_ts, first)
            sizes = np.diff(np.append(first, len(items)))
            at = np.where(item_ts == np.repeat(newest, sizes), np.arange(len(items)), -1)
            last = np.maximum.reduceat(at, first)  # the last of the newest: latest by seq
            owner = item_group[first]
            win_ts[owner] = item_ts[last]
            win_seq[owner] = seq[items[last]]
            win_place[owner] = place[items[last]]
        if len(old_partial):
            old_ts = np.array([p[0] for p in old_partial], np.int64)
            old_seq = np.array([p[1] for p in old_partial], np.int64)
            # a stored partial arrived before every new item: it wins only by a later time
            wins = (old_ts > win_ts[old_group]) | (
                (old_ts == win_ts[old_group]) & (old_seq > win_seq[old_group])
            )
            mine = old_group[wins]
            win_ts[mine] = old_ts[wins]
            win_seq[mine] = old_seq[wins]
            win_place[mine] = layout.n_old + np.flatnonzero(wins)
        return win_ts, win_seq, win_place

    def _distinct(self, out: Settled, layout: _Layout) -> list[State]:
        """Python states (values in order of first appearance per group)."""
        old_group, old_partial = layout.old_group, layout.stored_partials[2]
        items, item_group, place = layout.items, layout.item_group, layout.place
        groups = len(out.group_entity)
        partials: list[Any] = [None] * groups
        for g, partial in zip(old_group.tolist(), old_partial, strict=True):
            partials[g] = list(partial)
        seen: list[set[Any] | None] = [None] * groups
        for g, value in zip(item_group.tolist(), layout.pool.python(place[items]), strict=True):
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
        entities = out.entities
        if self.c.window is not None:
            buckets = [[s, p] for s, p in zip(out.group_start.tolist(), partials, strict=True)]
            bounds = np.searchsorted(out.group_entity, np.arange(entities + 1)).tolist()
            settled: list[Any] = [buckets[bounds[e] : bounds[e + 1]] for e in range(entities)]
        else:
            settled = [None] * entities
            for e, partial in zip(out.group_entity.tolist(), partials, strict=True):
                settled[e] = partial
        bounds = np.searchsorted(out.p_entity, np.arange(entities + 1)).tolist()
        values = layout.pool.python(out.p_value)
        available = (
            out.p_available.tolist() if out.p_available is not None else [None] * len(values)
        )
        rows = [
            list(r)
            for r in zip(out.p_ts.tolist(), out.p_seq.tolist(), available, values, strict=True)
        ]
        return [{"s": settled[e], "p": rows[bounds[e] : bounds[e + 1]]} for e in range(entities)]


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
        name: Values.of(table.column(name).take(take).combine_chunks())
        for name in dict.fromkeys(c.column for c in consumers)
    }
    gates = {
        name: (times[rows], None if nulls is None else nulls[rows])
        for name, (times, nulls) in gate_times.items()
    }
    seq = batch.seq0 + batch.arrival[rows].astype(np.int64)
    return Chunk(last - first, entity, timestamps[rows], seq, columns, gates)
