"""The feature service: versioned definitions, materialization into the online store, online
lookups, pushes of new events, and the record of which training sets used what.

Training sets themselves are computed where the caller runs (``dy.features.training_set``
reads the source versions it needs and joins them in DuckDB), as dataset reads are; the
service records their recipe. Materialization and pushes run here, next to the online store
the service owns (a SQLite file in the home, or Redis in team mode).

Online values are kept per project (the store's view names are scoped by the project id).
A source file is applied at most once per view (the online state lists the files it holds),
so a push, which appends its events to the source dataset as a new file, is never counted
again by a later materialization.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.core.operations import operation
from dockyard.core.principal import Principal, Role
from dockyard.data.schemas import VersionCommit
from dockyard.data.schemas import VersionFile as DataFile
from dockyard.data.service import DatasetService
from dockyard.data.versions import find_dataset, find_version
from dockyard.features.definitions import FeatureView
from dockyard.features.errors import InvalidTable
from dockyard.features.online_values import OnlineFeatures, ViewState
from dockyard.features.records import (
    ON_DEMAND,
    canonical_json,
    entity_changes,
    fingerprint,
    parse_entity,
    parse_view,
    stored_view,
    view_changes,
)
from dockyard.features.schemas import (
    Applied,
    ApplyReport,
    DefinitionVersion,
    EntityInfo,
    FeaturesApply,
    FeatureViewInfo,
    Materialization,
    MaterializeReport,
    MaterializeRequest,
    OnlineQuery,
    OnlineState,
    OnlineValues,
    PushReport,
    PushRequest,
    TrainingSet,
    TrainingSetQuery,
    TrainingSetRecord,
)
from dockyard.features.stores.base import OnlineStore
from dockyard.features.stores.scoped import ScopedStore, open_online_store
from dockyard.projects.service import find_project
from dockyard.store.db import Database
from dockyard.store.tables import (
    DatasetVersionRow,
    FeatureMaterializationRow,
    FeatureObjectRow,
    FeatureTrainingSetRow,
    FeatureVersionRow,
    ProjectRow,
    utcnow,
)

T = TypeVar("T")
ENTITY, VIEW = "entity", "view"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_VIEW_VERSIONS = (
    select(ProjectRow.id, FeatureObjectRow.name, FeatureObjectRow.latest)
    .outerjoin(
        FeatureObjectRow,
        (FeatureObjectRow.project_id == ProjectRow.id) & (FeatureObjectRow.kind == VIEW),
    )
    .where(ProjectRow.name == bindparam("project"))
)
"""(project id, view name, current version) of each view of a project named by name; one
row with a null name for a project without views, no row for an unknown name."""


def _micros(at: dt.datetime) -> int:
    """A time as integer microseconds since the epoch (naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return (at - _EPOCH) // dt.timedelta(microseconds=1)


def _time(micros: int | None) -> dt.datetime | None:
    if micros is None:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)


def _find_object(session: Session, project: ProjectRow, kind: str, name: str) -> FeatureObjectRow:
    row = session.scalar(
        select(FeatureObjectRow).where(
            FeatureObjectRow.project_id == project.id,
            FeatureObjectRow.kind == kind,
            FeatureObjectRow.name == name,
        )
    )
    if row is None:
        what = "feature view" if kind == VIEW else "entity"
        raise NotFound(
            f"project {project.name!r} has no {what} {name!r}; `dockyard features list -p "
            f"{project.name}` shows what it has (define it with dy.features.apply)"
        )
    return row


def _version_row(session: Session, obj: FeatureObjectRow, number: int) -> FeatureVersionRow:
    row = session.get(FeatureVersionRow, (obj.id, number))
    if row is None:
        raise NotFound(f"{obj.kind} {obj.name!r} has no version {number} (latest: {obj.latest})")
    return row


Query = TypeVar("Query", bound="Select[*tuple[Any, ...]]")


