"""The DuckDB statements of a point-in-time training set, one builder per kind of feature.

Each builder returns the SQL of a table ``(__row, f0, f1, ...)`` with one row per label row
(``__row``) for the features it is given, following :mod:`dockyard.features.windows`:

- Fields: one ASOF join of the labels to the last event per (key, ts) — the one that
  arrived last — on ``ts < t``.
- count / sum / mean: running sums per key over the events and the label rows sorted
  together (label rows at ``t`` and at each window's start, before events of the same
  time); a window is the difference of the two.
- the same with ``available_at``: running sums over the time an event becomes known
  (``v = max(ts, available_at)``) minus those over ``ts`` before the window's start, plus
  the few events that started before the window but became known only at or after ``t``
  (their label delay exceeds the window; only those enter a range join).
- std / min / max / last / distinct_count: a window function whose frame, for each label row
  sorted among the events, is exactly its window (``RANGE`` from its start to 1 us before
  ``t``).

No statement joins labels to events by a range condition except the gated correction.
Tables: ``labels_`` (``__row``, ``__t`` and the key columns) and the view's source ``src``
(``__seq``, ``__ts``, the key and value columns, ``__a_<column>`` for available-at times).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dockyard.features.definitions import Aggregate, FeatureView, Field
from dockyard.features.windows import sql_floor


def quote(name: str) -> str:
    """A SQL identifier for a column name, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def avail_column(column: str) -> str:
    """The internal name of an available-at column converted to microseconds."""
    return quote(f"__a_{column}")


