"""The records of a chunk of entities from their settled arrays: each feature's value at a
time (the record's front) and its state, with array operations.

:meth:`dockyard.features.partials.Consumer.value` is the reference, merge for merge: the
same order of float operations, so the values are bit for bit those of a lookup that
decodes the record and computes them one entity at a time (the bulk tests compare bytes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dockyard.features.bulk import Settled
from dockyard.features.folds import Partials, fold, rounds
from dockyard.features.partials import NEVER, Consumer
from dockyard.features.record_format import SlotWriter, write_state
from dockyard.features.slots import (
    Column,
    Piece,
    combine,
    one_per_entity,
    records,
    rows,
    written,
)
from dockyard.features.windows import floor_to


def chunk_records(settled: Sequence[Settled], entities: int, now: int, seq: int) -> list[bytes]:
    """Each entity's record: the values at ``now`` (after arrival ``seq``) and the states."""
    until = np.full(entities, NEVER, np.int64)
    values = []
    for s in settled:
        column, changes = front_value(s, now)
        values.append(column)
        np.minimum(until, changes, out=until)
    front = rows(
        np.ones(entities, np.int64),
        [Column.ints(now, entities), Column.ints(until), Column.ints(seq, entities), *values],
    )
    return records(combine([front]), combine([p for s in settled for p in state_slots(s)]))


def state_slots(s: Settled) -> list[Piece]:
    """One feature's part of each entity's state section."""
    c = s.consumer
    if s.states is not None:
        return [_python_states(c, s.states)]
    counts = np.bincount(s.group_entity, minlength=s.entities).astype(np.int64)
    parts = _partial_columns(s)
    if c.window is not None:
        parts = [Column.ints(s.group_start), *parts]
    waiting = np.bincount(s.p_entity, minlength=s.entities).astype(np.int64)
    available = Column.nulls(len(s.p_ts)) if s.p_available is None else Column.ints(s.p_available)
    return [
        one_per_entity(Column.ints(counts)),
        rows(counts, parts),
        one_per_entity(Column.ints(waiting)),
        rows(
            waiting,
            [Column.ints(s.p_ts), Column.ints(s.p_seq), available, s.pool.column(s.p_value)],
        ),
    ]


def _partial_columns(s: Settled) -> list[Column]:
    fn = s.consumer.fn
    if s.latest is not None:
        ts, seq, place = s.latest
        return [Column.ints(ts), Column.ints(seq), s.pool.column(place)]
    assert s.partials is not None
    columns = s.partials.columns
    if fn in ("min", "max"):
        return [Column.of(columns[0])]
    return [Column.ints(columns[0]), *(Column.floats(c) for c in columns[1:])]


def _python_states(c: Consumer, states: list[dict[str, object]]) -> Piece:
    writer = SlotWriter()
    counts = np.empty(len(states), np.int64)
    for e, state in enumerate(states):
        before = len(writer.tags)
        write_state(writer, c, state)
        counts[e] = len(writer.tags) - before
    return rows(counts, [written(writer)])


def front_value(s: Settled, t: int) -> tuple[Column, np.ndarray]:
    """Each entity's value at ``t`` and the first later time at which it may change."""
    c = s.consumer
    entities = s.entities
    if s.states is not None:  # distinct_count: one entity at a time
        found = [c.value(state, t) for state in s.states]
        values = np.array([v for v, _ in found], dtype=np.int64)
        return Column.ints(values), np.array([u for _, u in found], np.int64)
    until = np.full(entities, NEVER, np.int64)
    start: int | None = None
    in_window = np.ones(len(s.group_entity), dtype=bool)
    if c.window is not None:
        current = floor_to(t, c.bucket)
        start = current - c.window
        until[:] = current + c.bucket
        in_window = (s.group_start >= start) & (s.group_start < current)
    known_at = s.p_ts if s.p_available is None else np.maximum(s.p_ts, s.p_available)
    later = known_at >= t
    if later.any():
        np.minimum.at(until, s.p_entity[later], known_at[later] + 1)
    use = ~later
    if start is not None:
        use &= s.p_ts >= start
    used = np.flatnonzero(use)
    groups = np.flatnonzero(in_window)
    if s.latest is not None:
        return _latest_value(s, t, groups, used, until)
    assert s.partials is not None
    fn = c.fn
    owner = s.group_entity[groups]
    p_owner = s.p_entity[used]
    if fn in ("min", "max"):
        values = s.partials.columns[0]
        acc = Partials(np.zeros(entities, bool), [np.empty(entities, values.dtype)])
        items = np.concatenate((groups, len(values) + used))
        pool = np.concatenate((values, s.pool.values[s.p_value]))
        item_owner = np.concatenate((owner, p_owner))
        order = np.argsort(item_owner, kind="stable")
        fold(fn, acc, item_owner[order], pool[items[order]])
        column = Column.of(acc.columns[0], ~acc.has)
        return column, until
    if fn in ("count", "sum", "mean"):
        acc = _sums(s, groups, owner, entities, windowed=c.window is not None)
        x = np.zeros(len(used)) if fn == "count" else s.pool.numbers(s.p_value[used], True)
        fold(fn, acc, p_owner, x)
        n, total = acc.columns
        if fn == "count":
            return Column.ints(np.where(acc.has, n, 0)), until
        if fn == "sum":
            return Column.of(total, ~acc.has), until
        with np.errstate(divide="ignore", invalid="ignore"):
            return Column.of(total / np.where(acc.has, n, 1), ~acc.has), until
    # std
    acc = _moments(s, groups, owner, entities)
    fold(fn, acc, p_owner, s.pool.numbers(s.p_value[used], True))
    n, _, m2 = acc.columns
    with np.errstate(divide="ignore", invalid="ignore"):
        return Column.of(np.sqrt(m2 / np.where(acc.has, n, 1)), ~acc.has), until