def _latest(stmt: Query, project: ProjectRow, kind: str) -> Query:
    """``stmt`` over the project's entities or views joined to their latest definitions, by
    name."""
    return (
        stmt.join(
            FeatureVersionRow,
            (FeatureVersionRow.object_id == FeatureObjectRow.id)
            & (FeatureVersionRow.number == FeatureObjectRow.latest),
        )
        .where(FeatureObjectRow.project_id == project.id, FeatureObjectRow.kind == kind)
        .order_by(FeatureObjectRow.name)
    )


def _to_version(obj: FeatureObjectRow, row: FeatureVersionRow) -> DefinitionVersion:
    return DefinitionVersion(
        kind=obj.kind,
        name=obj.name,
        version=row.number,
        definition=json.loads(row.definition),
        fingerprint=row.fingerprint,
        changes=json.loads(row.changes),
        created_by=row.created_by,
        created_at=row.created_at,
    )


RECHECK_SECONDS = 1.0
"""How long an online lookup trusts its last check of a project's view definitions."""


def _unknown(online: OnlineFeatures, refs: Sequence[str]) -> list[tuple[str, str]]:
    """``(view, feature)`` of the references ``online`` cannot answer: an unknown view, or
    a feature its view does not store (an on-demand one, or none at all)."""
    missing: list[tuple[str, str]] = []
    names: dict[str, set[str]] = {}
    for ref in refs:
        view_name, _, feature = ref.partition(":")
        view = online.views.get(view_name)
        if view is None:
            missing.append((view_name, feature))
            continue
        if feature == "*":
            continue
        known = names.get(view_name)
        if known is None:
            known = names[view_name] = view_names(view)
        if feature not in known:
            missing.append((view_name, feature))
    return missing


