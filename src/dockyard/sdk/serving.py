"""``dy.prediction_log`` and ``dy.trace``: what model servers answered, from Python."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from dockyard.client.client import Client, connect
from dockyard.serving.logformat import COLUMNS
from dockyard.serving.schemas import PredictionTrace


def prediction_log(
    model: str,
    *,
    since: dt.datetime | dt.timedelta | None = None,
    until: dt.datetime | None = None,
    client: Client | None = None,
) -> pa.Table:
    """Every logged prediction of ``model`` from ``since`` (a time, or how long ago;
    default 1 hour) to ``until`` (default now), as an Arrow table: one row per predicted
    row, with ``inputs``, ``features`` and ``output`` as JSON text. Query it with DuckDB:
    ``duckdb.sql("select version, avg(latency_ms) from log group by version")``.

    Segments are read from the blob store, each verified against its digest (a server's
    cache of them is reused)."""
    now = dt.datetime.now(dt.UTC)
    end = until or now
    start = end - since if isinstance(since, dt.timedelta) else since
    own = client is None
    active = client or connect()
    try:
        segments = active.serving.segments(model, since=start, until=end, limit=10_000)
        cache = active.settings.home / "cache" / "blobs"
        parts = [
            pq.read_table(active.blobs.local_copy(s.digest, cache), columns=COLUMNS.names)
            for s in segments
        ]
    finally:
        if own:
            active.close()
    table = pa.concat_tables([p.cast(COLUMNS) for p in parts]) if parts else COLUMNS.empty_table()
    lower = start or end - dt.timedelta(hours=1)
    at = table["at"]
    keep = pa.compute.and_(
        pa.compute.greater_equal(at, pa.scalar(lower, pa.timestamp("us", "UTC"))),
        pa.compute.less_equal(at, pa.scalar(end, pa.timestamp("us", "UTC"))),
    )
    return table.filter(keep).sort_by([("prediction_id", "ascending")])


def trace(prediction_id: str, *, client: Client | None = None) -> PredictionTrace:
    """One prediction and where its model came from: the version, its run, the run's code
    commit and diff, its training data and environment (``.lineage``)."""
    if client is not None:
        return client.serving.trace(prediction_id)
    with connect() as active:
        return active.serving.trace(prediction_id)
