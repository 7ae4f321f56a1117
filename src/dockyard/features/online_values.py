"""Online feature values: materialize, push and look up, over any :class:`OnlineStore`.

The values follow :mod:`dockyard.features.windows`, the same rules as the training sets.
Per entity the store keeps settled per-bucket partials and the few events not yet settled
(:mod:`dockyard.features.partials`). A lookup at time ``t`` is exact for any ``t`` at or
after the view's horizon (newest event time seen minus the view's ``lateness``); earlier
times are refused, since the buckets before the horizon are already merged.

Computed values hold for an interval (until the next bucket boundary, TTL expiry or a
pending event's time). Each write stores, in front of an entity's state, its values
computed at the write's time with that interval, so a lookup of the present reads a small
vector instead of recomputing; in-process, vectors are also cached (dropped whenever the
store's ``generation`` moves), so a lookup that hits the cache costs a few dictionary
operations.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dockyard.features import record_format
from dockyard.features.bulk import chunk_of, group_by_entity, settle_chunk
from dockyard.features.bulk_records import chunk_records
from dockyard.features.codec import decode, encode, entity_key
from dockyard.features.definitions import Aggregate, FeatureView, Field, OnDemand
from dockyard.features.durations import iso_utc
from dockyard.features.errors import (
    InvalidDefinition,
    InvalidTable,
    LateEvent,
    OutOfHorizon,
    UnknownFeature,
)
from dockyard.features.ondemand import apply_on_demand
from dockyard.features.partials import Consumer, Record
from dockyard.features.refs import Plan, plan, views_by_name
from dockyard.features.stores.base import OnlineStore
from dockyard.features.tables import as_arrow, check_value_column, require_columns, time_micros

_CACHE_LIMIT = 200_000
_LEAD_US = 30_000_000
"""At most how long before its values change an entity's next values are computed (at a
lookup, from the record just read), so that a bucket boundary, where every entity's values
change at once, does not make every lookup recompute at once; each entity starts at its
own point of that lead (by its key), which spreads the work."""
_NEVER = 2**63 - 1
BULK_ROWS = 20
"""From this many events on, a write (materialization, source file, push) is settled with
array operations (below it, one event at a time costs less than their fixed cost)."""
_CHUNK_ROWS = 500_000  # events per chunk of entities in a bulk materialization
_CHUNK_ENTITIES = 10_000


@dataclass(frozen=True)
class _Compiled:
    """A resolved request, laid out for the lookup loop."""

    plan: Plan
    views: list[tuple[FeatureView, list[tuple[str, int]]]]  # view, (ref, place in its vector)
    outputs: list[tuple[str, str]]  # (output column, ref)
    on_demand: bool


@dataclass
class ViewState:
    """What the store keeps per view beside the records."""

    fingerprint: str
    watermark: int | None = None  # newest event time seen
    seq: int = 0  # arrival counter
    materialized: int | None = None  # newest event time materialized from the source
    parts: list[str] = field(default_factory=list)  # source files applied (their digests)
    format: int = 1  # of the records (record_format.VERSION); states before it had none

    def horizon(self, lateness: int) -> int | None:
        return None if self.watermark is None else self.watermark - lateness


def _late(view: FeatureView, count: int | None, horizon: int, oldest: int) -> LateEvent:
    """The error for events older than the view's lateness allows."""
    return LateEvent(
        f"{'' if count is None else f'{count} '}event(s) of {view.name!r} are older than its "
        f"lateness ({view.lateness}) allows: the oldest accepted time is {iso_utc(horizon)}, "
        f"the oldest given {iso_utc(oldest)}; nothing was written. Put them in the source "
        "for training, or raise the view's lateness",
        details={"view": view.name, "horizon_us": horizon, "oldest_us": oldest}
        | ({} if count is None else {"late_events": count}),
    )


def to_micros(at: datetime | int | None) -> int:
    """A time as integer microseconds since the epoch (now when None; naive means UTC)."""
    if at is None:
        return time.time_ns() // 1_000
    if isinstance(at, datetime):
        stamp = pa.scalar(at, pa.timestamp("us", tz="UTC" if at.tzinfo else None))
        return int(stamp.cast(pa.int64()).as_py())
    return int(at)


