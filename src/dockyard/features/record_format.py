"""The bytes of an entity's online record: typed 8-byte slots, never pickle.

A record is a version byte, then two *sections*: the *front* (the values computed when the
record was written: ``now``, ``until``, the view's arrival counter, then one value per
stored feature, in the view's order) and the *state* (per stored feature, in the same
order, its settled partials and pending events; :mod:`dockyard.features.partials`). A
lookup reads only the front.

A section is ``<II`` (``n`` slots, ``m`` bytes of objects), ``n`` tag bytes, ``n``
little-endian 8-byte words, then ``m`` bytes: a compact JSON array of the section's strings
(and integers past 64 bits), in slot order. Tags: null, int64, float64 (its IEEE bits, so
a value read back is the value written, NaN and -0.0 included), false, true, object (the
word: its index in that array).

A feature's state, slot by slot (``value``: any tagged slot):

- settled, windowed: the bucket count, then per bucket its start and its partial;
  over all history or a Field: 0, or 1 then the partial (a Field's: ``ts, seq, value``);
- pending: the event count, then per event ``ts, seq, available_at (or null), value``.

Partials: count / sum / mean ``n, sum``; std ``n, mean, m2``; min / max ``value``; last
``ts, seq, value``; distinct_count the number of values, then the values.

This module writes and reads records one at a time (pushes, lookups);
:mod:`dockyard.features.slots` writes the same bytes for many entities with array
operations (materialization).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

from dockyard.features.errors import InvalidDefinition
from dockyard.features.partials import Consumer, Record, State

VERSION = 2
"""Written first in every record; a record of another version is not read."""
NULL, INT, FLOAT, FALSE, TRUE, OBJ = range(6)
_HEAD = struct.Struct("<II")
_FORMATS = bytes.maketrans(bytes(range(6)), b"qqdqqq")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def dump_objects(values: Sequence[Any]) -> bytes:
    """The JSON array of a section's object slots (empty when there are none)."""
    if not values:
        return b""
    return json.dumps(list(values), separators=(",", ":"), allow_nan=True).encode()


def section_head(count: int, size: int) -> bytes:
    """The head of a section of ``count`` slots and ``size`` bytes of objects."""
    return _HEAD.pack(count, size)


class SlotWriter:
    """Slots of one section, appended in order: structural numbers (counts, times, arrival
    numbers, a partial's count) are int64 and a partial's sums and moments float64 by
    their place; values (of the source's columns) are tagged by their type."""

    __slots__ = ("objects", "tags", "words")

    def __init__(self) -> None:
        self.tags = bytearray()
        self.words: list[int | float] = []
        self.objects: list[Any] = []

    def value(self, value: Any) -> None:
        kind = type(value)
        if kind is float:
            self.tags.append(FLOAT)
            self.words.append(value)
        elif kind is int and _INT_MIN <= value <= _INT_MAX:
            self.tags.append(INT)
            self.words.append(value)
        elif value is None:
            self.tags.append(NULL)
            self.words.append(0)
        elif kind is bool:
            self.tags.append(TRUE if value else FALSE)
            self.words.append(0)
        else:
            self.tags.append(OBJ)
            self.words.append(len(self.objects))
            self.objects.append(value)

    def number(self, value: int) -> None:
        self.tags.append(INT)
        self.words.append(value)

    def section(self) -> bytes:
        count = len(self.tags)
        tags = bytes(self.tags)
        words = struct.pack("<" + tags.translate(_FORMATS).decode(), *self.words)
        objects = dump_objects(self.objects)
        return section_head(count, len(objects)) + tags + words + objects


_MOMENTS = {"count": b"\x01\x02", "sum": b"\x01\x02", "mean": b"\x01\x02", "std": b"\x01\x02\x02"}
"""The tags of the partials that are all numbers: a count, then sums or moments."""


def read_section(data: bytes, at: int) -> tuple[list[Any], int]:
    """The values of the section at ``at`` and the offset after it."""
    count, size = _HEAD.unpack_from(data, at)
    at += _HEAD.size
    tags = data[at : at + count]
    at += count
    values = list(struct.unpack_from("<" + tags.translate(_FORMATS).decode(), data, at))
    at += 8 * count
    if tags.translate(None, b"\x01\x02"):  # some slot is not a plain number
        objects = json.loads(data[at : at + size]) if size else []
        for i, tag in enumerate(tags):
            if tag == NULL:
                values[i] = None
            elif tag == FALSE:
                values[i] = False
            elif tag == TRUE:
                values[i] = True
            elif tag == OBJ:
                values[i] = objects[values[i]]
    return values, at + size


def _check(data: bytes) -> None:
    if not data or data[0] != VERSION:
        raise InvalidDefinition(
            "an online record of another format: rebuild the view's online values "
            "(dockyard features materialize --reset)"
        )


