"""The encoding of view states and entity keys: compact JSON, never pickle (records:
:mod:`dockyard.features.record_format`).

Python's float repr round-trips every float exactly, so a value read back equals the value
written.
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


def entity_key(values: Sequence[Any]) -> str:
    """The store key of one entity: its key values as a JSON array."""
    plain = [v.item() if hasattr(v, "item") else v for v in values]
    if all(type(v) is int for v in plain):  # what json.dumps writes for them, faster
        return "[" + ",".join(map(str, plain)) + "]"
    return json.dumps(plain, separators=(",", ":"))
