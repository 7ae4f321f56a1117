"""The stored records of a chunk of entities read into arrays, consumer by consumer.

The inverse of :func:`dockyard.features.slots.records` for the state section: the slots of
every record are laid end to end, and a cursor per entity walks each consumer's part
(:mod:`dockyard.features.record_format`) with array operations, so a write that touches
many stored entities (a large push, an incremental materialization) reads no value in
Python. Only a ``distinct_count``'s settled values (lists of any length) are read one
entity at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dockyard.features.partials import Consumer
from dockyard.features.record_format import (
    FALSE,
    FLOAT,
    INT,
    NULL,
    OBJ,
    TRUE,
    read_settled,
    section_parts,
    state_section,
)
from dockyard.features.slots import Column

_WIDTHS = {"count": 2, "sum": 2, "mean": 2, "std": 3, "min": 1, "max": 1, "last": 3}
"""Slots of one partial (distinct_count: variable)."""


@dataclass
class StoredConsumer:
    """One consumer's stored state over a chunk: pending events (by entity, in stored
    order) and settled partials (by entity, then bucket start; ``start`` 0 for all history),
    the partial's slots in ``fields`` (``lists``: a distinct_count's values instead)."""

    p_entity: np.ndarray
    p_ts: np.ndarray
    p_seq: np.ndarray
    p_available: np.ndarray
    p_value: Column
    s_entity: np.ndarray
    s_start: np.ndarray
    fields: list[Column]
    lists: list[list[Any]] | None = None

    def take_partials(self, keep: np.ndarray) -> StoredConsumer:
        """The same with only the settled partials at ``keep`` (a mask)."""
        at = np.flatnonzero(keep)
        return StoredConsumer(
            self.p_entity,
            self.p_ts,
            self.p_seq,
            self.p_available,
            self.p_value,
            self.s_entity[at],
            self.s_start[at],
            [f.take(at) for f in self.fields],
            None if self.lists is None else [self.lists[i] for i in at.tolist()],
        )


class _Slots:
    """Every record's state slots end to end."""

    def __init__(self, raws: Sequence[bytes | None]) -> None:
        self.present = np.array([i for i, r in enumerate(raws) if r is not None], np.int64)
        tags: list[bytes] = []
        words: list[bytes] = []
        found: list[tuple[int, int, list[Any]]] = []
        starts: list[int] = []
        total = 0
        for raw in raws:
            if raw is None:
                continue
            t, w, objects = section_parts(raw, state_section(raw))
            tags.append(t)
            words.append(w)
            if objects:
                found.append((total, len(t), objects))
            starts.append(total)
            total += len(t)
        self.tags = np.frombuffer(b"".join(tags), np.uint8)
        self.words = np.frombuffer(b"".join(words), "<i8").astype(np.int64)
        self.objects: np.ndarray | None = None
        if found:
            self.objects = np.empty(total, dtype=object)
            for base, size, values in found:
                at = base + np.flatnonzero(self.tags[base : base + size] == OBJ)
                for i, value in zip(at.tolist(), values, strict=True):
                    self.objects[i] = value
        self.cursor = np.array(starts, np.int64)

    def column(self, at: np.ndarray) -> Column:
        return Column(
            self.tags[at].copy(),
            self.words[at].copy(),
            None if self.objects is None else self.objects[at],
        )

    def python(self, at: int) -> Any:
        """The Python value of one slot."""
        tag = int(self.tags[at])
        if tag == INT:
            return int(self.words[at])
        if tag == FLOAT:
            return float(self.words[at : at + 1].view(np.float64)[0])
        if tag == NULL:
            return None
        if tag in (TRUE, FALSE):
            return tag == TRUE
        assert self.objects is not None
        return self.objects[at]

    def rows(self, counts: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The first slot of each of ``counts`` rows of ``width`` slots per entity at the
        cursors (and each row's entity, by chunk position); the cursors move past them."""
        total = int(counts.sum())
        first_row = np.concatenate(([0], np.cumsum(counts)[:-1]))
        at = np.repeat(self.cursor - first_row * width, counts) + np.arange(total) * width
        self.cursor = self.cursor + counts * width
        return at, np.repeat(self.present, counts)

    def count(self) -> np.ndarray:
        """The number at each cursor; the cursors move past it."""
        found = self.words[self.cursor]
        self.cursor = self.cursor + 1
        return found


def read_stored(
    raws: Sequence[bytes | None], consumers: Sequence[Consumer]
) -> list[StoredConsumer] | None:
    """Each consumer's stored state for the entities of ``raws`` (None where an entity has
    no record); None when none has one."""
    if all(raw is None for raw in raws):
        return None
    slots = _Slots(raws)
    out = []
    for c in consumers:
        lists: list[list[Any]] | None = None
        if c.fn == "distinct_count":
            s_entity, s_start, lists = _distinct(slots, c)
            fields: list[Column] = []
        else:
            width = _WIDTHS[c.fn]
            if c.window is not None:
                at, s_entity = slots.rows(slots.count(), 1 + width)
                s_start = slots.words[at]
                at = at + 1
            else:
                at, s_entity = slots.rows(slots.count(), width)
                s_start = np.zeros(len(at), np.int64)
            fields = [slots.column(at + j) for j in range(width)]
        p_at, p_entity = slots.rows(slots.count(), 4)
        out.append(
            StoredConsumer(
                p_entity=p_entity,
                p_ts=slots.words[p_at],
                p_seq=slots.words[p_at + 1],
                p_available=slots.words[p_at + 2],
                p_value=slots.column(p_at + 3),
                s_entity=s_entity,
                s_start=s_start,
                fields=fields,
                lists=lists,
            )
        )
    return out


def _distinct(slots: _Slots, c: Consumer) -> tuple[np.ndarray, np.ndarray, list[list[Any]]]:
    """A distinct_count's settled lists, one entity at a time."""
    entity: list[int] = []
    start: list[int] = []
    lists: list[list[Any]] = []
    cursor = slots.cursor.copy()
    for i, e in enumerate(slots.present.tolist()):
        at = int(cursor[i])
        end = _settled_end(slots, at, c)
        values = [slots.python(k) for k in range(at, end)]
        settled, used = read_settled(values, 0, c)
        assert used == end - at
        if c.window is not None:
            for begins, partial in settled:
                entity.append(e)
                start.append(begins)
                lists.append(partial)
        elif settled is not None:
            entity.append(e)
            start.append(0)
            lists.append(settled)
        cursor[i] = end
    slots.cursor = cursor
    return np.array(entity, np.int64), np.array(start, np.int64), lists


def _settled_end(slots: _Slots, at: int, c: Consumer) -> int:
    """Where a distinct_count's settled part that starts at ``at`` ends."""
    words = slots.words
    if c.window is not None:
        count = int(words[at])
        at += 1
        for _ in range(count):
            at += 1  # the bucket's start
            at += 1 + int(words[at])
        return at
    if not words[at]:
        return at + 1
    return at + 2 + int(words[at + 1])
