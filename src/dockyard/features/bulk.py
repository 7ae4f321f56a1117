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

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dockyard.features.folds import Partials, empty, fold, objects
from dockyard.features.partials import Consumer, State
from dockyard.features.record_format import FALSE, FLOAT, INT, NULL, TRUE
from dockyard.features.slots import Column, concat_columns
from dockyard.features.stored import StoredConsumer, read_stored


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
    def of(cls, stored: Column | None, fresh: Values, new: np.ndarray) -> Pool:
        values = fresh.values[new]
        nulls = None if fresh.nulls is None else fresh.nulls[new]
        if stored is None or not len(stored):
            return cls(values, nulls)
        kind = values.dtype.kind
        tags = stored.tags
        missing = tags == NULL
        fits = {
            "f": tags == FLOAT,
            "i": tags == INT,
            "u": tags == INT,
            "b": (tags == TRUE) | (tags == FALSE),
        }.get(kind)
        if fits is not None and bool(np.all(fits | missing)):  # they keep their tags
            if kind == "f":
                own = stored.words.view(np.float64).astype(values.dtype)
            elif kind == "b":
                own = tags == TRUE
            else:
                own = stored.words.astype(values.dtype)
            if nulls is None and not missing.any():
                return cls(np.concatenate((own, values)), None)
            if nulls is None:
                nulls = np.zeros(len(values), dtype=bool)
            return cls(np.concatenate((own, values)), np.concatenate((missing, nulls)))
        fresh_objects = objects(Values(values, nulls).python(np.arange(len(values))))
        return cls(np.concatenate((objects(stored.python()), fresh_objects)), None)

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
    consumers: Sequence[Consumer], horizon: int, chunk: Chunk, raws: Sequence[bytes | None]
) -> list[Settled]:
    """Each consumer's states after adding the chunk's events to the stored records
    ``raws`` (one per entity; None for a new one) and settling them against ``horizon``."""
    stored = read_stored(raws, consumers)
    # Without stored states, features over the same column, window and bucket share the
    # layout of their events and groups (a sum and a mean share their partials too).
    shared: dict[tuple[Any, ...], Any] | None = None if stored is not None else {}
    return [
        _Settle(consumer, horizon, chunk, None if stored is None else stored[i], shared).run()
        for i, consumer in enumerate(consumers)
    ]