class FeatureService:
    """Entities and feature views, their online values and their training sets."""

    service_name = "features"

    def __init__(self, db: Database, datasets: DatasetService, online_store: str) -> None:
        self.db = db
        self.datasets = datasets
        self.online_store_url = online_store
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._online: dict[str, tuple[tuple[tuple[str, int], ...], OnlineFeatures]] = {}
        # project name as asked -> (when its definitions were last checked, its values)
        self._checked: dict[str, tuple[float, OnlineFeatures]] = {}

    @cached_property
    def store(self) -> OnlineStore:
        """The online store, opened on first use."""
        return open_online_store(self.online_store_url)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    # -- definitions ----------------------------------------------------------------------

    @operation("POST", "/projects/{project}/features/apply")
    def apply(self, principal: Principal, project: str, body: FeaturesApply) -> ApplyReport:
        """Store entities and feature views; a changed definition becomes a new version,
        an unchanged one changes nothing. All of them or none are stored."""
        entities = [parse_entity(raw)[1] for raw in body.entities]
        views = [parse_view(raw)[1] for raw in body.views]
        for kind, items in ((ENTITY, entities), (VIEW, views)):
            names = [d["name"] for d in items]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise InvalidInput(f"the {kind} definitions repeat the names {repeated}")
        if not entities and not views:
            raise InvalidInput("nothing to apply: give entities and/or feature views")

        def store(session: Session) -> ApplyReport:
            project_row = find_project(session, project)
            items = [self._store(session, project_row, ENTITY, d, principal) for d in entities]
            items += [self._store(session, project_row, VIEW, d, principal) for d in views]
            return ApplyReport(items=items)

        try:
            return self.db.write(store)
        except IntegrityError:
            raise Conflict(
                "another apply stored the same definitions at the same moment; apply again"
            ) from None
        finally:
            self._checked.clear()  # lookups here see the new definitions at once

    def _store(
        self,
        session: Session,
        project: ProjectRow,
        kind: str,
        definition: dict[str, Any],
        principal: Principal,
    ) -> Applied:
        name = definition["name"]
        now = utcnow()
        obj = session.scalar(
            select(FeatureObjectRow).where(
                FeatureObjectRow.project_id == project.id,
                FeatureObjectRow.kind == kind,
                FeatureObjectRow.name == name,
            )
        )
        digest = fingerprint(definition)
        if obj is None:
            obj = FeatureObjectRow(
                id=new_id(),
                project_id=project.id,
                kind=kind,
                name=name,
                latest=1,
                created_at=now,
                updated_at=now,
            )
            session.add(obj)
            session.flush()
            changes: list[str] = []
            status = "created"
        else:
            latest = _version_row(session, obj, obj.latest)
            if latest.fingerprint == digest:
                return Applied(kind=kind, name=name, version=obj.latest, status="unchanged")
            old = json.loads(latest.definition)
            changes = (
                view_changes(old, definition) if kind == VIEW else entity_changes(old, definition)
            )
            obj.latest += 1
            obj.updated_at = now
            status = "changed"
        session.add(
            FeatureVersionRow(
                object_id=obj.id,
                number=obj.latest,
                definition=canonical_json(definition),
                fingerprint=digest,
                changes=json.dumps(changes),
                created_by=principal.name,
                created_at=now,
            )
        )
        session.flush()
        return Applied(kind=kind, name=name, version=obj.latest, status=status, changes=changes)

    @operation("GET", "/projects/{project}/features/views")
    def list_views(self, principal: Principal, project: str) -> list[FeatureViewInfo]:
        """The project's feature views with their latest definition, by name."""
        infos = self.db.query(lambda s: self._infos(s, project, None))
        online = self._online_for(project)
        return [self._with_online(online, info) for info in infos]

    @operation("GET", "/projects/{project}/features/views/{view}")
    def get_view(self, principal: Principal, project: str, view: str) -> FeatureViewInfo:
        """A feature view: its latest definition, materialization and online state."""
        (info,) = self.db.query(lambda s: self._infos(s, project, view))
        return self._with_online(self._online_for(project), info)

    @operation("GET", "/projects/{project}/features/views/{view}/versions")
    def view_versions(
        self, principal: Principal, project: str, view: str
    ) -> list[DefinitionVersion]:
        """Every definition of a view, newest first, with what changed each time."""
        return self.db.query(lambda s: self._versions(s, project, VIEW, view))

    @operation("GET", "/projects/{project}/features/entities")
    def list_entities(self, principal: Principal, project: str) -> list[EntityInfo]:
        """The project's entities, by name."""

        def fetch(session: Session) -> list[EntityInfo]:
            project_row = find_project(session, project)
            rows = session.execute(
                _latest(select(FeatureObjectRow, FeatureVersionRow), project_row, ENTITY)
            )
            return [
                EntityInfo(
                    name=obj.name,
                    project=project_row.name,
                    version=obj.latest,
                    keys=json.loads(version.definition)["keys"],
                    updated_at=obj.updated_at,
                )
                for obj, version in rows
            ]

        return self.db.query(fetch)

    def _versions(
        self, session: Session, project: str, kind: str, name: str
    ) -> list[DefinitionVersion]:
        obj = _find_object(session, find_project(session, project), kind, name)
        rows = session.scalars(
            select(FeatureVersionRow)
            .where(FeatureVersionRow.object_id == obj.id)
            .order_by(FeatureVersionRow.number.desc())
        )
        return [_to_version(obj, row) for row in rows]

    def _infos(self, session: Session, project: str, name: str | None) -> list[FeatureViewInfo]:
        project_row = find_project(session, project)
        if name is not None:
            _find_object(session, project_row, VIEW, name)  # NotFound names what exists
        stmt = _latest(
            select(FeatureObjectRow, FeatureVersionRow, FeatureMaterializationRow),
            project_row,
            VIEW,
        ).outerjoin(
            FeatureMaterializationRow,
            FeatureMaterializationRow.object_id == FeatureObjectRow.id,
        )
        if name is not None:
            stmt = stmt.where(FeatureObjectRow.name == name)
        infos = []
        for obj, version, done in session.execute(stmt):
            definition = json.loads(version.definition)
            infos.append(
                FeatureViewInfo(
                    name=obj.name,
                    project=project_row.name,
                    version=obj.latest,
                    versions=obj.latest,
                    definition=definition,
                    fingerprint=version.fingerprint,
                    entities=[e["name"] for e in definition["entities"]],
                    keys=[k for e in definition["entities"] for k in e["keys"]],
                    features=[f["name"] for f in definition["features"]],
                    source=definition["source"],
                    created_at=obj.created_at,
                    updated_at=obj.updated_at,
                    materialization=None
                    if done is None
                    else Materialization(
                        view_version=done.view_version,
                        source_version=done.source_version,
                        events=done.events,
                        finished_by=done.finished_by,
                        finished_at=done.finished_at,
                    ),
                )
            )
        return infos

    def _with_online(self, online: OnlineFeatures, info: FeatureViewInfo) -> FeatureViewInfo:
        if info.name not in online.views:
            return info
        state = online.state(info.name)
        if state is None:
            return info
        view = online.views[info.name]
        return info.model_copy(update={"online": self._online_state(view, state)})

    @staticmethod
    def _online_state(view: FeatureView, state: ViewState) -> OnlineState:
        horizon = state.horizon(view.lateness_us)
        return OnlineState(
            events=state.seq,
            newest_event_at=_time(state.watermark),
            accepts_from=_time(horizon),
            parts=len(state.parts),
        )

    # -- online values --------------------------------------------------------------------

    def _project_id(self, project: str) -> tuple[str, str]:
        row = self.db.query(lambda s: find_project(s, project))
        return row.id, row.name

    def _online_for(self, project: str) -> OnlineFeatures:
        """The online values of the project's views at their latest definitions (rebuilt
        when a definition changed since the last call).

        Each call asks the metadata which version of each view is current (one small
        query, no ORM session); the definitions are read again only when that changed (a
        version's definition never changes)."""
        rows = self.db.rows(_VIEW_VERSIONS, {"project": project})
        if rows:  # the project exists (found by name)
            project_id = rows[0][0]
            versions = tuple(sorted((row[1], row[2]) for row in rows if row[1] is not None))
            cached = self._online.get(project_id)
            if cached is not None and cached[0] == versions:
                return cached[1]
        return self._load_online(project)

    def _online_recent(self, project: str, *, recheck: bool = False) -> tuple[OnlineFeatures, bool]:
        """:meth:`_online_for`, asking the metadata at most every :data:`RECHECK_SECONDS`
        per project (that query was most of a lookup's time, and is a round trip on
        PostgreSQL), and whether it asked now. A definition applied through this service is
        seen at once; one applied by another process within that time, or at once by a
        lookup naming a view or feature the kept definitions lack (it asks again)."""
        now = time.monotonic()
        known = self._checked.get(project)
        if not recheck and known is not None and now - known[0] < RECHECK_SECONDS:
            return known[1], False
        online = self._online_for(project)
        self._checked[project] = (now, online)
        return online, True

    def _load_online(self, project: str) -> OnlineFeatures:
        """:meth:`_online_for` reading the definitions (a project named by id, too)."""

        def fetch(session: Session) -> tuple[str, list[tuple[str, int, str]]]:
            project_row = find_project(session, project)
            rows = session.execute(
                _latest(
                    select(
                        FeatureObjectRow.name, FeatureObjectRow.latest, FeatureVersionRow.definition
                    ),
                    project_row,
                    VIEW,
                )
            )
            return project_row.id, [(n, v, d) for n, v, d in rows]

        project_id, rows = self.db.query(fetch)
        versions = tuple(sorted((name, number) for name, number, _ in rows))
        cached = self._online.get(project_id)
        if cached is not None and cached[0] == versions:
            return cached[1]
        views = [stored_view(json.loads(definition)) for _, _, definition in rows]
        online = OnlineFeatures(ScopedStore(self.store, project_id), views)
        self._online[project_id] = (versions, online)
        return online

    def _lock(self, project_id: str, view: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((project_id, view), threading.Lock())

    def _writing(self, project: str, view: str, work: Callable[[OnlineFeatures], T]) -> T:
        """Run ``work`` holding the view's write lock (one writer per view in this process)."""
        project_id, _ = self._project_id(project)
        with self._lock(project_id, view):
            online = self._online_for(project)
            if view not in online.views:
                self.db.query(lambda s: _find_object(s, find_project(s, project), VIEW, view))
            return work(online)

    @operation("POST", "/projects/{project}/features/online", role=Role.VIEWER, audit=False)
    def online(self, principal: Principal, project: str, body: OnlineQuery) -> OnlineValues:
        """Feature values of entities as of ``at`` (default now), from the online store.
        On-demand features run in the caller's process: ask for their inputs here."""
        online, checked = self._online_recent(project)
        unknown = _unknown(online, body.features)
        if unknown and not checked:  # perhaps defined since the last check
            online, _ = self._online_recent(project, recheck=True)
            unknown = _unknown(online, body.features)
        for view_name, feature in unknown:
            if view_name in online.views:
                self._refuse_on_demand(project, view_name, feature)
        at = body.at or dt.datetime.now(dt.UTC)
        refs = [self._expand(online, r) for r in body.features]
        columns = online.get(
            body.keys,
            [r for group in refs for r in group],
            at=_micros(at),
            full_names=body.full_names,
        )
        # built from validated keys and stored JSON scalars: no need to validate each value
        return OnlineValues.model_construct(columns=columns, at=at)

    @staticmethod
    def _expand(online: OnlineFeatures, ref: str) -> list[str]:
        view_name, _, feature = ref.partition(":")
        view = online.views.get(view_name)
        if view is None or feature != "*":
            return [ref]
        return [f"{view_name}:{f.name}" for f in view.features]

    def _refuse_on_demand(self, project: str, view: str, feature: str) -> None:
        versions = self.db.query(lambda s: self._versions(s, project, VIEW, view))
        for spec in versions[0].definition["features"]:
            if spec["name"] == feature and spec["kind"] == ON_DEMAND:
                raise InvalidInput(
                    f"{view}:{feature} is an on-demand feature: it runs in its owner's process "
                    f"({spec.get('function') or 'its function'}), never in the server. Look up "
                    f"its inputs {spec['inputs']} and compute it there (dy.features.online "
                    "does this for the OnDemand objects it is given)"
                )

    @operation("POST", "/projects/{project}/features/materialize")
    def materialize(
        self, principal: Principal, project: str, body: MaterializeRequest
    ) -> MaterializeReport:
        """Bring a view's online values up to date with the latest version of its source
        dataset: only the files not applied yet are read (a repeat adds nothing; an
        interrupted one resumes). ``reset`` rebuilds the view's online values."""

        def work(online: OnlineFeatures) -> MaterializeReport:
            view = online.views[body.view]
            if body.reset:
                online.reset(view.name)
            version = self._source_version(principal, project, view.source)
            applied = online.applied_parts(view.name)
            todo = [f for f in version.files if f.digest not in applied]
            paths = self.datasets.local_files([f.digest for f in todo])
            events = 0
            columns = view.source_columns()
            import pyarrow.parquet as pq

            for file, path in zip(todo, paths, strict=True):
                table = pq.read_table(path, columns=columns)
                events += online.apply_part(view.name, file.digest, table)
            self._record_materialization(principal, project, view.name, version.number, events)
            return MaterializeReport(
                view=view.name,
                view_version=self._latest(project, view.name),
                source=view.source,
                source_version=version.number,
                events=events,
                parts=len(todo),
            )

        return self._writing(project, body.view, work)

    def _source_version(self, principal: Principal, project: str, source: str) -> Any:
        try:
            return self.datasets.version(principal, project, source, "latest")
        except NotFound:
            raise NotFound(
                f"the source dataset {source!r} of project {project!r} has no version yet: "
                f"ingest its events first (dockyard data add {source} FILE -p {project})"
            ) from None

    def _latest(self, project: str, view: str) -> int:
        return int(
            self.db.query(lambda s: _find_object(s, find_project(s, project), VIEW, view).latest)
        )

    def _record_materialization(
        self, principal: Principal, project: str, view: str, source_version: int, events: int
    ) -> None:
        def write(session: Session) -> None:
            obj = _find_object(session, find_project(session, project), VIEW, view)
            row = session.get(FeatureMaterializationRow, obj.id)
            if row is None:
                row = FeatureMaterializationRow(object_id=obj.id, events=0)
                session.add(row)
            row.view_version = obj.latest
            row.source_version = source_version
            row.events = events
            row.finished_by = principal.name
            row.finished_at = utcnow()

        self.db.write(write)

    @operation("POST", "/projects/{project}/features/push", audit=False)
    def push(self, principal: Principal, project: str, body: PushRequest) -> PushReport:
        """Add new events of a view's source: they are checked, appended to the source
        dataset (a new version: training sees the same history), then applied to the online
        values at once. Events older than the view's lateness are refused, nothing written."""

        def work(online: OnlineFeatures) -> PushReport:
            view = online.views[body.view]
            source = self._source_version(principal, project, view.source)
            table = self._events_table(view, source, body.events)
            online.check_push(view.name, table)
            version, parts = self._append(principal, project, source, table)
            if parts:
                # One request makes one file (requests are at most 32 MiB); should the writer
                # ever split it, the events go online once, under the first file.
                online.apply_part(view.name, parts[0], table)
                for part in parts[1:]:
                    online.apply_part(view.name, part, table.slice(0, 0))
            return PushReport(
                view=view.name,
                events=table.num_rows if parts else 0,
                source=view.source,
                source_version=version.number,
            )

        return self._writing(project, body.view, work)

    def _events_table(
        self, view: FeatureView, source: Any, events: dict[str, list[Any]]
    ) -> pa.Table:
        """The pushed events as a table of the source's exact schema."""
        import pyarrow.parquet as pq

        path = self.datasets.local_files([source.files[0].digest])[0]
        schema = pq.read_schema(path)
        given, wanted = set(events), set(schema.names)
        if given != wanted:
            missing, extra = sorted(wanted - given), sorted(given - wanted)
            raise InvalidTable(
                f"pushed events must have exactly the columns of the source {view.source!r}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {missing}" if missing else "",
                        f"unknown {extra}" if extra else "",
                    )
                    if part
                )
            )
        lengths = {len(values) for values in events.values()}
        if len(lengths) != 1:
            raise InvalidTable("give every column of the pushed events the same number of values")
        if lengths == {0}:
            raise InvalidTable("no events to push")
        arrays = []
        for field in schema:
            try:
                arrays.append(_column(events[field.name], field.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, OverflowError) as exc:
                raise InvalidTable(
                    f"column {field.name!r} of the pushed events does not fit the source's "
                    f"type {field.type}: {str(exc).splitlines()[0][:200]}"
                ) from None
        return pa.Table.from_arrays(arrays, schema=schema)

    def _append(
        self, principal: Principal, project: str, source: Any, table: pa.Table
    ) -> tuple[Any, list[str]]:
        """Append ``table`` to the source version as a new file; returns the new version
        and the digests of the files added. The same events sent again (a retried push)
        make the same file, which the source already holds: nothing is added then."""
        from dockyard.data.ingest import to_parquet

        held = {f.digest for f in source.files}
        with tempfile.TemporaryDirectory(prefix="dockyard-push-") as workdir:
            ingested = to_parquet(table, Path(workdir))
            files = []
            for f in ingested.files:
                if f.digest in held:
                    continue
                with f.path.open("rb") as stream:
                    self.datasets.blobs.put(stream, digest=f.digest)
                files.append(DataFile(digest=f.digest, size=f.size, rows=f.rows))
        if not files:
            return source, []
        body = VersionCommit(
            files=files,
            mode="append",
            parent=source.number,
            message=f"{table.num_rows:,} event{'' if table.num_rows == 1 else 's'} pushed",
            source="push",
        )
        version = self.datasets.commit(principal, project, source.dataset, body)
        return version, [f.digest for f in files]

    # -- training sets --------------------------------------------------------------------

    @operation("POST", "/projects/{project}/features/training-sets", status=201)
    def record_training_set(
        self, principal: Principal, project: str, body: TrainingSetRecord
    ) -> TrainingSet:
        """Record that a dataset version is a training set, and the label, definition and
        source versions it was built from (``dy.features.training_set`` does this)."""

        def write(session: Session) -> TrainingSet:
            project_row = find_project(session, project)
            dataset = find_dataset(session, project, body.dataset)
            version = find_version(session, dataset, str(body.version))
            for view, number in body.views.items():
                _version_row(session, _find_object(session, project_row, VIEW, view), number)
            for source, number in body.sources.items():
                find_version(session, find_dataset(session, project, source), str(number))
            recipe = body.model_dump(exclude={"dataset", "version"})
            row = session.get(FeatureTrainingSetRow, version.id)
            if row is None:
                row = FeatureTrainingSetRow(version_id=version.id, project_id=project_row.id)
                session.add(row)
            row.recipe = json.dumps(recipe, sort_keys=True)
            row.created_by = principal.name
            row.created_at = utcnow()
            session.flush()
            return self._to_training_set(body.dataset, version.number, row)

        return self.db.write(write)

    @operation("GET", "/projects/{project}/features/training-sets")
    def training_sets(
        self, principal: Principal, project: str, query: TrainingSetQuery
    ) -> list[TrainingSet]:
        """The project's training sets, newest first (those that used ``view`` only)."""
        from dockyard.store.tables import DatasetRow

        def fetch(session: Session) -> list[TrainingSet]:
            project_row = find_project(session, project)
            rows = session.execute(
                select(FeatureTrainingSetRow, DatasetVersionRow.number, DatasetRow.name)
                .join(DatasetVersionRow, DatasetVersionRow.id == FeatureTrainingSetRow.version_id)
                .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
                .where(FeatureTrainingSetRow.project_id == project_row.id)
                .order_by(FeatureTrainingSetRow.created_at.desc())
            )
            found = [self._to_training_set(name, number, row) for row, number, name in rows]
            if query.view is not None:
                found = [t for t in found if query.view in t.views]
            return found

        return self.db.query(fetch)

    @staticmethod
    def _to_training_set(dataset: str, number: int, row: FeatureTrainingSetRow) -> TrainingSet:
        recipe = json.loads(row.recipe)
        return TrainingSet(
            dataset=dataset,
            version=number,
            labels=recipe["labels"],
            features=recipe["features"],
            views=recipe["views"],
            sources=recipe["sources"],
            created_by=row.created_by,
            created_at=row.created_at,
        )


def view_names(view: FeatureView) -> set[str]:
    return {f.name for f in view.features}


def _column(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """JSON values as an Arrow array of ``kind``: timestamps from ISO 8601 text or integer
    microseconds since the epoch."""
    if pa.types.is_timestamp(kind):
        if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values):
            return pa.array(values, pa.int64()).cast(kind)
        parsed = pa.array(values, pa.string())
        import pyarrow.compute as pc

        try:
            stamps = pc.cast(parsed, pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            stamps = pc.cast(parsed, pa.timestamp("us"))
        return stamps.cast(kind)
    return pa.array(values).cast(kind) if values else pa.array([], kind)
