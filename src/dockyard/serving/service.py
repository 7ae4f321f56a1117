"""The serving service: model servers report here (instances and heartbeats), record the
prediction log's segments, and anyone with read access reads predictions back and traces
one to the code and data behind its model.

A segment is a Parquet file a server uploaded as a blob; this service only records it after
checking the blob exists, and reads it back with pyarrow (no code runs from it). Its rows
are checked on the way out: a segment that does not hold the log's columns is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.core.operations import LISTING, Target, operation
from dockyard.core.principal import Principal
from dockyard.registry.lineage import build_lineage
from dockyard.registry.records import find_model, find_version
from dockyard.serving.logformat import COLUMNS, id_time, to_prediction
from dockyard.serving.schemas import (
    Instance,
    InstanceQuery,
    InstanceState,
    Prediction,
    PredictionPage,
    PredictionQuery,
    PredictionTrace,
    Segment,
    SegmentCreate,
    SegmentQuery,
)
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.tables import (
    PredictionSegmentRow,
    RegisteredModelRow,
    ServingInstanceRow,
    utcnow,
)

LIVE_SECONDS = 60
"""A server whose last heartbeat is older than this is no longer counted as live."""
_DEFAULT_SINCE = dt.timedelta(hours=1)
_MAX_SEGMENTS = 2000


def _instance(row: ServingInstanceRow, now: dt.datetime) -> Instance:
    state = InstanceState.model_validate_json(row.state)
    live = row.stopped_at is None and (now - row.heartbeat_at).total_seconds() < LIVE_SECONDS
    return Instance(
        id=row.id,
        address=row.address,
        started_by=row.started_by,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        stopped_at=row.stopped_at,
        live=live,
        state=state,
    )


def _visible(
    session: Session, instances: list[Instance], readable: frozenset[str]
) -> list[Instance]:
    """The instances as a caller who may read only the ``readable`` projects sees them: the
    models of other projects left out, and servers of none of theirs not at all."""
    names = set(
        session.scalars(
            select(RegisteredModelRow.name).where(RegisteredModelRow.project_id.in_(readable))
        )
    )
    shown = []
    for instance in instances:
        models = [m for m in instance.state.models if m.name in names]
        if models:
            state = instance.state.model_copy(update={"models": models})
            shown.append(instance.model_copy(update={"state": state}))
    return shown


def _segment(row: PredictionSegmentRow, model: str) -> Segment:
    return Segment(
        id=row.id,
        model=model,
        hour=row.hour,
        instance_id=row.instance_id,
        digest=row.digest,
        size=row.size,
        rows=row.rows,
        first_id=row.first_id,
        last_id=row.last_id,
        versions=json.loads(row.versions),
        created_at=row.created_at,
    )


def _hour(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


class ServingService:
    """Server instances, the prediction log's segments, predictions and traces."""

    service_name = "serving"

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    @operation(
        "PUT",
        "/serving/instances/{instance_id}",
        on=Target("model", "body.models.name"),
        audit=False,
    )
    def heartbeat(self, principal: Principal, instance_id: str, body: InstanceState) -> Instance:
        """Report a server's state (creates the instance at its first heartbeat)."""
        if len(instance_id) != 32 or any(c not in "0123456789abcdef" for c in instance_id):
            raise InvalidInput("instance_id must be 32 lowercase hex characters")
        state = body.model_dump_json()

        def upsert(session: Session) -> Instance:
            now = utcnow()
            row = session.get(ServingInstanceRow, instance_id)
            if row is None:
                row = ServingInstanceRow(
                    id=instance_id,
                    address=body.address,
                    started_by=principal.name,
                    started_at=now,
                    heartbeat_at=now,
                    state=state,
                )
                session.add(row)
            elif row.stopped_at is not None:
                raise InvalidInput(f"server instance {instance_id} has stopped; start a new one")
            row.heartbeat_at = now
            row.address = body.address
            row.state = state
            if body.stopped:
                row.stopped_at = now
            session.flush()
            return _instance(row, now)

        return self.db.write(upsert)

    @operation("GET", "/serving/instances", on=LISTING)
    def instances(self, principal: Principal, query: InstanceQuery) -> list[Instance]:
        """Model servers, most recent heartbeat first."""

        readable = principal.readable_projects()

        def fetch(session: Session) -> list[Instance]:
            now = utcnow()
            stmt = select(ServingInstanceRow)
            if query.live:
                stmt = stmt.where(
                    ServingInstanceRow.stopped_at.is_(None),
                    ServingInstanceRow.heartbeat_at > now - dt.timedelta(seconds=LIVE_SECONDS),
                )
            stmt = stmt.order_by(ServingInstanceRow.heartbeat_at.desc()).limit(query.limit)
            found = [_instance(row, now) for row in session.scalars(stmt)]
            if readable is None:
                return found
            return _visible(session, found, readable)

        return self.db.query(fetch)

    @operation(
        "POST", "/serving/segments", status=201, on=Target("model", "body.model"), audit=False
    )
    def record_segment(self, principal: Principal, body: SegmentCreate) -> Segment:
        """Record a segment of the prediction log, a Parquet blob already uploaded."""
        if body.first_id > body.last_id:
            raise InvalidInput("first_id must not sort after last_id")
        hour = _hour(body.hour)
        if _hour(id_time(body.first_id)) != hour or _hour(id_time(body.last_id)) != hour:
            raise InvalidInput("a segment holds predictions of one hour: its ids say otherwise")
        size = self._check_file(body)

        def insert(session: Session) -> Segment:
            model = find_model(session, body.model)
            row = PredictionSegmentRow(
                id=new_id(),
                model_id=model.id,
                hour=hour,
                instance_id=body.instance_id,
                digest=body.digest,
                size=size,
                rows=body.rows,
                first_id=body.first_id,
                last_id=body.last_id,
                versions=json.dumps(sorted(set(body.versions))),
                created_at=utcnow(),
            )
            session.add(row)
            blobrefs.add_refs(session, "prediction_segment", row.id, [body.digest])
            session.flush()
            return _segment(row, model.name)

        return self.db.write(insert)

    def _check_file(self, body: SegmentCreate) -> int:
        """The segment file's size, after checking it is a Parquet file of the log's
        columns holding the rows the request says."""
        if self.blobs.claim([body.digest]):
            raise InvalidInput(f"no blob sha256:{body.digest} is stored: upload the file first")
        try:
            with self.blobs.open_seekable(body.digest) as stream:
                meta = pq.ParquetFile(stream).metadata
                size = stream.seek(0, 2)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InvalidInput(f"blob sha256:{body.digest} is not a Parquet file: {exc}") from None
        names = set(meta.schema.names)
        missing = [name for name in COLUMNS.names if name not in names]
        if missing:
            raise InvalidInput(f"the segment file lacks the log's columns {missing}")
        if meta.num_rows != body.rows:
            raise InvalidInput(f"the segment file holds {meta.num_rows} rows, not {body.rows}")
        return int(size)

    def _segments(
        self, session: Session, model_id: str, since: dt.datetime, until: dt.datetime
    ) -> list[PredictionSegmentRow]:
        stmt = (
            select(PredictionSegmentRow)
            .where(
                PredictionSegmentRow.model_id == model_id,
                PredictionSegmentRow.hour >= _hour(since),
                PredictionSegmentRow.hour <= _hour(until),
            )
            .order_by(PredictionSegmentRow.hour.desc(), PredictionSegmentRow.last_id.desc())
            .limit(_MAX_SEGMENTS)
        )
        return list(session.scalars(stmt))

    def _read(self, digest: str) -> pa.Table | None:
        """A segment's rows, or None when the blob is not a segment of the log."""
        try:
            with self.blobs.open_seekable(digest) as stream:
                table = pq.read_table(stream)
        except NotFound:
            return None
        except (pa.ArrowException, OSError, ValueError):
            return None
        if any(name not in table.column_names for name in COLUMNS.names):
            return None
        try:
            return table.select(COLUMNS.names).cast(COLUMNS)
        except (pa.ArrowException, ValueError):
            return None

    @operation("GET", "/serving/segments", on=Target("model", "query.model"))
    def segments(self, principal: Principal, query: SegmentQuery) -> list[Segment]:
        """The prediction log's segments of a model between ``since`` and ``until`` (by the
        hour they cover), newest first: Parquet blobs to read with DuckDB or pyarrow."""
        until = query.until or utcnow()
        since = query.since or until - _DEFAULT_SINCE
        if since > until:
            raise InvalidInput("since must not be after until")

        def fetch(session: Session) -> list[Segment]:
            model = find_model(session, query.model)
            rows = self._segments(session, model.id, since, until)[: query.limit]
            return [_segment(row, model.name) for row in rows]

        return self.db.query(fetch)

    @operation("GET", "/serving/predictions", on=Target("model", "query.model"))
    def predictions(self, principal: Principal, query: PredictionQuery) -> PredictionPage:
        """A model's logged predictions between ``since`` and ``until``, newest first."""
        until = query.until or utcnow()
        since = query.since or until - _DEFAULT_SINCE
        if since > until:
            raise InvalidInput("since must not be after until")

        def fetch(session: Session) -> list[PredictionSegmentRow]:
            return self._segments(session, find_model(session, query.model).id, since, until)

        found: list[Prediction] = []
        read = 0
        for row in self.db.query(fetch):
            if query.version is not None and query.version not in json.loads(row.versions):
                continue
            table = self._read(row.digest)
            read += 1
            if table is None:
                continue
            mask = pc.and_(
                pc.greater_equal(table["at"], pa.scalar(since, pa.timestamp("us", "UTC"))),
                pc.less_equal(table["at"], pa.scalar(until, pa.timestamp("us", "UTC"))),
            )
            if query.version is not None:
                mask = pc.and_(mask, pc.equal(table["version"], query.version))
            if query.shadow is not None:
                mask = pc.and_(mask, pc.equal(table["shadow"], query.shadow))
            found.extend(_rows(table.filter(mask)))
            if len(found) >= query.limit * 4:
                break
        found.sort(key=lambda p: p.prediction_id, reverse=True)
        return PredictionPage(predictions=found[: query.limit], segments_read=read)

    def find(self, prediction_id: str) -> Prediction:
        """One logged prediction by id."""
        if len(prediction_id) != 32 or any(c not in "0123456789abcdef" for c in prediction_id):
            raise InvalidInput("a prediction id is 32 lowercase hex characters")
        hour = _hour(id_time(prediction_id))

        def fetch(session: Session) -> list[PredictionSegmentRow]:
            stmt = select(PredictionSegmentRow).where(
                PredictionSegmentRow.hour == hour,
                PredictionSegmentRow.first_id <= prediction_id,
                PredictionSegmentRow.last_id >= prediction_id,
            )
            return list(session.scalars(stmt))

        for row in self.db.query(fetch):
            table = self._read(row.digest)
            if table is None:
                continue
            match = table.filter(pc.equal(table["prediction_id"], prediction_id))
            for prediction in _rows(match):
                return prediction
        raise NotFound(
            f"no logged prediction has id {prediction_id}; the log is written every few "
            "seconds, so a prediction just made may not be there yet"
        )

    @operation("GET", "/serving/predictions/{prediction_id}", on=LISTING)
    def trace(self, principal: Principal, prediction_id: str) -> PredictionTrace:
        """One prediction and the lineage of the model version that made it: its run, code
        and diff, training data, feature definitions and environment."""
        prediction = self.find(prediction_id)

        def fetch(session: Session) -> PredictionTrace:
            model = find_model(session, prediction.model)
            held = principal.role_in(model.project_id)
            if held is None:  # as if it did not exist: another project's log stays unseen
                raise NotFound(f"no logged prediction has id {prediction_id} that you may read")
            row = find_version(session, model, prediction.version)
            lineage = build_lineage(session, model, row, self.blobs)
            return PredictionTrace(prediction=prediction, lineage=lineage)

        return self.db.query(fetch)


def _rows(table: pa.Table) -> Iterator[Prediction]:
    for record in table.to_pylist():
        prediction = to_prediction(record)
        if prediction is not None:
            yield prediction