@dataclass
class _Layout:
    """Where a consumer's events go: the value pool, the pending events and the groups of
    the folded ones (items by group, then in order)."""

    pool: Pool
    new: np.ndarray  # the chunk's events kept
    n_old: int
    stored: StoredConsumer | None  # its partials: those still in reach
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
        stored: StoredConsumer | None,
        shared: dict[tuple[Any, ...], Any] | None = None,
    ) -> None:
        self.shared = shared
        self.c = consumer
        self.horizon = horizon
        self.chunk = chunk
        self.stored = stored
        self.column = chunk.columns[consumer.column]

    def run(self) -> Settled:
        c = self.c
        # the column matters to the layout only through its nulls (Fields keep them all)
        nulls = not c.field and self.column.nulls is not None
        key = (c.column if nulls else None, c.field, c.gate, c.window, c.bucket)
        if self.shared is None:
            layout = self._layout()
        else:
            layout = self.shared.get(key) or self.shared.setdefault(key, self._layout())
            pools = self.shared.setdefault(("pool",), {})
            pool = pools.get((c.column, key))
            if pool is None:  # without stored values the pool is the column at `new`
                pool = pools[(c.column, key)] = Pool.of(None, self.column, layout.new)
            layout = dataclasses.replace(layout, pool=pool)
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
            kind = (c.column, *key, "sum" if fn == "mean" else fn)  # a mean keeps a sum's
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
        stored = self.stored
        window, bucket, horizon = c.window, c.bucket, self.horizon
        if stored is not None and window is not None:  # buckets no window reaches any more
            stored = stored.take_partials(stored.s_start >= horizon - horizon % bucket - window)
        n_old = 0 if stored is None else len(stored.p_ts)
        values: Column | None = None
        if stored is not None:
            # stored partials holding values (last, Fields, min, max) join the pool after them
            values = stored.p_value
            if c.fn in ("last", "min", "max"):
                partial_values = stored.fields[2 if c.fn == "last" else 0]
                values = concat_columns([values, partial_values])
        pool = Pool.of(values, column, new)
        n_stored = 0 if values is None else len(values)
        if stored is not None:
            entity = np.concatenate((stored.p_entity, chunk.entity[new]))
            ts = np.concatenate((stored.p_ts, chunk.ts[new]))
            seq = np.concatenate((stored.p_seq, chunk.seq[new]))
        else:
            entity, ts, seq = chunk.entity[new], chunk.ts[new], chunk.seq[new]
        # pool position of each item (before the entity sort)
        place = np.concatenate((np.arange(n_old), n_stored + np.arange(len(new)))).astype(np.int64)
        available = None
        if c.gate is not None:
            gate_times = chunk.gates[c.gate][0][new]
            available = (
                gate_times if stored is None else np.concatenate((stored.p_available, gate_times))
            )
        if n_old:
            order = np.argsort(entity, kind="stable")
            entity, ts, seq, place = entity[order], ts[order], seq[order], place[order]
            if available is not None:
                available = available[order]
        # Consumer.settle: dropped, folded or still pending
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
        n_partials = 0 if stored is None else len(stored.s_entity)
        if stored is not None:
            keys_entity = np.concatenate((stored.s_entity, entity[folded_at]))
            keys_start = np.concatenate((stored.s_start, starts[folded_at]))
        else:
            keys_entity, keys_start = entity[folded_at], starts[folded_at]
        ordered = n_partials == 0 and _ordered(keys_entity, keys_start)  # in time order
        by_key = None if ordered else np.lexsort((keys_start, keys_entity))
        sorted_entity = keys_entity if by_key is None else keys_entity[by_key]
        sorted_start = keys_start if by_key is None else keys_start[by_key]
        first = np.ones(len(sorted_entity), dtype=bool)
        first[1:] = (sorted_entity[1:] != sorted_entity[:-1]) | (
            sorted_start[1:] != sorted_start[:-1]
        )
        rank = np.cumsum(first) - 1
        if by_key is None:
            group = rank
        else:
            group = np.empty(len(by_key), np.int64)
            group[by_key] = rank
        item_group = group[n_partials:]
        if by_key is None or _ordered(item_group):  # by group, then in order
            items, in_order = folded_at, item_group
        else:
            in_group = np.argsort(item_group, kind="stable")
            items, in_order = folded_at[in_group], item_group[in_group]
        return _Layout(
            pool=pool,
            new=new,
            n_old=n_old,
            stored=stored,
            p_entity=entity[pending],
            p_ts=ts[pending],
            p_seq=seq[pending],
            p_available=None if available is None else available[pending],
            p_value=place[pending],
            group_entity=sorted_entity[first],
            group_start=sorted_start[first],
            old_group=group[:n_partials],
            items=items,
            item_group=in_order,
            ts=ts,
            seq=seq,
            place=place,
        )

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
        stored = layout.stored
        if stored is not None and len(stored.s_entity):
            acc.has[layout.old_group] = True
            n, *moments = stored.fields  # an int64 count, then float64 sums or moments
            acc.columns[0][layout.old_group] = n.words
            for mine, theirs in zip(acc.columns[1:], moments, strict=True):
                mine[layout.old_group] = theirs.words.view(np.float64)
        fold(fn, acc, layout.item_group, x)
        return acc

    def _latest(self, layout: _Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ts, seq, pool position of the value)`` of the latest (by ts, then arrival) of
        each group. A group's items come in arrival order, after its stored partial."""
        old_group, stored = layout.old_group, layout.stored
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
        if stored is not None and len(stored.s_entity):
            old_ts, old_seq = stored.fields[0].words, stored.fields[1].words
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
        old_group = layout.old_group
        old_partial = [] if layout.stored is None else layout.stored.lists or []
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
