"""Mergeable per-window summaries: counts per bin, sums and extremes of every column.

``summarize`` reads each column once (``np.searchsorted`` on the edges for numeric columns,
``pc.value_counts`` for categorical ones). Summaries of adjacent windows merge exactly:
``merge_all([summarize(a), summarize(b)]) == summarize(concat(a, b))`` (sums to rounding).
The one exception is ``new`` (categories never seen in the reference): only the ``max_new``
most frequent are kept, so it is exact while a window has no more distinct new categories than
that, and a heavy-hitters approximation beyond (``other`` always counts every one).

Per column, every row of the window falls in exactly one of ``count`` (values in the buckets),
``nulls`` (null, or the column absent from the table: then ``missing`` counts those rows too),
``invalid`` (a value of the wrong type, e.g. a string that is no number in a numeric column)
and ``nan`` (numeric only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from dockyard.monitoring.binning import Binning, ColumnBins, Kind, as_strings

__all__ = ["Binning", "ColumnSummary", "Summary", "merge_all", "summarize"]

# a number as text, after trimming white space: what a string in a numeric column may hold
_NUMBER = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"


class ColumnSummary(BaseModel):
    """The counts of one column in one window (see the module docstring for what each holds).

    numeric: ``bins`` has one count per bucket of the binning (``len(edges) + 1``), and
    ``sum``, ``sum_sq``, ``min``, ``max`` are over the finite values (``inf`` counts the
    others, which sit in the outer buckets). categorical: ``categories`` has one count per
    category of the binning, ``other`` counts the rest, ``new`` the most frequent of those
    never seen in the reference.
    """

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")

    kind: Kind
    count: NonNegativeInt = 0
    nulls: NonNegativeInt = 0
    invalid: NonNegativeInt = 0
    missing: NonNegativeInt = 0
    nan: NonNegativeInt = 0
    inf: NonNegativeInt = 0
    bins: list[NonNegativeInt] = Field(default_factory=list)
    sum: float = 0.0
    sum_sq: float = 0.0
    min: float | None = None
    max: float | None = None
    categories: list[NonNegativeInt] = Field(default_factory=list)
    other: NonNegativeInt = 0
    new: dict[str, NonNegativeInt] = Field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Every row of the window this column was summarised over."""
        return self.count + self.nulls + self.invalid + self.nan

    @property
    def counts(self) -> list[int]:
        """The counts per bucket: numeric bins, or categories followed by ``other``."""
        return self.bins if self.kind == "numeric" else [*self.categories, self.other]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.missing > self.nulls:
            raise ValueError("missing counts more rows than nulls")
        if self.kind == "numeric":
            if self.categories or self.other or self.new:
                raise ValueError("a numeric column's summary must not count categories")
            if self.count != sum(self.bins):
                raise ValueError(f"count {self.count} is not the sum of the bins")
            if self.inf > self.count:
                raise ValueError("inf counts more values than count")
            if (self.min is None) != (self.max is None) or (
                self.min is not None and self.max is not None and not self.min <= self.max
            ):
                raise ValueError("min and max must both be set, with min <= max")
        else:
            if self.bins or self.nan or self.inf or self.sum or self.sum_sq:
                raise ValueError("a categorical column's summary must not have numeric bins")
            if self.min is not None or self.max is not None:
                raise ValueError("a categorical column's summary must not have min or max")
            if self.count != sum(self.categories) + self.other:
                raise ValueError(f"count {self.count} is not the sum of categories and other")
            if sum(self.new.values()) > self.other:
                raise ValueError("new categories count more values than other")
        return self

    def check(self, name: str, bins: ColumnBins) -> None:
        """Raise ValueError unless this summary was made on ``bins``."""
        if self.kind != bins.kind:
            raise ValueError(f"column {name!r} is {bins.kind} in the binning, not {self.kind}")
        have = len(self.bins) if self.kind == "numeric" else len(self.categories) + 1
        if have != bins.buckets:
            raise ValueError(
                f"column {name!r} has {have} counts where its binning has {bins.buckets} buckets"
            )