def _sums(
    s: Settled, groups: np.ndarray, owner: np.ndarray, entities: int, windowed: bool
) -> Partials:
    """The merged ``[n, sum]`` of each entity's settled partials in reach."""
    assert s.partials is not None
    n_part, s_part = s.partials.columns
    n = np.zeros(entities, np.int64)
    total = np.zeros(entities, np.float64)
    if not windowed:  # the one partial over all history, as stored
        has = np.zeros(entities, bool)
        has[owner] = s.partials.has[groups]
        n[owner] = n_part[groups]
        total[owner] = s_part[groups]
        return Partials(has, [n, total])
    # as _over_buckets: 0 and 0.0, plus each bucket in order; none when the count is 0
    np.add.at(n, owner, n_part[groups])
    for at in rounds(owner):
        total[owner[at]] = total[owner[at]] + s_part[groups[at]]
    return Partials(n > 0, [n, total])


def _moments(s: Settled, groups: np.ndarray, owner: np.ndarray, entities: int) -> Partials:
    """The merged ``[n, mean, m2]`` of each entity's settled partials in reach, merged in
    order as :func:`dockyard.features.partials.merge_moments` does."""
    assert s.partials is not None
    sn, smean, sm2 = s.partials.columns
    has = np.zeros(entities, bool)
    n = np.zeros(entities, np.int64)
    mean = np.zeros(entities, np.float64)
    m2 = np.zeros(entities, np.float64)
    for at in rounds(owner):
        g = owner[at]
        b0, b1, b2 = sn[groups[at]], smean[groups[at]], sm2[groups[at]]
        h = has[g]
        a0, a1, a2 = n[g], mean[g], m2[g]
        total = a0 + b0
        delta = b1 - a1
        with np.errstate(divide="ignore", invalid="ignore"):
            merged_mean = a1 + delta * b0 / total
            merged_m2 = a2 + b2 + delta * delta * a0 * b0 / total
        mean[g] = np.where(h, merged_mean, b1)
        m2[g] = np.where(h, merged_m2, b2)
        n[g] = np.where(h, total, b0)
        has[g] = True
    return Partials(has, [n, mean, m2])


def _latest_value(
    s: Settled, t: int, groups: np.ndarray, used: np.ndarray, until: np.ndarray
) -> tuple[Column, np.ndarray]:
    """Fields and ``last``: the latest (by ts, then arrival) of the settled partials in
    reach and the known pending events; null past the view's TTL."""
    assert s.latest is not None
    ts, seq, place = s.latest
    owner = np.concatenate((s.group_entity[groups], s.p_entity[used]))
    cand_ts = np.concatenate((ts[groups], s.p_ts[used]))
    cand_seq = np.concatenate((seq[groups], s.p_seq[used]))
    cand_place = np.concatenate((place[groups], s.p_value[used]))
    by = np.lexsort((cand_seq, cand_ts, owner))
    last = np.ones(len(by), dtype=bool)
    last[:-1] = owner[by][1:] != owner[by][:-1]
    winners = by[last]
    entities = s.entities
    has = np.zeros(entities, bool)
    has[owner[winners]] = True
    column = Column.nulls(entities)
    if len(winners):
        found = s.pool.column(cand_place[winners])
        at = owner[winners]
        column.tags[at] = found.tags
        column.words[at] = found.words
        if found.objects is not None:
            column.objects = np.empty(entities, dtype=object)
            column.objects[at] = found.objects
        ttl = s.consumer.ttl
        if ttl is not None:
            latest_ts = cand_ts[winners]
            expired = latest_ts < t - ttl
            gone = at[expired]
            column.tags[gone] = 0
            column.words[gone] = 0
            if column.objects is not None:
                column.objects[gone] = None
            alive = ~expired
            np.minimum.at(until, at[alive], latest_ts[alive] + ttl + 1)
    return column, until
