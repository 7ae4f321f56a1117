"""Labels given by entity and time (a chargeback names a card and when it paid, not the
prediction that scored the purchase): each is matched to the model's logged prediction with
the same key values nearest in time, within a tolerance, by two as-of joins in DuckDB."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from dockyard.core.errors import InvalidInput
from dockyard.monitoring.schemas import EntityLabel


def _keys(
    name: str, logged: pa.ChunkedArray | pa.Array, given: list[object]
) -> tuple[pa.Array, pa.Array]:
    """The logged key column and the given key values in one type to compare on: the log's
    numbers as numbers (a card id given as 7, 7.0 or "7" matches one logged as 7), anything
    else as text."""
    column = logged.combine_chunks() if isinstance(logged, pa.ChunkedArray) else logged
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        text = column if pa.types.is_string(kind) else column.cast(pa.string())
        return text, pa.array([str(v) for v in given], pa.string())
    whole = pa.types.is_integer(kind)
    values = [_number(name, v, kind, whole) for v in given]
    try:
        return column, pa.array(values, kind)
    except (pa.ArrowInvalid, OverflowError):
        raise InvalidInput(f"key {name!r}: a value given is out of the range of {kind}") from None


def _number(name: str, value: object, kind: pa.DataType, whole: bool) -> int | float:
    """``value`` as the number a key column of ``kind`` holds, or InvalidInput."""
    found: object = value
    if isinstance(value, str):
        for parse in (int, float):
            try:
                found = parse(value)
                break
            except ValueError:
                continue
    if isinstance(found, bool) or not isinstance(found, int | float):
        raise InvalidInput(f"key {name!r} is a {kind} in the prediction log; {value!r} is not")
    if whole and isinstance(found, float):
        if not found.is_integer():
            raise InvalidInput(f"key {name!r} is a {kind} in the prediction log; {value!r} is not")
        return int(found)
    return found if whole else float(found)


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
    pairs = [_keys(k, traffic[k], [item.keys[k] for item in labels]) for k in keys]
    predictions = pa.table(
        {
            "prediction_id": traffic["prediction_id"],
            "at": traffic["at"],
            **{f"k{i}": logged for i, (logged, _) in enumerate(pairs)},
        }
    )
    wanted = pa.table(
        {
            "idx": pa.array(range(len(labels)), pa.int64()),
            "at": pa.array([item.at for item in labels], pa.timestamp("us", "UTC")),
            **{f"k{i}": given for i, (_, given) in enumerate(pairs)},
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