class ViewSQL:
    """SQL builders for one view whose source is registered as ``src`` (a per-view name)."""

    def __init__(self, view: FeatureView, src: str) -> None:
        self.view = view
        self.src = src
        self.keys = [quote(k) for k in view.keys]
        self.key_list = ", ".join(self.keys)

    def _on(self, left: str, right: str) -> str:
        return " AND ".join(f"{left}.{k} = {right}.{k}" for k in self.keys)

    def fields(self, features: Sequence[tuple[str, Field]]) -> str:
        """Fields: the latest event (by ts, then arrival) strictly before t."""
        picks = ", ".join(
            f"arg_max_null({quote(f.column)}, __seq) AS {alias}" for alias, f in features
        )
        ttl = self.view.ttl_us
        outs = ", ".join(
            f"CASE WHEN r.__ts >= l.__t - {ttl} THEN r.{alias} END AS {alias}"
            if ttl is not None
            else f"r.{alias} AS {alias}"
            for alias, _ in features
        )
        return f"""
            WITH last AS (
                SELECT {self.key_list}, __ts, {picks} FROM {self.src} GROUP BY ALL
            )
            SELECT l.__row, {outs}
            FROM labels_ l ASOF LEFT JOIN last r ON {self._on("l", "r")} AND l.__t > r.__ts
        """

    def _starts(self, features: Sequence[Aggregate]) -> dict[tuple[int, int], int]:
        """A slot number (1, 2, ...) per distinct (window, bucket) of windowed features."""
        slots: dict[tuple[int, int], int] = {}
        for f in features:
            if f.window_us is not None:
                slots.setdefault((f.window_us, self.view.bucket_us(f)), len(slots) + 1)
        return slots

    def _label_rows(self, slots: dict[tuple[int, int], int], nulls: str) -> str:
        """Label rows at t (slot 0) and at each window's start (slot k), before events of
        the same time (kind 0 sorts before kind 1: an event at t is not known at t)."""
        parts = [
            f"SELECT {self.key_list}, __t, 0, __row, 0, {nulls} FROM labels_ WHERE __t IS NOT NULL"
        ]
        for (w, b), slot in slots.items():
            parts.append(
                f"SELECT {self.key_list}, {sql_floor('__t', b)} - {w}, 0, __row, {slot}, {nulls} "
                "FROM labels_ WHERE __t IS NOT NULL"
            )
        return " UNION ALL ".join(parts)

    def sums(self, features: Sequence[tuple[str, Aggregate]], known: Mapping[str, str]) -> str:
        """count / sum / mean: running sums over events and label rows sorted together; a
        window is the running sum at t minus the one at the window's start.

        A feature with ``available_at`` (alias in ``known``: the table :meth:`known` made
        for it) counts the events with ``v = max(ts, available_at) < t`` (from that table)
        minus those with ``ts`` before the window's start (here), plus those with ``ts``
        before the start but ``v >= t`` (from that table: their delay exceeds the window).
        """
        values: dict[tuple[str, str | None], str] = {}
        for _, f in features:
            values.setdefault((f.column, f.available_at), f"c{len(values)}")
        summed = {(f.column, f.available_at) for _, f in features if f.fn != "count"}
        slots = self._starts([f for _, f in features])
        expressions = []
        for (column, gate), name in values.items():
            value = f"{quote(column)}::DOUBLE" if (column, gate) in summed else "1"
            condition = f"{quote(column)} IS NOT NULL"
            if gate is not None:
                condition += f" AND {avail_column(gate)} IS NOT NULL"
            expressions.append(f"CASE WHEN {condition} THEN {value} END AS {name}")
        nulls = ", ".join("NULL" for _ in values)
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in self.keys)
        running = ", ".join(
            f"count({n}) OVER w AS n_{n}" + (f", sum({n}) OVER w AS s_{n}" if v in summed else "")
            for v, n in values.items()
        )
        joins = "".join(
            f" LEFT JOIN run s{slot} ON s{slot}.__row = e.__row AND s{slot}.__slot = {slot}"
            for slot in slots.values()
        )
        outs = []
        for alias, f in features:
            c = values[(f.column, f.available_at)]
            has_sum = (f.column, f.available_at) in summed
            if f.available_at is None:
                n, total = f"e.n_{c}", f"coalesce(e.s_{c}, 0)" if has_sum else "0"
            else:
                table = known[alias]
                joins += f" LEFT JOIN {table} ON {table}.__row = e.__row"
                n = f"(coalesce({table}.nv, 0) + coalesce({table}.dn, 0))"
                total = f"(coalesce({table}.sv, 0) + coalesce({table}.ds, 0))"
            if f.window_us is not None:
                slot = slots[(f.window_us, self.view.bucket_us(f))]
                n = f"({n} - coalesce(s{slot}.n_{c}, 0))"
                if has_sum:
                    total = f"({total} - coalesce(s{slot}.s_{c}, 0))"
            outs.append(f"{_finish(f.fn, n, total)} AS {alias}")
        return f"""
            WITH rows_ AS (
                SELECT {self.key_list}, __ts AS __tm, 1 AS __kind, __seq AS __row,
                    NULL AS __slot, {", ".join(expressions)}
                FROM {self.src} WHERE {not_null}
                UNION ALL {self._label_rows(slots, nulls)}
            ),
            run AS MATERIALIZED (
                SELECT __row, __slot, {running} FROM rows_
                WINDOW w AS (PARTITION BY {self.key_list} ORDER BY __tm, __kind
                    ROWS UNBOUNDED PRECEDING)
                QUALIFY __kind = 0
            )
            SELECT e.__row, {", ".join(outs)} FROM run e{joins} WHERE e.__slot = 0
        """

    def known(self, f: Aggregate) -> str:
        """For a feature with ``available_at``: per label row, the count and sum of events
        known before t (``v = max(ts, available_at) < t``: running sums over events at
        ``v`` and label rows at ``t``) and of those older than the window's start that
        became known only at or after t (``dn``, ``ds``: a range join, but only over the
        events whose delay exceeds the window)."""
        assert f.available_at is not None
        at, value = avail_column(f.available_at), quote(f.column)
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in self.keys)
        x = f"{value}::DOUBLE" if f.fn != "count" else "1"
        late = "SELECT NULL::BIGINT AS __row, 0 AS dn, 0.0 AS ds WHERE false"
        if f.window_us is not None:
            start = f"{sql_floor('l.__t', self.view.bucket_us(f))} - {f.window_us}"
            late = f"""
                SELECT l.__row, count(*) AS dn, sum(x) AS ds
                FROM labels_ l JOIN (SELECT * FROM ev WHERE __v - __ts > {f.window_us}) e
                    ON {self._on("l", "e")} AND e.__ts < {start} AND e.__v >= l.__t
                GROUP BY l.__row
            """
        return f"""
            WITH ev AS (
                SELECT {self.key_list}, __ts, greatest(__ts, {at}) AS __v, {x} AS x
                FROM {self.src} WHERE {value} IS NOT NULL AND {at} IS NOT NULL AND {not_null}
            ),
            rows_ AS (
                SELECT {self.key_list}, __v AS __tm, 1 AS __kind, NULL AS __row, x FROM ev
                UNION ALL
                SELECT {self.key_list}, __t, 0, __row, NULL FROM labels_ WHERE __t IS NOT NULL
            ),
            run AS (
                SELECT __row, count(x) OVER w AS nv, sum(x) OVER w AS sv FROM rows_
                WINDOW w AS (PARTITION BY {self.key_list} ORDER BY __tm, __kind
                    ROWS UNBOUNDED PRECEDING)
                QUALIFY __kind = 0
            ),
            d AS ({late})
            SELECT run.__row, nv, sv, d.dn, d.ds FROM run LEFT JOIN d ON d.__row = run.__row
        """

    def timeline(self, alias: str, f: Aggregate) -> str:
        """std / min / max / last / distinct_count in one window pass over events and label rows.

        Events and label rows of one key are ordered by time; each label row aggregates
        the events of its frame ``RANGE BETWEEN t - start(t) PRECEDING AND 1 PRECEDING``,
        i.e. ``start(t) <= ts <= t - 1 us``: exactly the window of the rules. Event rows
        get an empty frame. ``last`` breaks ties on time by arrival order through the key
        ``ts * 2^32 + seq``.
        """
        col = quote(f.column)
        offset = "__tm - __start"
        start = "NULL"
        if f.window_us is not None:
            start = f"{sql_floor('__t', self.view.bucket_us(f))} - {f.window_us}"
            frame = f"RANGE BETWEEN {offset} PRECEDING AND 1 PRECEDING"
        else:
            frame = "RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
        over = f"(PARTITION BY {self.key_list} ORDER BY __tm {frame})"
        ttl = self.view.ttl_us
        result = alias
        extra = ""
        if f.fn == "distinct_count":
            value = f"count(DISTINCT {col}) OVER {over}"
            result = f"{alias}::BIGINT AS {alias}"
        elif f.fn in ("min", "max"):
            value = f"{f.fn}({col}) OVER {over}"
        elif f.fn == "std":  # Welford within a segment, pairwise merges: no cancellation
            value = f"stddev_pop({col}::DOUBLE) OVER {over}"
        else:  # last: the latest non-null value, by time then arrival
            value = f"arg_max_null({col}, CASE WHEN {col} IS NOT NULL THEN __k END) OVER {over}"
            if ttl is not None:
                extra = f", max(CASE WHEN {col} IS NOT NULL THEN __tm END) OVER {over} AS __last"
                result = f"CASE WHEN __last >= __tm - {ttl} THEN {alias} END AS {alias}"
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in self.keys)
        return f"""
            WITH rows_ AS (
                SELECT {self.key_list}, __ts AS __tm, __seq AS __row, false AS __label,
                    __ts AS __start, __ts::HUGEINT * 4294967296 + __seq AS __k, {col}
                FROM {self.src} WHERE {col} IS NOT NULL AND {not_null}
                UNION ALL
                SELECT {self.key_list}, __t, __row, true, {start}, NULL, NULL
                FROM labels_ WHERE __t IS NOT NULL
            ),
            framed AS (
                SELECT __row, __tm, {value} AS {alias}{extra} FROM rows_ QUALIFY __label
            )
            SELECT __row, {result} FROM framed
        """


def _finish(fn: str, n: str, s: str) -> str:
    if fn == "count":
        return f"{n}::BIGINT"
    if fn == "sum":
        return f"CASE WHEN {n} > 0 THEN {s} END"
    return f"CASE WHEN {n} > 0 THEN ({s}) / {n} END"
