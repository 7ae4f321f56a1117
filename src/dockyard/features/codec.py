"""The encoding of online records and view states: compact JSON, never pickle.

Values are JSON scalars (booleans, numbers, strings, null); Python's float repr round-trips
every float exactly, so a value read back equals the value written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(value, separators=(",", ":"), allow_nan=True).encode()


def decode(data: bytes | str | None) -> Any:
    """The value of :func:`encode` (None stays None)."""
    return None if data is None else json.loads(data)


def encode_record(computed: Any, record: Any) -> bytes:
    """An entity's stored bytes: the values computed when it was written (a small JSON
    line a lookup can read alone) and, after a newline, the full state (compact JSON
    escapes every newline inside strings, so the first one separates the two)."""
    return encode(computed) + b"\n" + encode(record)


def decode_computed(data: bytes) -> Any:
    """The computed values stored in front of a record by :func:`encode_record`."""
    return json.loads(data[: data.index(b"\n")])


def decode_record(data: bytes | None) -> Any:
    """The full state stored by :func:`encode_record` (None stays None)."""
    return None if data is None else json.loads(data[data.index(b"\n") + 1 :])


def entity_key(values: Sequence[Any]) -> str:
    """The store key of one entity: its key values as a JSON array."""
    return json.dumps(
        [v.item() if hasattr(v, "item") else v for v in values], separators=(",", ":")
    )
