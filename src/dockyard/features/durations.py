"""Duration strings such as ``"90s"``, ``"15m"``, ``"1h"``, ``"24h"``, ``"7d"``.

All times inside the feature store are integers: microseconds since the Unix epoch (UTC),
and durations are integers of microseconds too, so window arithmetic is exact.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MICROS = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
MICROS["d"] = 24 * MICROS["h"]
MICROS["w"] = 7 * MICROS["d"]

_PATTERN = re.compile(r"([1-9][0-9]{0,9})(us|ms|s|m|h|d|w)\Z")


def parse_duration(text: str) -> int:
    """The number of microseconds in ``text``: a positive whole number and a unit among
    us, ms, s, m, h, d (24 h) and w (7 d), e.g. ``"90s"`` or ``"7d"``."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: write a positive whole number followed by a unit "
            "among us, ms, s, m, h, d, w, e.g. '90s', '15m', '24h' or '7d'"
        )
    return int(match.group(1)) * MICROS[match.group(2)]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_utc(micros: int) -> str:
    """A time in microseconds since the epoch as ISO 8601 UTC, e.g.
    ``2026-03-03T22:37:00Z`` (``.000001Z`` when it has a fraction of a second); a time
    outside the years 1-9999 as its number of microseconds."""
    try:
        at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return f"{micros} us since the epoch"
    return at.isoformat().replace("+00:00", "Z")
