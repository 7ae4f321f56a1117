"""On-demand features: the caller's function applied to request values and looked-up features.

The same code serves offline (request values are label columns) and online (request values
come with the lookup), so a training set and a lookup apply one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.features.definitions import OnDemand
from dockyard.features.errors import InvalidTable
from dockyard.features.refs import Plan


def apply_on_demand(
    request: Plan,
    stored: Callable[[str], list[Any]],
    request_value: Callable[[str], list[Any]],
    rows: int,
) -> dict[str, list[Any]]:
    """The values of every requested on-demand feature, keyed by ``view:feature``.

    ``stored(ref)`` gives a looked-up feature's values and ``request_value(name)`` a request
    value's, one per row (``rows`` of them: a list of another length is an error). ``fn``
    gets one argument per input, in the order of ``inputs``.
    """
    out: dict[str, list[Any]] = {}
    for item in request.requested:
        feature = item.feature
        if not isinstance(feature, OnDemand):
            continue
        columns = [stored(name) if ":" in name else request_value(name) for name in feature.inputs]
        lengths = sorted({len(c) for c in columns})
        if lengths != [rows]:
            raise InvalidTable(
                f"the inputs of the on-demand feature {item.ref!r} have {lengths} values; "
                f"give one per row ({rows})"
            )
        try:
            out[item.ref] = compute(feature, columns)
        except Exception as exc:
            exc.add_note(f"while computing the on-demand feature {item.ref!r}")
            raise
    return out


def compute(feature: OnDemand, columns: list[list[Any]]) -> list[Any]:
    """``feature.fn`` over the rows of ``columns`` (one list per input, equally long): once
    per row, or once for all of them when the feature is vectorized."""
    if not feature.vectorized:
        return [feature.fn(*args) for args in zip(*columns, strict=True)]
    import pandas as pd

    rows = len(columns[0])
    result = feature.fn(*(pd.Series(column) for column in columns))
    values: list[Any] = result.tolist() if hasattr(result, "tolist") else list(result)
    if len(values) != rows:
        raise InvalidTable(
            f"the vectorized on-demand feature {feature.name!r} returned {len(values)} values "
            f"for {rows} rows; return one per row"
        )
    return values
