"""The prediction log: every answered (and shadow) prediction, written off the request
path into Parquet segments in the blob store, one per model and hour per flush.

Requests hand their predictions to a bounded queue and never wait: when it is full the
predictions are counted as dropped. A writer thread drains it every ``flush_seconds`` (or
sooner when ``flush_rows`` are waiting), uploads each segment and records it with the
serving service. A flush that fails (the store is down) keeps its rows for the next one,
up to the queue's bound. What a killed server had not written yet is lost; its last
heartbeat says how much was waiting, and the next server to start reports it.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow.parquet as pq

from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput
from dockyard.serving.logformat import COLUMNS, segment_table

log = logging.getLogger("dockyard.serve")
_JSON = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


@dataclass
class Entry:
    """The predictions of one request (one row each)."""

    ids: list[str]
    at: dt.datetime
    model: str
    version: int
    alias: str
    shadow: bool
    latency_ms: float
    inputs: dict[str, list[Any]]
    outputs: list[Any]
    features: dict[str, list[Any]] | None = None


def _text(value: Any) -> str:
    return orjson.dumps(value, option=_JSON).decode()


class PredictionLog:
    """A bounded queue of predictions and the thread that writes it out."""

    def __init__(
        self,
        client: Client,
        instance_id: str,
        *,
        max_rows: int = 100_000,
        flush_seconds: float = 2.0,
        flush_rows: int = 20_000,
    ) -> None:
        self.client = client
        self.instance_id = instance_id
        self.max_rows = max_rows
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
        self._queued = 0  # rows in the queue or in the writer's hands, not yet written
        self._lock = threading.Lock()
        self.accepted = 0
        self.logged = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        return self._queued

    def offer(self, entry: Entry) -> bool:
        """Queue a request's predictions; False (and counted as dropped) when full."""
        n = len(entry.ids)
        with self._lock:
            if self._queued + n > self.max_rows:
                self.dropped += n
                return False
            self._queued += n
            self.accepted += n
        self._queue.put(entry)
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dockyard-predlog", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued and stop (a graceful shutdown loses nothing)."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout=timeout)
        self._thread = None

    def _run(self) -> None:
        held: dict[tuple[str, int], _Pending] = {}
        last = time.monotonic()
        stopping = False
        while not stopping:
            timeout = max(0.0, self.flush_seconds - (time.monotonic() - last))
            try:
                entry = self._queue.get(timeout=timeout)
                if entry is None:
                    stopping = True
                else:
                    self._hold(held, entry)
            except queue.Empty:
                pass
            waiting = sum(len(p) for p in held.values())
            due = time.monotonic() - last >= self.flush_seconds or waiting >= self.flush_rows
            if held and (due or stopping):
                while True:  # take what else is queued without waiting
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        continue
                    self._hold(held, more)
                held = self._flush(held)
                last = time.monotonic()
            elif due:
                last = time.monotonic()

    def _hold(self, held: dict[tuple[str, int], _Pending], entry: Entry) -> None:
        """:func:`_hold` the entry; one that cannot be encoded (a value JSON cannot hold) is
        counted as dropped, and the writer goes on."""
        try:
            _hold(held, entry)
        except (TypeError, ValueError) as exc:
            count = len(entry.ids)
            log.error(
                "prediction log: %d predictions of %s not logged: %s", count, entry.model, exc
            )
            with self._lock:
                self._queued -= count
                self.dropped += count

    def _flush(self, held: dict[tuple[str, int], _Pending]) -> dict[tuple[str, int], _Pending]:
        """Write each model's and hour's rows as a segment; return those to try again (the
        store was unreachable)."""
        kept: dict[tuple[str, int], _Pending] = {}
        for key, pending in held.items():
            count = len(pending)
            try:
                self._write(pending)
            except InvalidInput as exc:  # refused for good: retrying cannot help
                log.error(
                    "prediction log: %d predictions of %s refused: %s", count, pending.model, exc
                )
                with self._lock:
                    self._queued -= count
                    self.dropped += count
                continue
            except Exception as exc:  # the store is unreachable: keep them for the next flush
                log.warning(
                    "prediction log: %d predictions of %s not written yet: %s",
                    count,
                    pending.model,
                    exc,
                )
                kept[key] = pending
                continue
            with self._lock:
                self._queued -= count
                self.logged += count
        return kept

    def _write(self, pending: _Pending) -> None:
        table = segment_table(pending.columns)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        blob = self.client.blobs.put(buffer.getvalue())
        ids = sorted(pending.columns["prediction_id"])
        self.client.serving.record_segment(
            model=pending.model,
            instance_id=self.instance_id,
            digest=blob.digest,
            hour=dt.datetime.fromtimestamp(pending.hour * 3600, dt.UTC),
            rows=len(ids),
            first_id=ids[0],
            last_id=ids[-1],
            versions=sorted(pending.versions),
        )