class OnlineFeatures:
    """Online values of ``views`` kept in ``store``.

    Writers: one process at a time per view (a push reads the records it changes and
    writes them back in one atomic batch).

    A write (materialization, source file, push) of at least ``bulk_rows`` events is
    settled with array operations, a chunk of entities at a time
    (:mod:`dockyard.features.bulk`, reading stored records with
    :mod:`dockyard.features.stored`); a smaller one event by event. Both write the same
    bytes. ``clock`` gives the time (µs) at which the values stored in front of each
    record are computed (now by default).
    """

    def __init__(
        self,
        store: OnlineStore,
        views: Iterable[FeatureView],
        *,
        bulk_rows: int = BULK_ROWS,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.bulk_rows = bulk_rows
        self._clock = clock if clock is not None else (lambda: to_micros(None))
        self.views = views_by_name(views)
        self._fingerprints = {name: view.fingerprint() for name, view in self.views.items()}
        self._consumers = {
            name: [Consumer(view, f) for f in view.features if isinstance(f, Field | Aggregate)]
            for name, view in self.views.items()
        }
        self._places = {
            name: {c.name: i for i, c in enumerate(consumers)}
            for name, consumers in self._consumers.items()
        }
        self._plans: dict[tuple[tuple[str, ...], bool], _Compiled] = {}
        # the caches keep values as tuples: a tuple of numbers and strings is one the garbage
        # collector stops walking, and a serving process holds one per entity it was asked
        self._cache: dict[tuple[str, str], tuple[int, int, tuple[Any, ...]]] = {}
        self._generation: int | None = None
        # values known from a stored front (decoded from it, or computed from its record),
        # keyed by entity: (front, valid from, valid until, values)
        self._recomputed: dict[tuple[str, str], tuple[bytes, int, int, tuple[Any, ...]]] = {}
        # the values after those, computed ahead from the same record (see _LEAD_US)
        self._ahead: dict[tuple[str, str], tuple[bytes, int, int, tuple[Any, ...]]] = {}
        self._states: dict[str, tuple[bytes, int | None]] = {}  # view: (state, horizon)
        self._names: dict[tuple[Any, ...], str] = {}  # key values: store key

    # -- writing -------------------------------------------------------------------------

    def _view(self, name: str) -> FeatureView:
        if name not in self.views:
            raise UnknownFeature(f"unknown feature view {name!r} (known: {sorted(self.views)})")
        return self.views[name]

    def _state(self, view: FeatureView, encoded: bytes | None = None) -> ViewState:
        raw = decode(encoded if encoded is not None else self.store.read_state(view.name))
        if raw is None:
            return ViewState(
                fingerprint=self._fingerprints[view.name], format=record_format.VERSION
            )
        state = ViewState(**raw)
        if state.format != record_format.VERSION:
            raise InvalidDefinition(
                f"the online values of {view.name!r} were written by another version of "
                "dockyard, in another format: rebuild them (dockyard features materialize "
                "--reset, or materialize(..., reset=True))"
            )
        if state.fingerprint != self._fingerprints[view.name]:
            raise InvalidDefinition(
                f"the online values of {view.name!r} were built from another definition of "
                "the view: call reset() for it, then materialize again"
            )
        return state

    def reset(self, view_name: str) -> None:
        """Forget every online value of a view (e.g. after its definition changed)."""
        view = self._view(view_name)
        with self.store.writing(view.name):
            self.store.drop(view.name)
        self._cache.clear()

    def push(self, view_name: str, events: Any) -> int:
        """Add events (rows of the view's source: keys, timestamp and value columns) to the
        online values; their order is their arrival order. Events older than the view's
        lateness behind the newest event seen are refused, and then nothing is written.
        Returns the number of events added."""
        view = self._view(view_name)
        table = self._checked(view, as_arrow(events, f"events pushed to {view.name!r}"))
        with self.store.writing(view.name):  # the state is read under the lock
            state = self._state(view)
            if table.num_rows >= self.bulk_rows:  # in arrival order: the table's
                return self._apply_bulk(view, table, state, materialized=False, by_time=False)
            return self._apply(view, table, state, materialized=None)

    def materialize(self, view_name: str, source: Any, since: datetime | int | None = None) -> int:
        """Bring the online values up to date with the view's source table: only events
        newer than the last materialization (or than ``since``) are read, in time order
        (ties keep the source's order), so repeating it changes nothing. Returns the number
        of events added."""
        view = self._view(view_name)
        table = self._checked(view, as_arrow(source, f"source of {view.name!r}"))
        with self.store.writing(view.name):
            return self._materialize(view, table, since)

    def _materialize(self, view: FeatureView, table: pa.Table, since: datetime | int | None) -> int:
        state = self._state(view)
        ts = time_micros(table.column(view.timestamp), view.timestamp, "source")
        floor = state.materialized
        if since is not None:  # events at or after since
            floor = max(to_micros(since) - 1, -(2**62) if floor is None else floor)
        if floor is not None:
            table = table.filter(pc.greater(ts, floor))
            ts = time_micros(table.column(view.timestamp), view.timestamp, "source")
        if table.num_rows and table.num_rows >= self.bulk_rows:
            return self._apply_bulk(view, table, state, materialized=True)
        order = pc.sort_indices(
            pa.table({"t": ts, "i": pa.array(np.arange(len(ts), dtype=np.int64))}),
            [("t", "ascending"), ("i", "ascending")],
        )
        table = table.take(order)
        if table.num_rows == 0:
            return 0
        newest = int(pc.max(ts).as_py())
        return self._apply(view, table, state, materialized=newest)

    def applied_parts(self, view_name: str) -> set[str]:
        """The source files (by digest) whose events the online values hold."""
        return set(self._state(self._view(view_name)).parts)

    def apply_part(self, view_name: str, part: str, events: Any) -> int:
        """Add the events of one source file, named by its digest, exactly once: a file
        already applied (materialized, or written by a push) adds nothing. Its events go in
        time order (ties keep the file's order). Returns the number of events added."""
        view = self._view(view_name)
        table = self._checked(view, as_arrow(events, f"source file {part} of {view.name!r}"))
        with self.store.writing(view.name):
            return self._apply_part(view, part, table)

    def _apply_part(self, view: FeatureView, part: str, table: pa.Table) -> int:
        state = self._state(view)
        if part in state.parts:
            return 0
        ts = time_micros(table.column(view.timestamp), view.timestamp, "source")
        state.parts.append(part)
        if table.num_rows >= self.bulk_rows:
            return self._apply_bulk(view, table, state, materialized=True)
        order = pc.sort_indices(
            pa.table({"t": ts, "i": pa.array(range(len(ts)), pa.int64())}),
            [("t", "ascending"), ("i", "ascending")],
        )
        table = table.take(order)
        if table.num_rows == 0:
            self.store.write(view.name, {}, encode(state.__dict__))
            return 0
        newest = int(pc.max(ts).as_py())
        return self._apply(view, table, state, materialized=newest)

    def check_push(self, view_name: str, events: Any) -> None:
        """Raise what :meth:`push` would raise for ``events`` (a missing column, a wrong
        type, a null time, an event older than the lateness allows), writing nothing."""
        view = self._view(view_name)
        table = self._checked(view, as_arrow(events, f"events pushed to {view.name!r}"))
        ts = time_micros(table.column(view.timestamp), view.timestamp, "events")
        if ts.null_count:
            raise InvalidTable(
                f"the column {view.timestamp!r} of the events has nulls: every event needs a time"
            )
        horizon = self._state(view).horizon(view.lateness_us)
        oldest = pc.min(ts).as_py()
        if horizon is not None and oldest is not None and oldest < horizon:
            raise _late(view, None, horizon, oldest)

    def state(self, view_name: str) -> ViewState | None:
        """What the store keeps for a view (None when nothing was written for it yet)."""
        raw = decode(self.store.read_state(self._view(view_name).name))
        return None if raw is None else ViewState(**raw)

    def _checked(self, view: FeatureView, table: pa.Table) -> pa.Table:
        what = f"events of {view.name!r}"
        require_columns(table, view.source_columns(), what)
        for feature in view.features:
            if isinstance(feature, Field | Aggregate):
                check_value_column(table, feature.column, what)
        for column in [
            view.timestamp,
            *(f.available_at for f in view.features if isinstance(f, Aggregate) and f.available_at),
        ]:
            time_micros(table.column(column), column, what)
        return table

    def _apply(
        self, view: FeatureView, table: pa.Table, state: ViewState, materialized: int | None
    ) -> int:
        if table.num_rows == 0:
            return 0
        lateness = view.lateness_us
        ts = time_micros(table.column(view.timestamp), view.timestamp, "events").to_pylist()
        if None in ts:
            raise InvalidTable(
                f"the column {view.timestamp!r} of the events has nulls: every event needs a time"
            )
        horizon = state.horizon(lateness)
        if horizon is not None:
            late = [t for t in ts if t < horizon]
            if late:
                raise _late(view, len(late), horizon, min(late))
        consumers = self._consumers[view.name]
        columns = {c.column: table.column(c.column).to_pylist() for c in consumers}
        gates = {
            c.gate: time_micros(table.column(c.gate), c.gate, "events").to_pylist()
            for c in consumers
            if c.gate is not None
        }
        keys = list(zip(*(table.column(k).to_pylist() for k in view.keys), strict=True))
        by_entity: dict[str, list[int]] = {}
        for row, key in enumerate(keys):
            if None not in key:  # a null key names no entity
                by_entity.setdefault(entity_key(key), []).append(row)
        names = list(by_entity)
        records: dict[str, Record] = {
            name: record_format.decode_state(raw, consumers)
            for name, raw in zip(names, self.store.read(view.name, names)[1], strict=True)
        }
        watermark = max(ts) if state.watermark is None else max(state.watermark, max(ts))
        new_horizon = watermark - lateness
        for name, rows in by_entity.items():
            record = records[name]
            for consumer in consumers:
                current = record.get(consumer.name)
                values = columns[consumer.column]
                gate = gates.get(consumer.gate) if consumer.gate else None
                for row in rows:
                    current = consumer.add(
                        current, ts[row], state.seq + row, gate[row] if gate else None, values[row]
                    )
                assert current is not None  # rows is never empty
                consumer.settle(current, new_horizon)
                record[consumer.name] = current
        state.seq += table.num_rows
        state.watermark = watermark
        if materialized is not None:
            state.materialized = (
                materialized
                if state.materialized is None
                else max(materialized, state.materialized)
            )
        now = self._clock()
        encoded = {}
        for name, record in records.items():
            vector, until = self._compute(view, record, now)
            encoded[name] = record_format.encode(now, until, state.seq, vector, consumers, record)
        self.store.write(view.name, encoded, encode(state.__dict__))
        self._cache.clear()
        return int(table.num_rows)

    def _apply_bulk(
        self,
        view: FeatureView,
        table: pa.Table,
        state: ViewState,
        materialized: bool,
        by_time: bool = True,
    ) -> int:
        """What :meth:`_apply` does for the events of ``table`` taken in time order (ties
        in table order; ``by_time=False``: in table order), with array operations, a chunk
        of entities at a time, in one atomic store update."""
        ts_column = time_micros(table.column(view.timestamp), view.timestamp, "events")
        if ts_column.null_count:
            raise InvalidTable(
                f"the column {view.timestamp!r} of the events has nulls: every event needs a time"
            )
        ts = ts_column.to_numpy()
        del ts_column
        horizon = state.horizon(view.lateness_us)
        if horizon is not None and int(ts.min()) < horizon:
            raise _late(view, int((ts < horizon).sum()), horizon, int(ts.min()))
        consumers = self._consumers[view.name]
        gate_times: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        for c in consumers:
            if c.gate is not None and c.gate not in gate_times:
                times = time_micros(table.column(c.gate), c.gate, "events")
                nulls = times.is_null().to_numpy() if times.null_count else None
                gate_times[c.gate] = (pc.fill_null(times, 0).to_numpy(), nulls)
        batch = group_by_entity(
            table,
            view.keys,
            np.argsort(ts, kind="stable") if by_time else np.arange(len(ts)),
            state.seq,
            entity_key,
        )
        newest = int(ts.max())
        state.seq += table.num_rows
        state.watermark = newest if state.watermark is None else max(state.watermark, newest)
        if materialized:
            state.materialized = (
                newest if state.materialized is None else max(newest, state.materialized)
            )
        new_horizon = state.watermark - view.lateness_us
        now = self._clock()
        runs = batch.chunks(_CHUNK_ROWS, _CHUNK_ENTITIES)

        def change(number: int, raws: list[bytes | None]) -> dict[str, bytes]:
            first, last = runs[number]
            chunk = chunk_of(table, batch, first, last, consumers, ts, gate_times)
            settled = settle_chunk(consumers, new_horizon, chunk, raws)
            encoded = chunk_records(settled, last - first, now, state.seq)
            return dict(zip(batch.keys[first:last], encoded, strict=True))

        collecting = gc.isenabled()
        gc.disable()  # millions of small lists, none of them cyclic: no collector passes
        try:
            self.store.update(
                view.name,
                (batch.keys[first:last] for first, last in runs),
                change,
                encode(state.__dict__),
            )
        finally:
            if collecting:
                gc.enable()
        self._cache.clear()
        return int(table.num_rows)

    # -- reading -------------------------------------------------------------------------

    def _compiled(self, refs: Sequence[str], full_names: bool) -> _Compiled:
        key = (tuple(refs), full_names)
        found = self._plans.get(key)
        if found is None:
            request = plan(self.views.values(), refs, full_names=full_names)
            views = [
                (
                    request.views[name],
                    [(f"{name}:{f.name}", self._places[name][f.name]) for f in features],
                )
                for name, features in request.stored.items()
            ]
            outputs = [(r.column, r.ref) for r in request.requested]
            on_demand = any(isinstance(r.feature, OnDemand) for r in request.requested)
            found = self._plans[key] = _Compiled(request, views, outputs, on_demand)
        return found

    def get(
        self,
        entity_keys: Mapping[str, Sequence[Any]],
        refs: Sequence[str],
        *,
        at: datetime | int | None = None,
        request: Mapping[str, Sequence[Any]] | None = None,
        full_names: bool = False,
    ) -> dict[str, list[Any]]:
        """Feature values of the entities named by ``entity_keys`` (key column -> values,
        one per entity) as of ``at`` (default: now), column by column: the key columns,
        then each requested feature. ``request`` holds the request values on-demand
        features read, one per entity."""
        compiled = self._compiled(refs, full_names)
        t = to_micros(at)
        lengths = {len(v) for v in entity_keys.values()}
        if len(lengths) != 1:
            raise InvalidTable("give every key column the same number of values, one per entity")
        (count,) = lengths
        generation = self.store.generation()
        if generation is None or generation != self._generation:
            self._cache.clear()
            self._generation = generation
        out: dict[str, list[Any]] = {k: list(v) for k, v in entity_keys.items()}
        stored: dict[str, list[Any]] = {}
        for view, pairs in compiled.views:
            try:
                columns = [entity_keys[k] for k in view.keys]
            except KeyError:
                missing = [k for k in view.keys if k not in entity_keys]
                raise InvalidTable(
                    f"the lookup lacks the key column(s) {missing} of {view.name!r}"
                ) from None
            names = self._entity_names(columns)
            vectors = self._vectors(view, names, t, generation is not None)
            if len(vectors) == 1:
                (vector,) = vectors
                for ref, place in pairs:
                    stored[ref] = [vector[place]]
            elif vectors:  # one row of the wanted values per entity, then its columns
                if len(pairs) == 1:
                    ((ref, place),) = pairs
                    stored[ref] = [v[place] for v in vectors]
                else:
                    rows = map(itemgetter(*(place for _, place in pairs)), vectors)
                    for (ref, _), got in zip(pairs, zip(*rows, strict=True), strict=True):
                        stored[ref] = list(got)
            else:
                for ref, _ in pairs:
                    stored[ref] = []
        on_demand: dict[str, list[Any]] = {}
        if compiled.on_demand:
            values = request or {}
            missing_values = [n for n in compiled.plan.request_values if n not in values]
            if missing_values:
                raise InvalidTable(
                    f"the lookup lacks the request value(s) {missing_values} of its "
                    "on-demand features"
                )
            on_demand = apply_on_demand(
                compiled.plan, stored.__getitem__, lambda n: list(values[n]), count
            )
        for column, ref in compiled.outputs:
            found = stored.get(ref)
            out[column] = found if found is not None else on_demand[ref]
        return out

    def _entity_names(self, columns: list[Sequence[Any]]) -> list[str]:
        """The store keys of the entities whose key values are ``columns``; those made of
        integers and strings only are remembered (a JSON encoding each is most of the cost
        of naming 100 entities; a float key always goes through :func:`entity_key`)."""
        names = []
        known = self._names
        for values in zip(*columns, strict=True):
            if all(v.__class__ is int or v.__class__ is str for v in values):
                name = known.get(values)
                if name is None:
                    if len(known) > _CACHE_LIMIT:
                        known.clear()
                    name = known[values] = entity_key(values)
                names.append(name)
            else:
                names.append(entity_key(values))
        return names

    def _vectors(
        self, view: FeatureView, names: list[str], t: int, cacheable: bool
    ) -> list[Sequence[Any]]:
        result: list[Sequence[Any] | None] = [None] * len(names)
        misses: list[int] = []
        for i, name in enumerate(names):
            hit = self._cache.get((view.name, name)) if cacheable else None
            if hit is not None and hit[0] <= t < hit[1]:
                if hit[1] - t <= self._lead(name, hit[0], hit[1]) and not self._ready(
                    view.name, name, hit[1]
                ):
                    misses.append(i)  # read it now: its next values are computed ahead
                else:
                    result[i] = hit[2]
            else:
                misses.append(i)
        if misses:
            encoded, raws = self.store.read(view.name, [names[i] for i in misses])
            horizon = self._horizon(view, encoded)
            if horizon is not None and t < horizon:
                raise OutOfHorizon(
                    f"the online values of {view.name!r} start at {iso_utc(horizon)} (newest "
                    f"event minus the lateness {view.lateness}); {iso_utc(t)} is older: build "
                    "a training set for past times",
                    details={"view": view.name, "horizon_us": horizon, "at_us": t},
                )
            if cacheable and len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            for i, raw in zip(misses, raws, strict=True):
                vector: Sequence[Any]
                if raw is None:
                    vector, until = self._compute(view, {}, t)
                else:
                    vector, until = self._stored_or_computed(view, names[i], raw, t)
                result[i] = vector
                if cacheable:
                    self._cache[(view.name, names[i])] = (t, until, tuple(vector))
        return [r if r is not None else [] for r in result]

    def _horizon(self, view: FeatureView, encoded: bytes | None) -> int | None:
        """The view's horizon from its encoded state (decoded again only when it changed:
        it lists every source file applied, so it grows with each push)."""
        known = self._states.get(view.name)
        if known is not None and known[0] == encoded:
            return known[1]
        horizon = self._state(view, encoded).horizon(view.lateness_us)
        if encoded is not None:
            self._states[view.name] = (encoded, horizon)
        return horizon

    def _stored_or_computed(
        self, view: FeatureView, name: str, raw: bytes, t: int
    ) -> tuple[Sequence[Any], int]:
        """The values stored with the record when they hold at ``t``; else the ones this
        object last computed from the same stored front (it holds the view's arrival
        counter after the write, unique per write: nothing was written since) when they
        hold at ``t``; else computed now from the record.

        The stored front is remembered with its decoded values, so a record read again (from
        Redis: at every lookup) is compared, not decoded again. Near the end of the
        interval in which those values hold, the values of the next interval are computed
        from the same record (see :data:`_LEAD_US`) and kept beside them."""
        head = record_format.front_bytes(raw)
        key = (view.name, name)
        record: Record | None = None
        known = self._recomputed.get(key)
        if known is None or known[0] != head:
            begins, until, _, vector = record_format.decode_front(raw)
            if len(self._recomputed) > _CACHE_LIMIT:
                self._recomputed.clear()
                self._ahead.clear()
            known = self._recomputed[key] = (head, begins, until, tuple(vector))
        consumers = self._consumers[view.name]
        if not known[1] <= t < known[2]:
            ahead = self._ahead.get(key)
            if ahead is not None and ahead[0] == head and ahead[1] <= t < ahead[2]:
                known = self._recomputed[key] = ahead
            else:
                record = record_format.decode_state(raw, consumers)
                vector, until = self._compute(view, record, t)
                known = self._recomputed[key] = (head, t, until, tuple(vector))
        if known[2] - t <= self._lead(name, known[1], known[2]):
            ahead = self._ahead.get(key)
            if ahead is None or ahead[0] != head or ahead[1] != known[2]:
                if record is None:
                    record = record_format.decode_state(raw, consumers)
                vector, until = self._compute(view, record, known[2])
                self._ahead[key] = (head, known[2], until, tuple(vector))
        return known[3], known[2]

    @staticmethod
    def _lead(name: str, begins: int, until: int) -> int:
        """How long before ``until`` the values after it are computed for entity ``name``:
        a point of the lead (at most a quarter of the interval) chosen by the key."""
        if until >= _NEVER:
            return -1
        return min(_LEAD_US, (until - begins) // 4) * (1 + hash(name) % 1000) // 1000

    def _ready(self, view: str, name: str, until: int) -> bool:
        """Whether the values of entity ``name`` from ``until`` on are computed already."""
        ahead = self._ahead.get((view, name))
        return ahead is not None and ahead[1] == until

    def _compute(self, view: FeatureView, record: Record, t: int) -> tuple[list[Any], int]:
        vector: list[Any] = []
        until = 2**63 - 1
        for consumer in self._consumers[view.name]:
            value, changes = consumer.value(record.get(consumer.name), t)
            vector.append(value)
            until = min(until, changes)
        return vector, until


__all__ = ["OnlineFeatures", "ViewState", "to_micros"]