class Summary(BaseModel):
    """Every profiled column of one window, made on the binning whose fingerprint it carries."""

    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants")

    rows: NonNegativeInt
    binning: str
    max_new: NonNegativeInt
    columns: dict[str, ColumnSummary]

    @model_validator(mode="after")
    def _rows(self) -> Self:
        for name, col in self.columns.items():
            if col.rows != self.rows:
                raise ValueError(f"column {name!r} accounts for {col.rows} rows of {self.rows}")
            if len(col.new) > self.max_new:
                raise ValueError(f"column {name!r} keeps more than {self.max_new} new categories")
        return self

    def check(self, binning: Binning) -> None:
        """Raise ValueError unless this summary was made on ``binning``."""
        if self.binning != binning.fingerprint:
            raise ValueError(
                f"summary made on binning {self.binning}, not on {binning.fingerprint}"
            )
        if set(self.columns) != set(binning.columns):
            raise ValueError("the summary's columns are not the binning's")
        for name, col in self.columns.items():
            col.check(name, binning.columns[name])

    def merge(self, other: Summary) -> Summary:
        """The summary of both windows together (exact; see ``merge_all``)."""
        return merge_all([self, other])


def summarize(table: pa.Table, binning: Binning) -> Summary:
    """Summarise ``table`` on ``binning``: one vectorised pass per column, never raising on
    data (a missing column counts as null, a value of the wrong type as invalid)."""
    columns: dict[str, ColumnSummary] = {}
    for name, bins in binning.columns.items():
        if name not in table.column_names:
            kind = bins.kind
            size = bins.buckets
            columns[name] = ColumnSummary(
                kind=kind,
                nulls=table.num_rows,
                missing=table.num_rows,
                bins=[0] * size if kind == "numeric" else [],
                categories=[0] * (size - 1) if kind == "categorical" else [],
            )
        elif bins.kind == "numeric":
            columns[name] = _summarize_numeric(table.column(name), bins)
        else:
            columns[name] = _summarize_categorical(table.column(name), bins, binning.max_new)
    return Summary(
        rows=table.num_rows,
        binning=binning.fingerprint,
        max_new=binning.max_new,
        columns=columns,
    )


def _as_floats(data: pa.ChunkedArray) -> tuple[np.ndarray, int, int]:
    """The non-null values as float64, the nulls and the invalid values."""
    dtype = data.type
    if pa.types.is_dictionary(dtype):
        data = data.cast(dtype.value_type)
        dtype = data.type
    nulls = data.null_count
    if pa.types.is_null(dtype):
        return np.empty(0), nulls, 0
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        text = pc.utf8_trim_whitespace(pc.drop_null(data))
        number = pc.match_substring_regex(text, _NUMBER)
        valid = pc.filter(text, number)
        values = pc.cast(valid, pa.float64()).to_numpy()
        return values, nulls, len(text) - len(valid)
    numeric = pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
    if numeric or pa.types.is_decimal(dtype) or pa.types.is_boolean(dtype):
        values = pc.drop_null(pc.cast(data, pa.float64(), safe=False)).to_numpy()
        return values, nulls, 0
    return np.empty(0), nulls, len(data) - nulls


def _summarize_numeric(data: pa.ChunkedArray, bins: ColumnBins) -> ColumnSummary:
    values, nulls, invalid = _as_floats(data)
    # one sort (NaN last) gives every count by binary search of the few edges into it
    ordered = np.sort(values)
    numbers = int(np.searchsorted(ordered, np.inf, side="right"))  # all but NaN
    low = int(np.searchsorted(ordered, -np.inf, side="right"))  # -inf
    high = int(np.searchsorted(ordered, np.inf, side="left"))  # before +inf
    finite = ordered[low:high]
    below = np.searchsorted(ordered[:numbers], np.asarray(bins.edges), side="right")
    counts = np.diff(np.concatenate(([0], below, [numbers])))
    return ColumnSummary(
        kind="numeric",
        count=numbers,
        nulls=nulls,
        invalid=invalid,
        nan=int(values.size - numbers),
        inf=low + numbers - high,
        bins=counts.tolist(),
        sum=float(finite.sum()),
        sum_sq=float(np.dot(finite, finite)),
        min=float(finite[0]) if finite.size else None,
        max=float(finite[-1]) if finite.size else None,
    )


