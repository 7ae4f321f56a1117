"""Differences between two versions: schema, per-column statistic shifts and, given a key,
the rows added, removed and changed.

Row diffs run in DuckDB over the views ``base`` and ``target``. Each side is reduced to one
row per key holding a 64-bit hash of the compared columns, and the two are joined on the
key: the aggregation and the join are DuckDB operators that spill to the sandbox's temp
directory, so memory stays bounded whatever the size of the versions. Two rows whose
values differ get the same hash with a probability of about 2^-64.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.duck import first_line, quote
from dockyard.data.schemas import (
    Column,
    ColumnShift,
    ColumnStats,
    RowDiff,
    SchemaDiff,
    TypeChange,
)
from dockyard.data.stats import (
    EXAMPLE_COLUMNS,
    ColumnInfo,
    bin_bounds,
    bin_counts,
    bins_sql,
    describe,
    fetch_one,
    finite_double,
)

if TYPE_CHECKING:
    import duckdb

PSI_EPSILON = 1e-4
"""Share given to an empty bin, so that PSI stays finite."""


def schema_diff(base: list[Column], target: list[Column]) -> SchemaDiff:
    """Columns added in ``target``, removed from ``base`` and whose type changed."""
    before = {c.name: c for c in base}
    after = {c.name: c for c in target}
    return SchemaDiff(
        added=[c for c in target if c.name not in before],
        removed=[c for c in base if c.name not in after],
        changed=[
            TypeChange(name=c.name, base=c.type, target=after[c.name].type)
            for c in base
            if c.name in after and after[c.name].type != c.type
        ],
    )


# -- statistics ------------------------------------------------------------------------


def column_shifts(
    base_stats: list[ColumnStats],
    target_stats: list[ColumnStats],
    base_rows: int,
    target_rows: int,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[ColumnShift]:
    """How each column's statistics moved, for the columns of either version (base's order,
    then the columns only target has). A side without the column has None.

    With ``con`` holding views ``base`` and ``target``, numeric columns of both also get
    their population stability index over the edges of base's histogram.
    """
    before = {s.name: s for s in base_stats}
    after = {s.name: s for s in target_stats}
    names = list(dict.fromkeys([*before, *after]))
    psi = _psi(con, before, after) if con is not None else {}

    def rate(stats: ColumnStats | None, rows: int) -> float | None:
        return stats.nulls / rows if stats is not None and rows > 0 else None

    shifts = []
    for name in names:
        b, t = before.get(name), after.get(name)
        shifts.append(
            ColumnShift(
                name=name,
                null_rate=(rate(b, base_rows), rate(t, target_rows)),
                distinct=(b.distinct if b else None, t.distinct if t else None),
                mean=(b.mean if b else None, t.mean if t else None),
                std=(b.std if b else None, t.std if t else None),
                min=(b.min if b else None, t.min if t else None),
                max=(b.max if b else None, t.max if t else None),
                psi=psi.get(name),
            )
        )
    return shifts


def _psi(
    con: duckdb.DuckDBPyConnection,
    before: dict[str, ColumnStats],
    after: dict[str, ColumnStats],
) -> dict[str, float]:
    base_info, target_info = describe(con, "base"), describe(con, "target")
    if base_info is None or target_info is None:
        return {}
    inner: dict[str, list[float]] = {}
    for name, stats in before.items():
        b, t = base_info.get(name), target_info.get(name)
        if name not in after or b is None or t is None or not (b.numeric and t.numeric):
            continue
        edges = _psi_edges(stats)
        if edges:
            inner[name] = edges
    if not inner:
        return {}
    base_counts = _bin_counts(con, "base", base_info, inner)
    target_counts = _bin_counts(con, "target", target_info, inner)
    result = {}
    for name in inner:
        value = psi(base_counts[name], target_counts[name])
        if value is not None:
            result[name] = value
    return result


def _psi_edges(stats: ColumnStats) -> list[float]:
    """The inner edges of the PSI bins: base's histogram edges without the outer two (the
    end bins take everything beyond), or for a constant column ``v`` the edges splitting
    values below, equal to and above it."""
    histogram = stats.histogram
    if histogram is None or len(histogram.edges) < 2:
        return []
    if len(histogram.counts) == 1:
        v = histogram.edges[0]
        return [v, math.nextafter(v, math.inf)]
    return sorted(set(histogram.edges[1:-1]))


def _bin_counts(
    con: duckdb.DuckDBPyConnection,
    view: str,
    infos: dict[str, ColumnInfo],
    inner: dict[str, list[float]],
) -> dict[str, list[int]]:
    """Counts per PSI bin of every column in ``inner``, in one scan of ``view``."""
    names = list(inner)
    projections = [f"{finite_double(infos[name])} AS x{n}" for n, name in enumerate(names)]
    aggregates = [bins_sql(f"x{n}", f"b{n}") for n in range(len(names))]
    params = {f"b{n}": bin_bounds(inner[name]) for n, name in enumerate(names)}
    row = fetch_one(
        con,
        f"SELECT {', '.join(aggregates)} FROM (SELECT {', '.join(projections)} FROM {quote(view)})",
        params,
    )
    return {name: bin_counts(row[n], inner[name]) for n, name in enumerate(names)}


def psi(base: list[int], target: list[int], epsilon: float = PSI_EPSILON) -> float | None:
    """Population stability index of two distributions over the same bins:
    ``sum((t - b) * ln(t / b))`` over the bins' shares, an empty bin counting ``epsilon``.
    None when either side has no values."""
    base_total, target_total = sum(base), sum(target)
    if not base_total or not target_total:
        return None
    total = 0.0
    for b, t in zip(base, target, strict=True):
        p = max(b / base_total, epsilon)
        q = max(t / target_total, epsilon)
        total += (q - p) * math.log(q / p)
    return total


# -- rows ------------------------------------------------------------------------------


def row_diff(
    con: duckdb.DuckDBPyConnection,
    key: list[str],
    base_columns: list[Column],
    target_columns: list[Column],
    examples: int,
) -> RowDiff:
    """Rows of views ``base`` and ``target`` matched on ``key``: added (the key is only in
    target), removed (only in base), changed (some column of both versions other than the
    key differs, NULL equal to NULL) and unchanged.

    ``examples`` rows per category, ordered by key: added and removed rows as they are
    (at most 20 columns, the key first), changed rows as the key and, per differing
    column, its ``base`` and ``target`` values. Raises InvalidInput when a key column is
    missing from either version or a key value is not unique in one.
    """
    import duckdb

    key = list(dict.fromkeys(key))
    if not key:
        raise InvalidInput("a row diff needs at least one key column")
    base_names = [c.name for c in base_columns]
    target_names = [c.name for c in target_columns]
    for name in key:
        for side, names in (("base", base_names), ("target", target_names)):
            if name not in names:
                raise InvalidInput(f"key column {name!r} is not in the {side} version")
    base_info = describe(con, "base")
    target_info = describe(con, "target")
    if base_info is None or target_info is None:
        raise InvalidInput("a row diff needs the data of both versions")
    for name in key:
        if name not in base_info or name not in target_info:
            raise InvalidInput(f"key column {name!r} is not in the data of both versions")
    compared = [
        n
        for n in base_names
        if n in target_names and n not in key and n in base_info and n in target_info
    ]
    diff = _RowDiffer(con, key, compared, base_info, target_info)
    try:
        return diff.run(examples)
    except (duckdb.BinderException, duckdb.ConversionException) as exc:
        raise InvalidInput(f"cannot match rows on {', '.join(key)}: {first_line(exc)}") from None


class _RowDiffer:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        key: list[str],
        compared: list[str],
        base: dict[str, ColumnInfo],
        target: dict[str, ColumnInfo],
    ) -> None:
        self.con = con
        self.key = key
        self.compared = compared
        self.base = base
        self.target = target
        self.keys_sql = ", ".join(quote(k) for k in key)

    def comparable(self, name: str, sql: str) -> str:
        """``sql`` (column ``name`` of either version) in a type both versions share: as is
        when the types are equal, else HUGEINT for two integer types, DOUBLE for two numeric
        ones and text for the rest, so that 1 (int32) and 1 (int64) still match."""
        b, t = self.base[name], self.target[name]
        if b.type == t.type:
            return sql
        if b.kind == t.kind == "integer":
            return f"CAST({sql} AS HUGEINT)"
        if b.numeric and t.numeric:
            return f"CAST({sql} AS DOUBLE)"
        return f"CAST({sql} AS VARCHAR)"

    def row_hash(self) -> str:
        """A hash of the compared columns of a row (of ``base`` or ``target``)."""
        if not self.compared:
            return "CAST(0 AS UBIGINT)"
        return f"hash({', '.join(self.comparable(n, quote(n)) for n in self.compared)})"

    def join_on(self, left: str, right: str) -> str:
        return " AND ".join(
            f"{left}.{quote(k)} IS NOT DISTINCT FROM {right}.{quote(k)}" for k in self.key
        )

    def hashed(self) -> str:
        """CTEs ``b`` and ``t``: one row per key with the row count ``n`` and hash ``h``."""
        return (
            f"b AS (SELECT {self.keys_sql}, count(*) AS n, min(h) AS h FROM "
            f"(SELECT {self.keys_sql}, {self.row_hash()} AS h FROM base) "
            f"GROUP BY ALL), "
            f"t AS (SELECT {self.keys_sql}, count(*) AS n, min(h) AS h FROM "
            f"(SELECT {self.keys_sql}, {self.row_hash()} AS h FROM target) "
            f"GROUP BY ALL)"
        )

    def run(self, examples: int) -> RowDiff:
        row = fetch_one(
            self.con,
            f"WITH {self.hashed()} SELECT "
            "count(*) FILTER (WHERE t.n IS NULL), "
            "count(*) FILTER (WHERE b.n IS NULL), "
            "count(*) FILTER (WHERE b.n IS NOT NULL AND t.n IS NOT NULL AND b.h <> t.h), "
            "count(*) FILTER (WHERE b.n IS NOT NULL AND t.n IS NOT NULL AND b.h = t.h), "
            "max(b.n), max(t.n) "
            f"FROM b FULL OUTER JOIN t ON {self.join_on('b', 't')}",
        )
        removed, added, changed, unchanged, base_most, target_most = row
        for side, most in (("base", base_most), ("target", target_most)):
            if most is not None and most > 1:
                raise InvalidInput(self.duplicate(side))
        result = RowDiff(
            key=self.key,
            added=int(added),
            removed=int(removed),
            changed=int(changed),
            unchanged=int(unchanged),
        )
        if examples > 0:
            result.examples = {
                "added": self.only_in("target", "base", examples) if added else [],
                "removed": self.only_in("base", "target", examples) if removed else [],
                "changed": self.changed(examples) if changed else [],
            }
        return result

    def duplicate(self, side: str) -> str:
        infos = self.base if side == "base" else self.target
        shown = ", ".join(infos[k].shown(quote(k)) for k in self.key)
        row = fetch_one(
            self.con,
            f"SELECT {shown}, count(*) FROM {side} GROUP BY ALL HAVING count(*) > 1 LIMIT 1",
        )
        values = ", ".join(
            f"{k}={infos[k].value(v)!r}" for k, v in zip(self.key, row, strict=False)
        )
        return (
            f"the key ({', '.join(self.key)}) is not unique in the {side} version: "
            f"{values} appears in {row[-1]:,} rows"
        )

    def only_in(self, side: str, other: str, limit: int) -> list[dict[str, Any]]:
        infos = self.base if side == "base" else self.target
        names = list(dict.fromkeys([*self.key, *infos]))[:EXAMPLE_COLUMNS]
        shown = ", ".join(infos[n].shown(f"x.{quote(n)}") for n in names)
        order = ", ".join(f"x.{quote(k)}" for k in self.key)
        rows = self.con.execute(
            f"SELECT {shown} FROM {side} AS x WHERE NOT EXISTS "
            f"(SELECT 1 FROM {other} AS y WHERE {self.join_on('x', 'y')}) "
            f"ORDER BY {order} LIMIT {limit}"
        ).fetchall()
        return [{n: infos[n].value(v) for n, v in zip(names, r, strict=True)} for r in rows]

    def changed(self, limit: int) -> list[dict[str, Any]]:
        order = ", ".join(f"b.{quote(k)}" for k in self.key)
        keys = ", ".join(f"b.{quote(k)}" for k in self.key)
        columns = [self.base[k].shown(f"c.{quote(k)}") for k in self.key]
        for n in self.compared:
            x, y = self.comparable(n, f"x.{quote(n)}"), self.comparable(n, f"y.{quote(n)}")
            columns += [
                f"{x} IS DISTINCT FROM {y}",
                self.base[n].shown(f"x.{quote(n)}"),
                self.target[n].shown(f"y.{quote(n)}"),
            ]
        rows = self.con.execute(
            f"WITH {self.hashed()}, "
            f"c AS (SELECT {keys} FROM b JOIN t ON {self.join_on('b', 't')} "
            f"WHERE b.h <> t.h ORDER BY {order} LIMIT {limit}) "
            f"SELECT {', '.join(columns)} FROM c "
            f"JOIN base AS x ON {self.join_on('c', 'x')} "
            f"JOIN target AS y ON {self.join_on('c', 'y')} "
            f"ORDER BY {', '.join(f'c.{quote(k)}' for k in self.key)}"
        ).fetchall()
        found = []
        for row in rows:
            values = iter(row)
            key = {k: self.base[k].value(next(values)) for k in self.key}
            changes: dict[str, Any] = {}
            for n in self.compared:
                differs, old, new = next(values), next(values), next(values)
                if differs:
                    changes[n] = {
                        "base": self.base[n].value(old),
                        "target": self.target[n].value(new),
                    }
            found.append({"key": key, "changes": changes})
        return found
