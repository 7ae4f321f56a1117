"""The bins every window of a monitor is summarised on, fixed once from the reference data.

A numeric column keeps sorted, distinct, finite bin edges taken from the reference's quantiles
(or every distinct value when the reference has no more distinct values than bins); a
categorical column keeps the reference's most frequent categories. ``Binning`` is stored with
the monitor as JSON, so everything read back is validated again.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Literal, Self

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Kind = Literal["numeric", "categorical"]

DEFAULT_BINS = 100
DEFAULT_MAX_CATEGORIES = 200
DEFAULT_MAX_NEW = 20


class ColumnBins(BaseModel):
    """How one column is bucketed.

    numeric: ``edges`` e_0 < ... < e_{m-1} give m + 1 buckets: x <= e_0, then
    e_{j-1} < x <= e_j, then x > e_{m-1}. ``exact`` says the edges are every distinct finite
    value of the reference (so a value seen in the reference sits alone in its bucket).
    categorical: ``categories`` give one bucket each plus an ``other`` bucket; ``truncated``
    says the reference had more categories than were kept (their rows went to ``other``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    edges: list[float] = Field(default_factory=list)
    exact: bool = False
    categories: list[str] = Field(default_factory=list)
    truncated: bool = False

    @property
    def buckets(self) -> int:
        """The number of counts a summary of this column holds."""
        if self.kind == "numeric":
            return len(self.edges) + 1
        return len(self.categories) + 1

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "numeric":
            if self.categories or self.truncated:
                raise ValueError("a numeric column's bins must not list categories")
            if not all(math.isfinite(e) for e in self.edges):
                raise ValueError("bin edges must be finite numbers")
            if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
                raise ValueError("bin edges must be strictly increasing")
        else:
            if self.edges or self.exact:
                raise ValueError("a categorical column's bins must not have edges")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError("categories must be distinct")
        return self


class Binning(BaseModel):
    """The bins of every profiled column, plus the columns left out and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, ColumnBins]
    skipped: dict[str, str] = Field(default_factory=dict)
    bins: int = Field(default=DEFAULT_BINS, ge=1)
    max_categories: int = Field(default=DEFAULT_MAX_CATEGORIES, ge=1)
    max_new: int = Field(default=DEFAULT_MAX_NEW, ge=0)
    _fingerprint: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _limits(self) -> Self:
        for name, col in self.columns.items():
            if col.kind == "numeric" and len(col.edges) > self.bins + 1:
                raise ValueError(f"column {name!r} has more edges than bins + 1")
            if col.kind == "categorical" and len(col.categories) > self.max_categories:
                raise ValueError(f"column {name!r} has more categories than max_categories")
        both = set(self.columns) & set(self.skipped)
        if both:
            raise ValueError(f"columns both binned and skipped: {sorted(both)}")
        return self

    @property
    def fingerprint(self) -> str:
        """A short digest of this binning; summaries carry it so they are never mixed up."""
        if self._fingerprint is None:
            digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
            self._fingerprint = digest
        return self._fingerprint

    @classmethod
    def from_reference(
        cls,
        table: pa.Table,
        columns: Sequence[str] | None = None,
        *,
        bins: int = DEFAULT_BINS,
        categorical: Sequence[str] = (),
        max_categories: int = DEFAULT_MAX_CATEGORIES,
        max_new: int = DEFAULT_MAX_NEW,
    ) -> Binning:
        """Fix the bins of ``columns`` (default: all) from the reference ``table``.

        Integer, floating and decimal columns are numeric unless named in ``categorical``;
        string, boolean and dictionary columns are categorical. Other types (lists, structs,
        binary, temporal, null) are left out, with the reason in ``skipped``.
        """
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        names = list(table.column_names) if columns is None else list(columns)
        unknown = [n for n in [*names, *categorical] if n not in table.column_names]
        if unknown:
            raise ValueError(
                f"columns not in the reference table: {sorted(set(unknown))}; "
                f"it has {table.column_names}"
            )
        forced = set(categorical)
        kept: dict[str, ColumnBins] = {}
        skipped: dict[str, str] = {}
        for name in names:
            data = table.column(name)
            kind = column_kind(data.type, forced=name in forced)
            if kind is None:
                skipped[name] = f"type {data.type} is not supported (numeric or categorical only)"
            elif kind == "numeric":
                kept[name] = _numeric_bins(data, bins)
            else:
                kept[name] = _categorical_bins(data, max_categories)
        return cls(
            columns=kept,
            skipped=skipped,
            bins=bins,
            max_categories=max_categories,
            max_new=max_new,
        )


def column_kind(dtype: pa.DataType, *, forced: bool = False) -> Kind | None:
    """The kind a column of Arrow type ``dtype`` is profiled as, or None if it is not."""
    if pa.types.is_dictionary(dtype):
        return column_kind(dtype.value_type, forced=forced)
    numeric = pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
    if numeric or pa.types.is_decimal(dtype):
        return "categorical" if forced else "numeric"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_boolean(dtype):
        return "categorical"
    return None


def as_strings(data: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A categorical column's values as strings (dictionaries decoded, numbers printed)."""
    if pa.types.is_dictionary(data.type):
        data = data.cast(data.type.value_type)
    if not pa.types.is_string(data.type):
        data = pc.cast(data, pa.string())
    return data


def _numeric_bins(data: pa.ChunkedArray, bins: int) -> ColumnBins:
    if pa.types.is_dictionary(data.type):
        data = data.cast(data.type.value_type)
    values = pc.drop_null(pc.cast(data, pa.float64(), safe=False)).to_numpy()
    finite = np.sort(values[np.isfinite(values)])
    if finite.size == 0:
        return ColumnBins(kind="numeric")
    distinct = finite[np.concatenate(([True], finite[1:] != finite[:-1]))]
    if distinct.size <= bins:
        return ColumnBins(kind="numeric", edges=distinct.tolist(), exact=True)
    # np.quantile's default ("linear") on the sorted values, without re-partitioning them
    position = np.linspace(0.0, 1.0, bins + 1) * (finite.size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, finite.size - 1)
    edges = finite[low] + (position - low) * (finite[high] - finite[low])
    return ColumnBins(kind="numeric", edges=np.unique(edges).tolist())


def _categorical_bins(data: pa.ChunkedArray, max_categories: int) -> ColumnBins:
    counts = pc.value_counts(data)
    valid = pc.is_valid(counts.field("values"))
    values = as_strings(pc.filter(counts.field("values"), valid)).to_numpy(zero_copy_only=False)
    freq = pc.filter(counts.field("counts"), valid).to_numpy()
    order = np.lexsort((values, -freq))[:max_categories]
    return ColumnBins(
        kind="categorical",
        categories=[str(v) for v in values[order]],
        truncated=len(values) > max_categories,
    )
