"""A compact binary form of a ``Summary``, and merging many of them without pydantic.

JSON is the readable form; parsing 720 hourly summaries of 50 columns from JSON creates
millions of Python ints and takes well over the 200 ms a 30-day view may spend. The binary
form keeps every integer in one little-endian int64 block and every float in one float64
block, behind a short JSON header, so ``merge_bytes`` stacks the blocks of all the windows
into two numpy matrices, checks them (non-negative counts, consistent totals) and adds them
up in a few vectorised operations.

Layout: ``MAGIC``, the header's length (uint32 LE), the header (JSON: rows, binning,
max_new, and per column its name, kind, vector length and new categories), the int64 block
(per column: count, nulls, invalid, missing, nan, inf, other, then its bins or category
counts) and the float64 block (per column: sum, sum_sq, min, max; NaN for an absent min/max).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from dockyard.monitoring.profile import ColumnSummary, Summary

__all__ = ["from_bytes", "merge_bytes", "to_bytes"]

MAGIC = b"DYSUM1\n"
_SCALARS = ("count", "nulls", "invalid", "missing", "nan", "inf", "other")
_FLOATS = ("sum", "sum_sq", "min", "max")


def to_bytes(summary: Summary) -> bytes:
    """The binary form of ``summary`` (read back with ``from_bytes`` or ``merge_bytes``)."""
    names = list(summary.columns)
    cols = [summary.columns[n] for n in names]
    header = {
        "rows": summary.rows,
        "binning": summary.binning,
        "max_new": summary.max_new,
        "names": names,
        "kinds": [c.kind for c in cols],
        "sizes": [len(c.bins) if c.kind == "numeric" else len(c.categories) for c in cols],
        "new": [c.new for c in cols],
    }
    ints: list[int] = []
    floats: list[float] = []
    for c in cols:
        ints += [getattr(c, f) for f in _SCALARS]
        ints += c.bins if c.kind == "numeric" else c.categories
        low = np.nan if c.min is None else c.min
        high = np.nan if c.max is None else c.max
        floats += [c.sum, c.sum_sq, low, high]
    head = orjson.dumps(header)
    return b"".join(
        [
            MAGIC,
            struct.pack("<I", len(head)),
            head,
            np.asarray(ints, dtype="<i8").tobytes(),
            np.asarray(floats, dtype="<f8").tobytes(),
        ]
    )


def from_bytes(payload: bytes) -> Summary:
    """Read one summary written by ``to_bytes`` (validated; ValueError if malformed)."""
    return merge_bytes([payload])


def merge_bytes(payloads: Sequence[bytes]) -> Summary:
    """Merge summaries in binary form: the same result as ``merge_all`` of the parsed ones.

    Every payload is checked (layout, non-negative counts, totals that agree with the rows)
    and ValueError says which one is wrong and why.
    """
    if not payloads:
        raise ValueError("merge_bytes needs at least one summary")
    headers: list[dict[str, Any]] = []
    int_blocks: list[np.ndarray] = []
    float_blocks: list[np.ndarray] = []
    for i, payload in enumerate(payloads):
        header, ints, floats = _split(i, payload, headers[0] if headers else None)
        headers.append(header)
        int_blocks.append(ints)
        float_blocks.append(floats)
    first = headers[0]
    ints_all = np.stack(int_blocks)
    floats_all = np.stack(float_blocks)
    if ints_all.size and ints_all.min() < 0:
        row = int(np.nonzero((ints_all < 0).any(axis=1))[0][0])
        raise ValueError(f"summary {row} has a negative count")
    rows = np.array([h["rows"] for h in headers], dtype=np.int64)
    if rows.min() < 0:
        raise ValueError("a summary has a negative number of rows")
    columns: dict[str, ColumnSummary] = {}
    at = 0
    for j, (name, kind, size) in enumerate(
        zip(first["names"], first["kinds"], first["sizes"], strict=True)
    ):
        block = ints_all[:, at : at + len(_SCALARS) + size]
        at += len(_SCALARS) + size
        scalars = dict(zip(_SCALARS, block[:, : len(_SCALARS)].T, strict=True))
        vector = block[:, len(_SCALARS) :]
        total = vector.sum(axis=1) + scalars["other"]
        accounted = scalars["count"] + scalars["nulls"] + scalars["invalid"] + scalars["nan"]
        bad = (scalars["count"] != total) | (accounted != rows)
        if bad.any():
            row = int(np.nonzero(bad)[0][0])
            raise ValueError(f"column {name!r} of summary {row} does not add up to its rows")
        lows = floats_all[:, 4 * j + 2]
        highs = floats_all[:, 4 * j + 3]
        new: dict[str, int] = {}
        for i, h in enumerate(headers):
            part = h["new"][j]
            if part == {}:
                continue
            if not isinstance(part, dict):
                raise ValueError(f"summary {i} has malformed new categories for {name!r}")
            for value, n in part.items():
                if type(n) is not int or n < 0:
                    raise ValueError(f"summary {i} has a malformed new count for {name!r}")
                new[value] = new.get(value, 0) + n
        ranked = sorted(new.items(), key=lambda item: (-item[1], item[0]))
        numeric = kind == "numeric"
        sums = {k: int(v.sum()) for k, v in scalars.items()}
        columns[name] = ColumnSummary(
            kind=kind,
            **sums,
            bins=vector.sum(axis=0).tolist() if numeric else [],
            categories=[] if numeric else vector.sum(axis=0).tolist(),
            new=dict(ranked[: first["max_new"]]),
            sum=math.fsum(floats_all[:, 4 * j]),
            sum_sq=math.fsum(floats_all[:, 4 * j + 1]),
            min=None if np.isnan(lows).all() else float(np.nanmin(lows)),
            max=None if np.isnan(highs).all() else float(np.nanmax(highs)),
        )
    return Summary(
        rows=int(rows.sum()), binning=first["binning"], max_new=first["max_new"], columns=columns
    )


_LAYOUT = ("binning", "max_new", "names", "kinds", "sizes")


def _split(
    i: int, payload: bytes, first: dict[str, Any] | None
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """One payload's header, int64 block and float64 block, or ValueError. The layout of
    the first payload is checked in full; later ones must have the same."""
    start = len(MAGIC) + 4
    if payload[: len(MAGIC)] != MAGIC or len(payload) < start:
        raise ValueError(f"summary {i} is not a binary summary (bad magic)")
    (length,) = struct.unpack("<I", payload[len(MAGIC) : start])
    try:
        header = orjson.loads(payload[start : start + length])
        names, kinds, sizes, new = header["names"], header["kinds"], header["sizes"], header["new"]
        if first is not None:
            if any(header[k] != first[k] for k in _LAYOUT):
                raise ValueError(f"summary {i} was made on another binning than summary 0")
            ok = (
                isinstance(header["rows"], int) and isinstance(new, list) and len(new) == len(names)
            )
        else:
            ok = (
                isinstance(header["rows"], int)
                and isinstance(header["binning"], str)
                and isinstance(header["max_new"], int)
                and isinstance(names, list)
                and all(isinstance(n, str) for n in names)
                and len(names) == len(kinds) == len(sizes) == len(new)
                and all(k in ("numeric", "categorical") for k in kinds)
                and all(isinstance(s, int) and s >= 0 for s in sizes)
            )
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"summary {i} has a malformed header: {exc}") from exc
    if not ok:
        raise ValueError(f"summary {i} has a malformed header")
    n_ints = sum(sizes) + len(_SCALARS) * len(names)
    n_floats = len(_FLOATS) * len(names)
    body = payload[start + length :]
    if len(body) != 8 * (n_ints + n_floats):
        raise ValueError(f"summary {i} is {len(body)} bytes long where its header needs more")
    ints = np.frombuffer(body, dtype="<i8", count=n_ints)
    floats = np.frombuffer(body, dtype="<f8", offset=8 * n_ints)
    return header, ints, floats
