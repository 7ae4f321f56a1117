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
from collections import defaultdict
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
        held: list[Entry] = []
        held_rows = 0
        last = time.monotonic()
        stopping = False
        while not stopping:
            timeout = max(0.0, self.flush_seconds - (time.monotonic() - last))
            try:
                entry = self._queue.get(timeout=timeout)
                if entry is None:
                    stopping = True
                else:
                    held.append(entry)
                    held_rows += len(entry.ids)
            except queue.Empty:
                pass
            due = time.monotonic() - last >= self.flush_seconds or held_rows >= self.flush_rows
            if held and (due or stopping):
                while True:  # take what else is queued without waiting
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        continue
                    held.append(more)
                    held_rows += len(more.ids)
                held = self._flush(held)
                held_rows = sum(len(e.ids) for e in held)
                last = time.monotonic()
            elif due:
                last = time.monotonic()

    def _flush(self, entries: list[Entry]) -> list[Entry]:
        """Write entries as segments (one per model and hour of the prediction ids);
        return those to try again (the store was unreachable)."""
        groups: dict[tuple[str, int], list[Entry]] = defaultdict(list)
        for entry in entries:
            for part in _by_hour(entry):
                groups[(part.model, int(part.ids[0][:12], 16) // 3_600_000)].append(part)
        kept: list[Entry] = []
        for (model, hour), group in groups.items():
            rows = _columns(group)
            count = len(rows["prediction_id"])
            try:
                self._write(model, hour, group, rows)
            except InvalidInput as exc:  # refused for good: retrying cannot help
                log.error("prediction log: %d predictions of %s refused: %s", count, model, exc)
                with self._lock:
                    self._queued -= count
                    self.dropped += count
                continue
            except Exception as exc:  # the store is unreachable: keep them for the next flush
                log.warning(
                    "prediction log: %d predictions of %s not written yet: %s",
                    count,
                    model,
                    exc,
                )
                kept.extend(group)
                continue
            with self._lock:
                self._queued -= count
                self.logged += count
        return kept

    def _write(self, model: str, hour: int, group: list[Entry], rows: dict[str, list[Any]]) -> None:
        table = segment_table(rows)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        blob = self.client.blobs.put(buffer.getvalue())
        ids = sorted(rows["prediction_id"])
        self.client.serving.record_segment(
            model=model,
            instance_id=self.instance_id,
            digest=blob.digest,
            hour=dt.datetime.fromtimestamp(hour * 3600, dt.UTC),
            rows=len(ids),
            first_id=ids[0],
            last_id=ids[-1],
            versions=sorted({e.version for e in group}),
        )


def _by_hour(entry: Entry) -> list[Entry]:
    """The entry split where its ids cross an hour (a request at hh:59:59.999)."""
    hours = [int(i[:12], 16) // 3_600_000 for i in entry.ids]
    if hours[0] == hours[-1]:
        return [entry]
    parts: list[Entry] = []
    for hour in sorted(set(hours)):
        picked = [i for i, h in enumerate(hours) if h == hour]
        parts.append(
            Entry(
                ids=[entry.ids[i] for i in picked],
                at=entry.at,
                model=entry.model,
                version=entry.version,
                alias=entry.alias,
                shadow=entry.shadow,
                latency_ms=entry.latency_ms,
                inputs={k: [v[i] for i in picked] for k, v in entry.inputs.items()},
                outputs=[entry.outputs[i] for i in picked],
                features=(
                    {k: [v[i] for i in picked] for k, v in entry.features.items()}
                    if entry.features
                    else None
                ),
            )
        )
    return parts


def _columns(group: list[Entry]) -> dict[str, list[Any]]:
    """The segment's columns, built column by column: Arrow converts each list in one short
    call, where one dict per row (and ``from_pylist``) held the GIL long enough to stall
    the requests the server was answering."""
    names = [field.name for field in COLUMNS]
    out: dict[str, list[Any]] = {name: [] for name in names}
    for entry in group:
        n = len(entry.ids)
        out["prediction_id"].extend(entry.ids)
        out["at"].extend([entry.at] * n)
        out["model"].extend([entry.model] * n)
        out["version"].extend([entry.version] * n)
        out["alias"].extend([entry.alias] * n)
        out["shadow"].extend([entry.shadow] * n)
        out["latency_ms"].extend([entry.latency_ms] * n)
        out["inputs"].extend(_per_row(entry.inputs, n))
        out["features"].extend(_per_row(entry.features, n) if entry.features else [None] * n)
        out["output"].extend(_text(value) for value in entry.outputs)
    return out


def _per_row(columns: dict[str, list[Any]], count: int) -> list[str]:
    """One JSON object per row of ``columns``."""
    if count == 1:
        return [_text({name: values[0] for name, values in columns.items()})]
    items = list(columns.items())
    return [_text({name: values[i] for name, values in items}) for i in range(count)]