class _Pending:
    """The rows of one model and hour waiting to be written, column by column.

    An entry is turned into text and numbers as it arrives (its inputs, features and output
    as one JSON text per row), so what waits for the next flush holds a few lists of
    strings and numbers, not one dict and list per request: the garbage collector walks
    every container that lives that long, and at 500 requests/s its full passes over
    waiting entries were stalls the requests felt. The work is spread over the arrivals
    instead of done all at once by the flush."""

    __slots__ = ("columns", "hour", "model", "versions")

    def __init__(self, model: str, hour: int) -> None:
        self.model = model
        self.hour = hour
        self.columns: dict[str, list[Any]] = {field.name: [] for field in COLUMNS}
        self.versions: set[int] = set()

    def __len__(self) -> int:
        return len(self.columns["prediction_id"])

    def add(self, entry: Entry, picked: list[int] | None) -> None:
        """Add the entry's rows (those at ``picked``, or all of them)."""
        ids = entry.ids if picked is None else [entry.ids[i] for i in picked]
        rows = range(len(entry.ids)) if picked is None else picked
        n = len(ids)
        # encoded first: a value JSON cannot hold raises before any column grows
        inputs = _per_row(entry.inputs, rows)
        features = _per_row(entry.features, rows) if entry.features else [None] * n
        outputs = [_text(entry.outputs[i]) for i in rows]
        out = self.columns
        out["prediction_id"].extend(ids)
        out["at"].extend([entry.at] * n)
        out["model"].extend([entry.model] * n)
        out["version"].extend([entry.version] * n)
        out["alias"].extend([entry.alias] * n)
        out["shadow"].extend([entry.shadow] * n)
        out["latency_ms"].extend([entry.latency_ms] * n)
        out["inputs"].extend(inputs)
        out["features"].extend(features)
        out["output"].extend(outputs)
        self.versions.add(entry.version)


def _hold(held: dict[tuple[str, int], _Pending], entry: Entry) -> None:
    """Add an entry's rows to the pending rows of their model and hour (a request at
    hh:59:59.999 can have ids of two hours)."""
    hours = [int(i[:12], 16) // 3_600_000 for i in entry.ids]
    if hours[0] == hours[-1]:
        parts: list[tuple[int, list[int] | None]] = [(hours[0], None)]
    else:
        parts = [(h, [i for i, x in enumerate(hours) if x == h]) for h in sorted(set(hours))]
    for hour, picked in parts:
        key = (entry.model, hour)
        pending = held.get(key)
        if pending is None:
            pending = held[key] = _Pending(entry.model, hour)
        pending.add(entry, picked)


def _per_row(columns: dict[str, list[Any]], rows: range | list[int]) -> list[str]:
    """One JSON object per row of ``columns`` (the rows at ``rows``)."""
    if len(rows) == 1:
        (i,) = rows
        return [_text({name: values[i] for name, values in columns.items()})]
    items = list(columns.items())
    return [_text({name: values[i] for name, values in items}) for i in rows]
