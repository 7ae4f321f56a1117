"""The DuckDB statements of a point-in-time training set, one builder per kind of feature.

Each builder returns the SQL of a table ``(__row, f0, f1, ...)`` with one row per label row
(``__row``) for the features it is given, following :mod:`dockyard.features.windows`:

- Fields: one ASOF join of the labels to the last event per (key, ts) — the one that
  arrived last — on ``ts < t``.
- count / sum / mean: cumulative sums per key over the events grouped by time; a window is
  the difference of two ASOF lookups, at ``t`` and at the window's start.
- the same with ``available_at``: cumulative sums over the time an event becomes known
  (``v = max(ts, available_at)``) minus those over ``ts`` before the window's start, plus
  the few events that started before the window but became known only at or after ``t``
  (their label delay exceeds the window; only those enter a range join).
- min / max / last: per-bucket partials combined over the window's whole buckets with a
  RANGE window function, plus a running partial inside the current bucket found by an
  ASOF join.
- distinct_count: a DISTINCT window aggregate over the whole buckets, plus the values new
  in the current bucket (running counts of first appearances, found by an ASOF join).

No statement joins labels to events by a range condition except the gated correction.
Tables: ``labels_`` (``__row``, ``__t`` and the key columns) and the view's source ``src``
(``__seq``, ``__ts``, the key and value columns, ``__a_<column>`` for available-at times).
"""

from __future__ import annotations