def write_partial(out: SlotWriter, fn: str, partial: Any) -> None:
    moments = _MOMENTS.get(fn)
    if moments is not None:
        out.tags += moments
        out.words += partial
    elif fn in ("min", "max"):
        out.value(partial)
    elif fn == "last":
        out.number(partial[0])
        out.number(partial[1])
        out.value(partial[2])
    else:  # distinct_count
        out.number(len(partial))
        for item in partial:
            out.value(item)


def write_state(out: SlotWriter, consumer: Consumer, state: State | None) -> None:
    """One stored feature's state (None: nothing yet)."""
    fn = consumer.fn
    settled = None if state is None else state["s"]
    if consumer.window is not None:
        buckets = settled or []
        out.number(len(buckets))
        moments = _MOMENTS.get(fn)
        if moments is not None:  # the common case, without a call per slot
            out.tags += (b"\x01" + moments) * len(buckets)
            for start, partial in buckets:
                out.words.append(start)
                out.words += partial
        else:
            for start, partial in buckets:
                out.number(start)
                write_partial(out, fn, partial)
    elif settled is None:
        out.number(0)
    else:
        out.number(1)
        write_partial(out, fn, settled)
    pending = [] if state is None else state["p"]
    out.number(len(pending))
    for ts, seq, available, value in pending:
        out.number(ts)
        out.number(seq)
        if available is None:
            out.tags.append(NULL)
            out.words.append(0)
        else:
            out.number(available)
        out.value(value)


def encode(
    now: int,
    until: int,
    seq: int,
    values: Sequence[Any],
    consumers: Sequence[Consumer],
    record: Record,
) -> bytes:
    """A record: the front (values computed at ``now``, valid until ``until``, after
    arrival ``seq``) and the state of each consumer."""
    front = SlotWriter()
    front.value(now)
    front.value(until)
    front.value(seq)
    for value in values:
        front.value(value)
    state = SlotWriter()
    for consumer in consumers:
        write_state(state, consumer, record.get(consumer.name))
    return bytes((VERSION,)) + front.section() + state.section()


def decode_front(data: bytes) -> tuple[int, int, int, list[Any]]:
    """``(now, until, seq, values)`` of a record's front."""
    _check(data)
    values, _ = read_section(data, 1)
    return values[0], values[1], values[2], values[3:]


def front_bytes(data: bytes) -> bytes:
    """The front section as stored (it differs whenever the record was rewritten: it holds
    the view's arrival counter)."""
    count, size = _HEAD.unpack_from(data, 1)
    return data[: 1 + _HEAD.size + 9 * count + size]


def _read_partial(values: list[Any], at: int, fn: str) -> tuple[Any, int]:
    if fn in ("min", "max"):
        return values[at], at + 1
    if fn in ("count", "sum", "mean"):
        return values[at : at + 2], at + 2
    if fn in ("std", "last"):
        return values[at : at + 3], at + 3
    count = values[at]
    return values[at + 1 : at + 1 + count], at + 1 + count


def read_settled(values: list[Any], at: int, consumer: Consumer) -> tuple[Any, int]:
    """One consumer's settled partials from a state section's values at ``at``."""
    fn = consumer.fn
    settled: Any
    if consumer.window is not None:
        settled = []
        count = values[at]
        at += 1
        for _ in range(count):
            start = values[at]
            partial, at = _read_partial(values, at + 1, fn)
            settled.append([start, partial])
        return settled, at
    if values[at]:
        return _read_partial(values, at + 1, fn)
    return None, at + 1


def state_section(data: bytes) -> int:
    """The offset of a record's state section."""
    _check(data)
    count, size = _HEAD.unpack_from(data, 1)
    return int(1 + _HEAD.size + 9 * count + size)


def section_parts(data: bytes, at: int) -> tuple[bytes, bytes, list[Any]]:
    """The tags, words and objects of the section at ``at``."""
    count, size = _HEAD.unpack_from(data, at)
    at += _HEAD.size
    tags = data[at : at + count]
    words = data[at + count : at + 9 * count]
    objects = json.loads(data[at + 9 * count : at + 9 * count + size]) if size else []
    return tags, words, objects


def decode_state(data: bytes | None, consumers: Sequence[Consumer]) -> Record:
    """The state of each consumer (an empty record for None)."""
    if data is None:
        return {}
    values, _ = read_section(data, state_section(data))
    record: Record = {}
    at = 0
    for consumer in consumers:
        settled, at = read_settled(values, at, consumer)
        count = values[at]
        at += 1
        pending = [values[at + 4 * i : at + 4 * i + 4] for i in range(count)]
        at += 4 * count
        record[consumer.name] = {"s": settled, "p": pending}
    return record