def _summarize_categorical(data: pa.ChunkedArray, bins: ColumnBins, max_new: int) -> ColumnSummary:
    dtype = data.type.value_type if pa.types.is_dictionary(data.type) else data.type
    nulls = data.null_count
    known = np.zeros(len(bins.categories), dtype=np.int64)
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or column_unreadable(dtype):
        return ColumnSummary(
            kind="categorical", nulls=nulls, invalid=len(data) - nulls, categories=known.tolist()
        )
    counted = pc.value_counts(data)  # on the codes of a dictionary, then its few values
    present = pc.is_valid(counted.field("values"))
    values = as_strings(pc.filter(counted.field("values"), present))
    freq = pc.filter(counted.field("counts"), present).to_numpy().astype(np.int64)
    where = pc.fill_null(
        pc.index_in(values, value_set=pa.array(bins.categories, pa.string())), -1
    ).to_numpy()
    seen = where >= 0
    np.add.at(known, where[seen], freq[seen])  # add: two codes may print the same
    unseen = ~seen
    new_freq = freq[unseen]
    new_values = values.filter(pa.array(unseen))
    if not (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
        # dictionaries and numbers may print two codes alike: add those up
        grouped = pa.table({"v": new_values, "f": new_freq}).group_by("v").aggregate([("f", "sum")])
        new_values, new_freq = grouped.column("v"), grouped.column("f_sum").to_numpy()
    return ColumnSummary(
        kind="categorical",
        count=int(freq.sum()),
        nulls=nulls,
        categories=known.tolist(),
        other=int(new_freq.sum()),
        new=_top(new_values, new_freq, max_new),
    )


def column_unreadable(dtype: pa.DataType) -> bool:
    """Whether a categorical column of this type cannot be read as text at all."""
    return not (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_null(dtype)
    )


def _top(values: pa.Array | pa.ChunkedArray, freq: np.ndarray, keep: int) -> dict[str, int]:
    """The ``keep`` most frequent values (ties by value), most frequent first."""
    if keep == 0 or len(values) == 0:
        return {}
    ranked = pc.select_k_unstable(
        pa.table({"v": values, "f": freq}),
        k=min(keep, len(values)),
        sort_keys=[("f", "descending"), ("v", "ascending")],
    )
    top = pa.table({"v": values, "f": freq}).take(ranked)
    return dict(zip(top.column("v").to_pylist(), top.column("f").to_pylist(), strict=True))


def merge_all(summaries: Sequence[Summary]) -> Summary:
    """The summary of all the windows together.

    Exact: counts and sums add, min/max take the extremes; ``new`` keeps the most frequent
    of the merged new categories (exact while there are no more than ``max_new`` of them).
    Raises ValueError if the summaries were made on different binnings.
    """
    if not summaries:
        raise ValueError("merge_all needs at least one summary")
    first = summaries[0]
    names = first.columns.keys()
    for other in summaries[1:]:
        same = other.binning == first.binning and other.max_new == first.max_new
        if not same or other.columns.keys() != names:
            raise ValueError(
                f"cannot merge summaries of different binnings ({first.binning}, {other.binning})"
            )
    columns = {
        name: _merge_column(name, [s.columns[name] for s in summaries], first.max_new)
        for name in names
    }
    return Summary.model_construct(
        rows=sum(s.rows for s in summaries),
        binning=first.binning,
        max_new=first.max_new,
        columns=columns,
    )


def _merge_column(name: str, parts: list[ColumnSummary], keep: int) -> ColumnSummary:
    kind = parts[0].kind
    vector = "bins" if kind == "numeric" else "categories"
    sizes = {len(getattr(p, vector)) for p in parts}
    if len(sizes) != 1 or any(p.kind != kind for p in parts):
        raise ValueError(f"column {name!r} was summarised on different bins")
    counts = np.array([getattr(p, vector) for p in parts], dtype=np.int64).sum(axis=0).tolist()
    fields: dict[str, Any] = {
        "kind": kind,
        "count": sum(p.count for p in parts),
        "nulls": sum(p.nulls for p in parts),
        "invalid": sum(p.invalid for p in parts),
        "missing": sum(p.missing for p in parts),
        vector: counts,
    }
    if kind == "numeric":
        lows = [p.min for p in parts if p.min is not None]
        highs = [p.max for p in parts if p.max is not None]
        fields |= {
            "nan": sum(p.nan for p in parts),
            "inf": sum(p.inf for p in parts),
            "sum": math.fsum(p.sum for p in parts),
            "sum_sq": math.fsum(p.sum_sq for p in parts),
            "min": min(lows) if lows else None,
            "max": max(highs) if highs else None,
        }
    else:
        new: dict[str, int] = {}
        for p in parts:
            for value, n in p.new.items():
                new[value] = new.get(value, 0) + n
        ranked = sorted(new.items(), key=lambda item: (-item[1], item[0]))
        fields |= {"other": sum(p.other for p in parts), "new": dict(ranked[:keep])}
    return ColumnSummary.model_construct(**fields)