from collections.abc import Sequence

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

    def sums(self, features: Sequence[tuple[str, Aggregate]]) -> str:
        """Ungated count / sum / mean: differences of cumulative sums."""
        columns = list(dict.fromkeys(f.column for _, f in features))
        col_alias = {c: f"c{i}" for i, c in enumerate(columns)}
        group = ", ".join(
            f"count({quote(c)}) AS n_{a}, coalesce(sum({quote(c)}::DOUBLE), 0) AS s_{a}"
            for c, a in col_alias.items()
        )
        running = ", ".join(
            f"sum(n_{a}) OVER w AS n_{a}, sum(s_{a}) OVER w AS s_{a}" for a in col_alias.values()
        )
        starts: dict[tuple[int, int], str] = {}
        for _, f in features:
            if f.window_us is not None:
                b = self.view.bucket_us(f)
                starts.setdefault((f.window_us, b), f"s{len(starts)}")
        start_cols = "".join(
            f", {sql_floor('__t', b)} - {w} AS __{name}" for (w, b), name in starts.items()
        )
        joins = "".join(
            f" ASOF LEFT JOIN cum {name} ON {self._on('l', name)} AND l.__{name} > {name}.__ts"
            for name in starts.values()
        )
        outs = []
        for alias, f in features:
            a = col_alias[f.column]
            if f.window_us is None:
                n, s = f"coalesce(e.n_{a}, 0)", f"coalesce(e.s_{a}, 0)"
            else:
                st = starts[(f.window_us, self.view.bucket_us(f))]
                n = f"(coalesce(e.n_{a}, 0) - coalesce({st}.n_{a}, 0))"
                s = f"(coalesce(e.s_{a}, 0) - coalesce({st}.s_{a}, 0))"
            outs.append(f"{_finish(f.fn, n, s)} AS {alias}")
        return f"""
            WITH grouped AS (
                SELECT {self.key_list}, __ts, {group} FROM {self.src} GROUP BY ALL
            ), cum AS (
                SELECT {self.key_list}, __ts, {running} FROM grouped
                WINDOW w AS (PARTITION BY {self.key_list} ORDER BY __ts ROWS UNBOUNDED PRECEDING)
            ), l AS (SELECT *{start_cols} FROM labels_)
            SELECT l.__row, {", ".join(outs)}
            FROM l ASOF LEFT JOIN cum e ON {self._on("l", "e")} AND l.__t > e.__ts{joins}
        """

    def gated(self, alias: str, f: Aggregate) -> str:
        """count / sum / mean of events that are known (``available_at < t``) by time t."""
        assert f.available_at is not None
        value = quote(f.column)
        events = f"""
            SELECT {self.key_list}, __ts, greatest(__ts, {avail_column(f.available_at)}) AS __v,
                {value}::DOUBLE AS x
            FROM {self.src}
            WHERE {value} IS NOT NULL AND {avail_column(f.available_at)} IS NOT NULL
        """

        def cumulative(time: str) -> str:
            return f"""
                SELECT {self.key_list}, __at, sum(n) OVER w AS n, sum(s) OVER w AS s
                FROM (
                    SELECT {self.key_list}, {time} AS __at, count(*) AS n, sum(x) AS s
                    FROM ev GROUP BY {self.key_list}, {time}
                )
                WINDOW w AS (PARTITION BY {self.key_list} ORDER BY __at ROWS UNBOUNDED PRECEDING)
            """

        window = f.window_us
        if window is None:
            n, s = "coalesce(v.n, 0)", "coalesce(v.s, 0)"
            return f"""
                WITH ev AS ({events}), by_v AS ({cumulative("__v")})
                SELECT l.__row, {_finish(f.fn, n, s)} AS {alias}
                FROM labels_ l ASOF LEFT JOIN by_v v ON {self._on("l", "v")} AND l.__t > v.__at
            """
        start = f"{sql_floor('__t', self.view.bucket_us(f))} - {window}"
        n = "(coalesce(v.n, 0) - coalesce(b.n, 0) + coalesce(d.n, 0))"
        s = "(coalesce(v.s, 0) - coalesce(b.s, 0) + coalesce(d.s, 0))"
        return f"""
            WITH ev AS ({events}), by_v AS ({cumulative("__v")}), by_ts AS ({cumulative("__ts")}),
            l AS (SELECT *, {start} AS __s FROM labels_),
            late AS (SELECT * FROM ev WHERE __v - __ts > {window}),
            d AS (
                SELECT l.__row, count(*) AS n, sum(x) AS s
                FROM l JOIN late e ON {self._on("l", "e")} AND e.__ts < l.__s AND e.__v >= l.__t
                GROUP BY l.__row
            )
            SELECT l.__row, {_finish(f.fn, n, s)} AS {alias}
            FROM l ASOF LEFT JOIN by_v v ON {self._on("l", "v")} AND l.__t > v.__at
            ASOF LEFT JOIN by_ts b ON {self._on("l", "b")} AND l.__s > b.__at
            LEFT JOIN d ON d.__row = l.__row
        """

    def ordered(self, alias: str, f: Aggregate) -> str:
        """min / max / last / distinct_count: bucket partials and a running current bucket."""
        if f.fn == "distinct_count":
            if f.window_us is None:
                return self._distinct_all(alias, f)
            return self._distinct(alias, f)
        value = quote(f.column)
        part = {
            "min": f"min({value})",
            "max": f"max({value})",
            "last": f"arg_max({value}, __seq)",
        }[f.fn]
        grouped = f"""
            SELECT {self.key_list}, __ts, {part} AS p FROM {self.src}
            WHERE {value} IS NOT NULL GROUP BY ALL
        """
        ttl = self.view.ttl_us
        if f.window_us is None:
            return self._ordered_all(alias, f, grouped, ttl)
        b, w = self.view.bucket_us(f), f.window_us
        over_bucket = {
            "min": "min(p)",
            "max": "max(p)",
            "last": "arg_max(p, __ts)",
        }[f.fn]
        frame = (
            f"(PARTITION BY {self.key_list} ORDER BY __b "
            f"RANGE BETWEEN {w} PRECEDING AND {b} PRECEDING)"
        )
        whole = {
            "min": f"min(p) OVER {frame}",
            "max": f"max(p) OVER {frame}",
            "last": f"arg_max(p, lt) OVER {frame}",
        }[f.fn]
        run_frame = f"(PARTITION BY {self.key_list}, __b ORDER BY __ts ROWS UNBOUNDED PRECEDING)"
        running = {
            "min": f"min(p) OVER {run_frame}",
            "max": f"max(p) OVER {run_frame}",
            "last": "p",
        }[f.fn]
        partial = "CASE WHEN r.__b = l.__b THEN r.q END"
        partial_ts = "CASE WHEN r.__b = l.__b THEN r.__ts END"
        result = {
            "min": f"least(wh.q, {partial})",
            "max": f"greatest(wh.q, {partial})",
            "last": f"coalesce({partial}, wh.q)",
        }[f.fn]
        if f.fn == "last" and ttl is not None:
            result = f"CASE WHEN coalesce({partial_ts}, wh.lt) >= l.__t - {ttl} THEN {result} END"
        return f"""
            WITH grouped AS ({grouped}),
            with_b AS (SELECT *, {sql_floor("__ts", b)} AS __b FROM grouped),
            buckets AS (
                SELECT {self.key_list}, __b, {over_bucket} AS p, max(__ts) AS lt
                FROM with_b GROUP BY ALL
            ),
            l AS (SELECT *, {sql_floor("__t", b)} AS __b FROM labels_),
            marked AS (
                SELECT {self.key_list}, __b, p, lt, false AS is_label FROM buckets
                UNION ALL
                SELECT DISTINCT {self.key_list}, __b, NULL, NULL, true FROM l
            ),
            wh AS (
                SELECT {self.key_list}, __b, {whole} AS q, max(lt) OVER {frame} AS lt
                FROM marked QUALIFY is_label
            ),
            run AS (SELECT {self.key_list}, __ts, __b, {running} AS q FROM with_b)
            SELECT l.__row, {result} AS {alias}
            FROM l LEFT JOIN wh ON {self._on("l", "wh")} AND wh.__b = l.__b
            ASOF LEFT JOIN run r ON {self._on("l", "r")} AND l.__t > r.__ts
        """

    def _distinct(self, alias: str, f: Aggregate) -> str:
        """Distinct values over a window: |whole buckets| + |current bucket| - |both|.

        The whole buckets' count is a DISTINCT window aggregate over one row per (key,
        value, bucket); a value of the current bucket is in both when its previous bucket
        is within the window. Both current-bucket counts run over the first time each value
        appears in its bucket, found by an ASOF join.
        """
        assert f.window_us is not None
        b, w, value = self.view.bucket_us(f), f.window_us, quote(f.column)
        frame = (
            f"(PARTITION BY {self.key_list} ORDER BY __b "
            f"RANGE BETWEEN {w} PRECEDING AND {b} PRECEDING)"
        )
        return f"""
            WITH firsts AS (
                SELECT {self.key_list}, {value} AS v, {sql_floor("__ts", b)} AS __b,
                    min(__ts) AS __ts
                FROM {self.src} WHERE {value} IS NOT NULL GROUP BY ALL
            ),
            flagged AS (
                SELECT *, coalesce(
                    lag(__b) OVER (PARTITION BY {self.key_list}, v ORDER BY __b) >= __b - {w},
                    false
                ) AS seen
                FROM firsts
            ),
            per_ts AS (
                SELECT {self.key_list}, __b, __ts, count(*) AS n, count(*) FILTER (seen) AS o
                FROM flagged GROUP BY ALL
            ),
            run AS (
                SELECT {self.key_list}, __b, __ts,
                    sum(n) OVER r AS n, sum(o) OVER r AS o
                FROM per_ts
                WINDOW r AS (PARTITION BY {self.key_list}, __b ORDER BY __ts
                    ROWS UNBOUNDED PRECEDING)
            ),
            l AS (SELECT *, {sql_floor("__t", b)} AS __b FROM labels_),
            marked AS (
                SELECT {self.key_list}, __b, v, false AS is_label FROM firsts
                UNION ALL
                SELECT DISTINCT {self.key_list}, __b, NULL, true FROM l
            ),
            wh AS (
                SELECT {self.key_list}, __b, count(DISTINCT v) OVER {frame} AS q
                FROM marked QUALIFY is_label
            )
            SELECT l.__row, (coalesce(wh.q, 0)
                + coalesce(CASE WHEN r.__b = l.__b THEN r.n - r.o END, 0))::BIGINT AS {alias}
            FROM l LEFT JOIN wh ON {self._on("l", "wh")} AND wh.__b = l.__b
            ASOF LEFT JOIN run r ON {self._on("l", "r")} AND l.__t > r.__ts
        """

    def _ordered_all(self, alias: str, f: Aggregate, grouped: str, ttl: int | None) -> str:
        frame = f"(PARTITION BY {self.key_list} ORDER BY __ts ROWS UNBOUNDED PRECEDING)"
        running = {"min": f"min(p) OVER {frame}", "max": f"max(p) OVER {frame}", "last": "p"}[f.fn]
        result = "r.q"
        if f.fn == "last" and ttl is not None:
            result = f"CASE WHEN r.__ts >= l.__t - {ttl} THEN r.q END"
        return f"""
            WITH grouped AS ({grouped}),
            run AS (SELECT {self.key_list}, __ts, {running} AS q FROM grouped)
            SELECT l.__row, {result} AS {alias}
            FROM labels_ l ASOF LEFT JOIN run r ON {self._on("l", "r")} AND l.__t > r.__ts
        """

    def _distinct_all(self, alias: str, f: Aggregate) -> str:
        """Distinct values over all history: a running count of first appearances."""
        frame = f"(PARTITION BY {self.key_list} ORDER BY __ts ROWS UNBOUNDED PRECEDING)"
        value = quote(f.column)
        return f"""
                WITH firsts AS (
                    SELECT {self.key_list}, min(__ts) AS __ts FROM {self.src}
                    WHERE {value} IS NOT NULL GROUP BY {self.key_list}, {value}
                ), per_ts AS (
                    SELECT {self.key_list}, __ts, count(*) AS n FROM firsts
                    GROUP BY {self.key_list}, __ts
                ), run AS (SELECT {self.key_list}, __ts, sum(n) OVER {frame} AS q FROM per_ts)
                SELECT l.__row, coalesce(r.q, 0)::BIGINT AS {alias}
                FROM labels_ l ASOF LEFT JOIN run r ON {self._on("l", "r")} AND l.__t > r.__ts
            """


def _finish(fn: str, n: str, s: str) -> str:
    if fn == "count":
        return f"{n}::BIGINT"
    if fn == "sum":
        return f"CASE WHEN {n} > 0 THEN {s} END"
    return f"CASE WHEN {n} > 0 THEN ({s}) / {n} END"
