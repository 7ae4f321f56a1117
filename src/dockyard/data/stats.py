"""Per-column statistics of a version, computed by DuckDB over the view ``data``.

Two scans per batch of columns: the first computes every aggregate that needs no earlier
result (counts, approximate distinct counts, min, max, mean, standard deviation, t-digest
quantiles, approximate top values), the second the equal-width histograms between each
numeric or temporal column's min and max (temporal ones in seconds since the epoch) and the
exact counts of the top values the first scan found.
Every aggregate keeps bounded state (HyperLogLog, t-digest, space-saving top-k, maps of at
most 20 bins or 10 values), so memory does not grow with the row count or the number of
distinct values.

The helpers that turn DuckDB values into JSON-safe ones (:class:`ColumnInfo`,
:func:`describe`, :func:`json_safe`) and the binning shared with the PSI of diffs
(:func:`bins_sql`, :func:`bin_counts`) live here too.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import itertools
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.duck import quote
from dockyard.data.schemas import Column, ColumnStats, Histogram, Scalar, TopValue

if TYPE_CHECKING:
    import duckdb

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
QUANTILE_KEYS = tuple(f"p{round(q * 100):02d}" for q in QUANTILES)
QUANTILE_SAMPLE = 2_000_000  # rows; above it quantiles come from a random sample
HISTOGRAM_BINS = 20
TOP_K = 10
BATCH = 100
"""Columns per query: a 500-column table is scanned in 5 passes of 100 columns (Parquet
is columnar, so each pass reads only its own columns)."""
EXAMPLE_COLUMNS = 20
"""Example rows (of rules and diffs) show the relevant columns first, at most this many."""
MAX_TEXT = 1000
"""Strings longer than this are cut (with an ellipsis) in statistics and examples."""

_INTEGERS = frozenset(
    {"tinyint", "smallint", "integer", "bigint", "hugeint"}
    | {"utinyint", "usmallint", "uinteger", "ubigint", "uhugeint"}
)
_KINDS: dict[str, str] = {
    **dict.fromkeys(_INTEGERS, "integer"),
    "float": "float",
    "double": "float",
    "decimal": "decimal",
    "boolean": "boolean",
    "varchar": "string",
    "enum": "string",
    "date": "date",
    "timestamp": "timestamp",
    "timestamp_s": "timestamp",
    "timestamp_ms": "timestamp",
    "timestamp_ns": "timestamp",
    "timestamp with time zone": "timestamptz",
    "time": "ordered",
    "time with time zone": "ordered",
    "interval": "ordered",
    "uuid": "ordered",
}
NUMERIC = frozenset({"integer", "float", "decimal"})
TEMPORAL = frozenset({"date", "timestamp", "timestamptz"})
_TOP = frozenset({"integer", "boolean", "string", "date"})
_ORDERED = NUMERIC | TEMPORAL | {"boolean", "string", "ordered"}
"""Kinds with min and max; the rest (binary, lists, structs, maps...) get counts only."""


@dataclass(frozen=True)
class ColumnInfo:
    """A column of a DuckDB view: its name, DuckDB type and what statistics it supports.

    ``kind`` is one of integer, float, decimal, boolean, string, date, timestamp,
    timestamptz, ordered (time, interval, uuid) and opaque (binary and nested types).
    """

    name: str
    type: str
    kind: str

    @property
    def sql(self) -> str:
        return quote(self.name)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    def shown(self, expr: str) -> str:
        """SQL for a value of this column (``expr``) that Python can convert: timestamps as
        text (the UTC wall clock for ``timestamptz``, which DuckDB's Python conversion would
        need pytz for), everything else as is."""
        if self.kind == "timestamptz":
            return f"CAST(timezone('UTC', {expr}) AS VARCHAR)"
        if self.kind in ("timestamp", "date", "ordered") or "TIME ZONE" in self.type:
            return f"CAST({expr} AS VARCHAR)"
        return expr

    def value(self, raw: Any) -> Any:
        """The JSON-safe form of a value fetched through :meth:`shown`."""
        if raw is None:
            return None
        if self.kind == "timestamp":
            return _iso(str(raw))
        if self.kind == "timestamptz":
            text = _iso(str(raw))
            return text + "+00:00" if "T" in text else text
        return json_safe(raw)


def fetch_one(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> tuple[Any, ...]:
    """The first row of a query that returns one. The whole result is fetched, so that no
    result stays open on the connection (DuckDB 2 refuses some calls while one is)."""
    rows = con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()
    if not rows:
        raise LookupError(f"no row from {sql[:100]}")
    return rows[0]


def kind_of(type_id: str) -> str:
    return _KINDS.get(type_id, "opaque")


def describe(con: duckdb.DuckDBPyConnection, view: str = "data") -> dict[str, ColumnInfo] | None:
    """The columns of ``view`` by name, or None when there is no such view (a version
    without files)."""
    import duckdb

    try:
        relation = con.sql(f"SELECT * FROM {quote(view)}")
    except duckdb.CatalogException:
        return None
    return {
        name: ColumnInfo(name, str(t), kind_of(t.id))
        for name, t in zip(relation.columns, relation.types, strict=True)
    }


def _iso(text: str) -> str:
    """DuckDB's text of a timestamp (``2024-01-02 03:04:05.6``) in the ISO 8601 form
    ``datetime.isoformat`` gives (``2024-01-02T03:04:05.600000``; nanoseconds kept)."""
    if len(text) <= 10 or text[10] != " ":
        return text  # 'infinity', a date, or years beyond 9999
    text = "T".join(text.split(" ", 1))
    if len(text) > 19 and text[19] == ".":
        digits = len(text) - 20
        text += "0" * ((6 if digits <= 6 else 9) - digits)
    return text


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def json_safe(value: Any) -> Any:
    """A value that ``json.dumps`` accepts and that reads well in a report: datetimes as ISO
    strings, decimals as floats, bytes as text (UTF-8, else base64), NaN and infinities as
    the strings ``'NaN'``, ``'inf'`` and ``'-inf'``, long strings cut."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, decimal.Decimal):
        return json_safe(float(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        try:
            return _cut(data.decode())
        except UnicodeDecodeError:
            return _cut("base64:" + base64.b64encode(data).decode())
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dt.timedelta | uuid.UUID):
        return str(value)
    return _cut(str(value))


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def scalar(value: Any) -> Scalar:
    """A JSON-safe value that fits :data:`Scalar` (lists and maps become their text)."""
    safe = json_safe(value)
    return safe if isinstance(safe, bool | int | float | str) or safe is None else str(safe)


# -- binning, shared with diffs ------------------------------------------------------------


def finite_double(info: ColumnInfo) -> str:
    """A numeric column as DOUBLE, NULL where it is NaN or infinite."""
    x = f"CAST({info.sql} AS DOUBLE)"
    return f"CASE WHEN isfinite({x}) THEN {x} END" if info.kind == "float" else x


def epoch_seconds(info: ColumnInfo) -> str:
    """A date or timestamp column as DOUBLE seconds since 1970-01-01 UTC (the wall clock
    read as UTC for timestamps without a zone), NULL for the infinities."""
    return f"epoch({info.sql})"


def bins_sql(x: str, param: str) -> str:
    """An aggregate counting the non-null values of ``x`` (a DOUBLE expression or column)
    per bin of the inner edges in parameter ``param`` (see :func:`bin_counts`).

    DuckDB's ``histogram(x, bounds)`` puts x in the first bound with ``x <= bound``; on
    ``-x`` with the negated edges that is ``edge <= x < next edge``, the equal-width bins
    numpy makes (left-closed; the last bin holds everything from its lower edge up).
    """
    return f"histogram(-{x}, ${param})"


def bin_bounds(inner: Sequence[float]) -> list[float]:
    """The parameter of :func:`bins_sql` for these inner edges."""
    return sorted(-e for e in inner)


def bin_counts(result: dict[float, int] | None, inner: Sequence[float]) -> list[int]:
    """Counts per bin from a :func:`bins_sql` result: bin 0 holds values below
    ``inner[0]``, bin i values in ``[inner[i-1], inner[i])`` and the last bin those at or
    above ``inner[-1]``."""
    counts = [0] * (len(inner) + 1)
    index = {-e: i + 1 for i, e in enumerate(inner)}
    for key, count in (result or {}).items():
        counts[index.get(key, 0)] += int(count)
    return counts


def equal_width_edges(lo: float, hi: float, bins: int = HISTOGRAM_BINS) -> list[float] | None:
    """``bins + 1`` equal-width edges from ``lo`` to ``hi`` as numpy.linspace makes them, or
    None when the span is zero, overflows or is too small to split into distinct edges."""
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return None
    step = span / bins
    edges = [lo + i * step for i in range(bins)] + [hi]
    if any(b <= a for a, b in itertools.pairwise(edges)):
        return None
    return edges


# -- statistics ------------------------------------------------------------------------


@dataclass
class _Partial:
    column: Column
    info: ColumnInfo
    stats: ColumnStats
    top: list[Any]
    edges: list[float] | None = None


def compute_stats(
    con: duckdb.DuckDBPyConnection, columns: list[Column], rows: int | None = None
) -> list[ColumnStats]:
    """Statistics of ``columns`` over the view ``data`` (see :class:`ColumnStats`).

    Numeric columns (integers, floats, decimals) get mean, standard deviation, quantiles
    and a 20-bin histogram; dates and timestamps a 20-bin histogram too, its edges in
    seconds since the epoch (UTC; infinite dates left out); strings, booleans, integers
    and dates their 10 most frequent values (found by DuckDB's bounded approx_top_k, so
    on a high-cardinality column they may miss some of the true top ten; the counts are
    exact, and a list of values seen once each is left out); every orderable column min
    and max (timestamps and dates as ISO strings); binary and nested columns only
    counts. NaN and infinities of float columns are counted in ``nans`` and
    ``infinities`` and left out of min, max, mean, std, quantiles and histogram.

    Given ``rows`` (the version's row count, from the Parquet footers) above
    ``QUANTILE_SAMPLE``, quantiles come from a uniform random sample of about that many
    rows: the t-digest costs most of the scan, and the sampling error of 2M rows (about
    0.04 percentile points) is far below what the quantiles are used for.
    """
    fraction = 1.0 if not rows or rows <= QUANTILE_SAMPLE else QUANTILE_SAMPLE / rows
    infos = describe(con)
    if infos is None:  # a version without files
        return [ColumnStats(name=c.name, type=c.type, count=0, nulls=0) for c in columns]
    missing = [c.name for c in columns if c.name not in infos]
    if missing:
        raise InvalidInput(
            f"column {missing[0]!r} of the schema is not in the data "
            f"(the files have {', '.join(list(infos)[:20])})"
        )
    results: list[ColumnStats] = []
    for start in range(0, len(columns), BATCH):
        batch = columns[start : start + BATCH]
        results.extend(_stats_batch(con, [(c, infos[c.name]) for c in batch], fraction))
    return results


def _first_pass(info: ColumnInfo, n: int, fraction: float) -> tuple[list[str], list[str]]:
    """Projections (over ``data``) and aggregates (over the projections) of the first scan
    for column number ``n``, in the order :func:`_read_first` reads the aggregates.

    Projecting first evaluates each derived value (the finite DOUBLE of a float column)
    once per row for all the aggregates that use it, instead of once per FILTER clause.
    """
    kind = info.kind
    c, x = f"c{n}", f"x{n}"
    projections = [f"{info.sql} AS {c}"]
    aggregates = [f"count({c})"]
    if kind in NUMERIC:
        projections.append(f"{finite_double(info)} AS {x}")
    if kind in TEMPORAL:
        projections.append(f"{epoch_seconds(info)} AS {x}")
    if kind != "opaque":
        aggregates.append(f"approx_count_distinct({c})")
    if kind in _ORDERED:
        ordered = x if kind == "float" else c
        aggregates += [info.shown(f"min({ordered})"), info.shown(f"max({ordered})")]
    if kind in TEMPORAL:
        aggregates += [f"min({x})", f"max({x})", f"count({x})"]
    if kind in NUMERIC:
        quantiles = ", ".join(str(p) for p in QUANTILES)
        quantile = f"approx_quantile({x}, [{quantiles}])"
        if fraction < 1.0:
            quantile += f" FILTER (WHERE random() < {fraction:.6g})"
        aggregates += [f"avg({x})", f"stddev_samp({x})", quantile]
    if kind == "float":
        aggregates += [f"sum(CAST(isnan({c}) AS INTEGER))", f"sum(CAST(isinf({c}) AS INTEGER))"]
    if kind in _TOP:
        aggregates.append(f"approx_top_k({c}, {TOP_K})")
    return projections, aggregates


def _read_first(column: Column, info: ColumnInfo, rows: int, values: list[Any]) -> _Partial:
    kind = info.kind
    it = iter(values)
    count = int(next(it))
    stats = ColumnStats(name=column.name, type=column.type, count=count, nulls=rows - count)
    top: list[Any] = []
    if kind != "opaque":
        stats.distinct = min(int(next(it) or 0), count)
    if kind in _ORDERED:
        raw_min, raw_max = next(it), next(it)
        if kind in NUMERIC:
            stats.min, stats.max = _number(raw_min), _number(raw_max)
        else:
            stats.min, stats.max = scalar(info.value(raw_min)), scalar(info.value(raw_max))
    epochs: tuple[float | None, float | None, int] | None = None
    if kind in TEMPORAL:
        epochs = finite(next(it)), finite(next(it)), int(next(it) or 0)
    if kind in NUMERIC:
        stats.mean, stats.std = finite(next(it)), finite(next(it))
        quantiles = next(it) or []
        stats.quantiles = {
            key: value
            for key, raw in zip(QUANTILE_KEYS, quantiles, strict=False)
            if (value := finite(raw)) is not None
        }
    if kind == "float":
        stats.nans, stats.infinities = int(next(it) or 0), int(next(it) or 0)
    if kind in _TOP:
        top = [v for v in (next(it) or []) if v is not None]
    partial = _Partial(column, info, stats, top)
    span: tuple[float, float, int] | None = None
    if kind in NUMERIC and stats.min is not None and stats.max is not None:
        span = float(stats.min), float(stats.max), count - stats.nans - stats.infinities
    elif epochs is not None and epochs[0] is not None and epochs[1] is not None:
        span = epochs[0], epochs[1], epochs[2]
    if span is not None:
        lo, hi, finite_count = span
        partial.edges = equal_width_edges(lo, hi)
        if partial.edges is None and lo == hi:
            stats.histogram = Histogram(edges=[lo, hi], counts=[finite_count])
    return partial


def _number(value: Any) -> int | float | None:
    if value is None or isinstance(value, int):
        return value
    return finite(value)


def _stats_batch(
    con: duckdb.DuckDBPyConnection, batch: list[tuple[Column, ColumnInfo]], fraction: float
) -> list[ColumnStats]:
    spans: list[int] = []
    projections: list[str] = []
    aggregates = ["count(*)"]
    for n, (_, info) in enumerate(batch):
        projected, aggregated = _first_pass(info, n, fraction)
        spans.append(len(aggregated))
        projections += projected
        aggregates += aggregated
    row = fetch_one(
        con, f"SELECT {', '.join(aggregates)} FROM (SELECT {', '.join(projections)} FROM data)"
    )
    rows = int(row[0])
    partials: list[_Partial] = []
    offset = 1
    for (column, info), span in zip(batch, spans, strict=True):
        partials.append(_read_first(column, info, rows, list(row[offset : offset + span])))
        offset += span
    _second_pass(con, partials)
    return [p.stats for p in partials]


def _second_pass(con: duckdb.DuckDBPyConnection, partials: list[_Partial]) -> None:
    projections: list[str] = []
    aggregates: list[str] = []
    params: dict[str, Any] = {}
    readers: list[tuple[_Partial, str]] = []
    for n, p in enumerate(partials):
        if p.edges is not None:
            params[f"h{n}"] = bin_bounds(p.edges[1:-1])
            binned = finite_double(p.info) if p.info.numeric else epoch_seconds(p.info)
            projections.append(f"{binned} AS x{n}")
            aggregates.append(bins_sql(f"x{n}", f"h{n}"))
            readers.append((p, "histogram"))
        if p.top:
            params[f"t{n}"] = p.top
            element = "VARCHAR" if p.info.type.startswith("ENUM") else p.info.type
            column = f"CAST({p.info.sql} AS VARCHAR)" if element == "VARCHAR" else p.info.sql
            positions = ", ".join(str(i + 1) for i in range(len(p.top)))
            projections.append(f"list_position(CAST($t{n} AS {element}[]), {column}) AS t{n}")
            aggregates.append(f"histogram(t{n}, [{positions}])")
            readers.append((p, "top"))
    if not aggregates:
        return
    row = fetch_one(
        con,
        f"SELECT {', '.join(aggregates)} FROM (SELECT {', '.join(projections)} FROM data)",
        params,
    )
    for (p, what), result in zip(readers, row, strict=True):
        if what == "histogram":
            assert p.edges is not None
            counts = bin_counts(result, p.edges[1:-1])
            p.stats.histogram = Histogram(edges=p.edges, counts=counts)
        else:
            found = {int(k): int(v) for k, v in (result or {}).items() if 1 <= k <= len(p.top)}
            ranked = sorted(
                ((found.get(i + 1, 0), i) for i in range(len(p.top))), key=lambda c: (-c[0], c[1])
            )
            if ranked and ranked[0][0] <= 1 and p.stats.count > len(p.top):
                continue  # every value found is unique: no value is more frequent than others
            p.stats.top = [
                TopValue(value=scalar(p.info.value(p.top[i])), count=count)
                for count, i in ranked
                if count > 0
            ]
