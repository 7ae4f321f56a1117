"""Identifiers: time-ordered 128-bit ids (UUIDv7 layout) as 32 hex characters."""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A new id that sorts by creation time (48-bit milliseconds, then randomness)."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return f"{value:032x}"


def is_id(text: str) -> bool:
    """Whether ``text`` has the shape of an id made by :func:`new_id`."""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)
