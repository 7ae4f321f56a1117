"""Labels given by entity and time (a chargeback names a card and when it paid, not the
prediction that scored the purchase): each is matched to the model's logged prediction with
the same key values nearest in time, within a tolerance, by two as-of joins in DuckDB."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from dockyard.core.errors import InvalidInput
from dockyard.monitoring.schemas import EntityLabel


def _key_text(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Key values as text, so a key logged as a number matches one given as text."""
    found = values.cast(pa.string()) if not pa.types.is_string(values.type) else values
    return found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found


def match(
    traffic: pa.Table, labels: Sequence[EntityLabel], tolerance_seconds: int
) -> list[str | None]:
    """For each label, the id of the prediction in ``traffic`` (a window table: prediction_id,
    at and the key columns) with the same key values nearest its time, or None when none is
    within ``tolerance_seconds``."""
    import duckdb

    keys = list(labels[0].keys)
    missing = [k for k in keys if k not in traffic.column_names]
    if missing:
        raise InvalidInput(
            f"the prediction log has no column {missing[0]!r} to match labels by; it has "
            + ", ".join(c for c in traffic.column_names if c not in ("version", "shadow"))[:500]
        )
    predictions = pa.table(
        {
            "prediction_id": traffic["prediction_id"],
            "at": traffic["at"],
            **{f"k{i}": _key_text(traffic[k]) for i, k in enumerate(keys)},
        }
    )
    wanted = pa.table(
        {
            "idx": pa.array(range(len(labels)), pa.int64()),
            "at": pa.array([item.at for item in labels], pa.timestamp("us", "UTC")),
            **{
                f"k{i}": pa.array([str(item.keys[k]) for item in labels], pa.string())
                for i, k in enumerate(keys)
            },
        }
    )
    same = " AND ".join(f"w.k{i} = p.k{i}" for i in range(len(keys)))
    con = duckdb.connect()
    try:
        con.execute("SET enable_external_access = false")
        con.register("p", predictions)
        con.register("w", wanted)
        rows = con.execute(
            f"""
            WITH before AS (
                SELECT w.idx, p.prediction_id AS pid, epoch_us(w.at) - epoch_us(p.at) AS gap
                FROM w ASOF LEFT JOIN p ON {same} AND w.at >= p.at
            ), after AS (
                SELECT w.idx, p.prediction_id AS pid, epoch_us(p.at) - epoch_us(w.at) AS gap
                FROM w ASOF LEFT JOIN p ON {same} AND p.at >= w.at
            )
            SELECT b.idx, b.pid, b.gap, a.pid, a.gap
            FROM before b JOIN after a USING (idx) ORDER BY b.idx
            """
        ).fetchall()
    finally:
        con.close()
    limit = tolerance_seconds * 1_000_000
    found: list[str | None] = []
    for _, before, before_gap, after, after_gap in rows:
        options = [
            (gap, pid)
            for pid, gap in ((before, before_gap), (after, after_gap))
            if pid is not None and gap is not None and gap <= limit
        ]
        found.append(min(options)[1] if options else None)
    return found
