"""Online records of many entities at once, with array operations (materialization).

The bytes are those of :mod:`dockyard.features.record_format`, slot for slot: a
:class:`Column` holds typed slots (tags and 8-byte words), a :class:`Ragged` the slots of
each entity in turn, and :func:`records` lays out each entity's front and state sections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dockyard.features.record_format import (
    FALSE,
    FLOAT,
    INT,
    NULL,
    OBJ,
    TRUE,
    VERSION,
    SlotWriter,
    dump_objects,
    section_head,
)


@dataclass
class Column:
    """Typed slots: ``tags`` (uint8), ``words`` (int64; a float's IEEE bits) and, where the
    tag is an object, the Python value in ``objects`` (None when no slot is one)."""

    tags: np.ndarray
    words: np.ndarray
    objects: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tags)

    @classmethod
    def ints(cls, values: np.ndarray | int, count: int | None = None) -> Column:
        words = np.asarray(values, dtype=np.int64)
        if count is not None:
            words = np.full(count, words, dtype=np.int64)
        return cls(np.full(len(words), INT, np.uint8), words)

    @classmethod
    def floats(cls, values: np.ndarray) -> Column:
        words = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
        return cls(np.full(len(words), FLOAT, np.uint8), words)

    @classmethod
    def nulls(cls, count: int) -> Column:
        return cls(np.full(count, NULL, np.uint8), np.zeros(count, np.int64))

    @classmethod
    def of(cls, values: np.ndarray, nulls: np.ndarray | None = None) -> Column:
        """Values of a column's own type (float64, int64, bool or Python objects), tagged
        as :class:`~dockyard.features.record_format.SlotWriter` tags them."""
        kind = values.dtype.kind
        if kind == "f":
            out = cls.floats(values)
        elif kind in "iu":
            out = cls.ints(values)
        elif kind == "b":
            tags = np.where(values, TRUE, FALSE).astype(np.uint8)
            out = cls(tags, np.zeros(len(values), np.int64))
        else:
            out = _python(values)
        if nulls is not None and nulls.any():
            out.tags[nulls] = NULL
            out.words[nulls] = 0
            if out.objects is not None:
                out.objects[nulls] = None
        return out

    def python(self) -> list[Any]:
        """The Python values of the slots."""
        ints = self.words.tolist()
        floats = self.words.view(np.float64).tolist()
        named = {NULL: None, TRUE: True, FALSE: False}
        out: list[Any] = []
        for i, tag in enumerate(self.tags.tolist()):
            if tag == INT:
                out.append(ints[i])
            elif tag == FLOAT:
                out.append(floats[i])
            elif tag == OBJ:
                assert self.objects is not None
                out.append(self.objects[i])
            else:
                out.append(named[tag])
        return out

    def take(self, at: np.ndarray) -> Column:
        return Column(
            self.tags[at], self.words[at], None if self.objects is None else self.objects[at]
        )


def concat_columns(columns: Sequence[Column]) -> Column:
    """The slots of ``columns`` one after the other."""
    objects = None
    if any(c.objects is not None for c in columns):
        objects = np.concatenate(
            [c.objects if c.objects is not None else np.empty(len(c), object) for c in columns]
        )
    return Column(
        np.concatenate([c.tags for c in columns]),
        np.concatenate([c.words for c in columns]),
        objects,
    )


def _python(values: np.ndarray) -> Column:
    """Python values, tagged one by one."""
    writer = SlotWriter()
    for value in values.tolist():
        writer.value(value)
    return written(writer)


def written(writer: SlotWriter) -> Column:
    """The slots a :class:`~dockyard.features.record_format.SlotWriter` wrote, as a Column."""
    tags = np.frombuffer(bytes(writer.tags), np.uint8).copy()
    words = np.zeros(len(tags), np.int64)
    numbers = writer.words
    for tag, kind in ((INT, np.int64), (FLOAT, np.float64)):
        at = np.flatnonzero(tags == tag)
        if len(at):
            words[at] = np.array([numbers[i] for i in at], kind).view(np.int64)
    objects = None
    if writer.objects:
        objects = np.empty(len(tags), dtype=object)
        objects[tags == OBJ] = _object_array(writer.objects)
    return Column(tags, words, objects)


def _object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


@dataclass
class Ragged:
    """The slots of entities 0, 1, ...: ``counts`` per entity, ``column`` all of them in
    entity order."""

    counts: np.ndarray
    column: Column


@dataclass
class Piece:
    """Rows of fixed width: ``per_entity`` rows for each entity (in entity order), each
    row's slots the row's values of ``columns`` in turn."""

    per_entity: np.ndarray
    columns: Sequence[Column]


def rows(per_entity: np.ndarray, columns: Sequence[Column]) -> Piece:
    return Piece(np.asarray(per_entity, np.int64), columns)


def one_per_entity(column: Column) -> Piece:
    return Piece(np.ones(len(column), np.int64), [column])


def combine(pieces: Sequence[Piece]) -> Ragged:
    """Per entity, the slots of each piece in turn (each slot moved once)."""
    counts = np.sum([p.per_entity * len(p.columns) for p in pieces], axis=0)
    total = int(counts.sum())
    tags = np.empty(total, np.uint8)
    words = np.empty(total, np.int64)
    objects = None
    if any(c.objects is not None for p in pieces for c in p.columns):
        objects = np.empty(total, dtype=object)
    offset = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for piece in pieces:
        width = len(piece.columns)
        size = len(piece.columns[0])
        if size:
            first_row = np.concatenate(([0], np.cumsum(piece.per_entity)[:-1]))
            base = np.repeat(offset - first_row * width, piece.per_entity)
            base += np.arange(0, size * width, width)
            for j, column in enumerate(piece.columns):
                at = base + j if j else base
                tags[at] = column.tags
                words[at] = column.words
                if objects is not None and column.objects is not None:
                    objects[at] = column.objects
        offset += piece.per_entity * width
    return Ragged(counts, Column(tags, words, objects))


def _sections(ragged: Ragged) -> tuple[np.ndarray, bytes, bytes, list[bytes]]:
    """Per entity: slot offsets, all tags, all words and each entity's objects JSON."""
    counts, column = ragged.counts, ragged.column
    bounds = np.concatenate(([0], np.cumsum(counts)))
    entities = len(counts)
    dumps: list[bytes] = [b""] * entities
    words = column.words
    is_obj = column.tags == OBJ
    if is_obj.any():
        assert column.objects is not None
        words = words.copy()
        owner = np.repeat(np.arange(entities), counts)[is_obj]
        rank = np.arange(len(owner)) - np.searchsorted(owner, owner)
        words[is_obj] = rank
        found = column.objects[is_obj]
        edges = np.searchsorted(owner, np.arange(entities + 1))
        for e in np.unique(owner).tolist():
            dumps[e] = dump_objects(found[edges[e] : edges[e + 1]].tolist())
    return bounds, column.tags.tobytes(), words.astype("<i8", copy=False).tobytes(), dumps


def records(front: Ragged, state: Ragged) -> list[bytes]:
    """Each entity's record: its front then its state section."""
    head = bytes((VERSION,))
    f_bounds, f_tags, f_words, f_objects = _sections(front)
    s_bounds, s_tags, s_words, s_objects = _sections(state)
    out = []
    for e in range(len(front.counts)):
        fa, fb = int(f_bounds[e]), int(f_bounds[e + 1])
        sa, sb = int(s_bounds[e]), int(s_bounds[e + 1])
        out.append(
            b"".join(
                (
                    head,
                    section_head(fb - fa, len(f_objects[e])),
                    f_tags[fa:fb],
                    f_words[8 * fa : 8 * fb],
                    f_objects[e],
                    section_head(sb - sa, len(s_objects[e])),
                    s_tags[sa:sb],
                    s_words[8 * sa : 8 * sb],
                    s_objects[e],
                )
            )
        )
    return out
