"""The feature store from Python: ``dy.features.apply``, ``training_set``, ``materialize``,
``online`` and ``push``.

Definitions live in the metadata store (versioned); online values in the online store the
service owns. A training set is computed here, in the caller's process: the source
versions are read through the client (cached locally) and joined point-in-time in DuckDB,
then written as a dataset version whose recipe (labels, features, definition and source
versions) is recorded. On-demand features run here too, from the ``OnDemand`` objects the
caller passes (their code is never stored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa

from dockyard.client.client import Client, connect
from dockyard.compute.executor import Executor
from dockyard.core.errors import InvalidInput
from dockyard.features.definitions import Entity, FeatureView, OnDemand
from dockyard.features.ondemand import compute
from dockyard.features.records import ON_DEMAND, stored_view
from dockyard.features.schemas import ApplyReport, FeatureViewInfo, MaterializeReport, PushReport
from dockyard.features.tables import as_arrow
from dockyard.sdk.data import DatasetHandle, DatasetVersion

Feature = str | OnDemand
"""A feature to fetch: ``"view:feature"``, ``"view:*"``, or an on-demand feature object."""


class _Session:
    """The client to use: the one given, else a new one closed afterwards."""

    def __init__(self, client: Client | None) -> None:
        self.owned = client is None
        self.client = client if client is not None else connect()

    def __enter__(self) -> Client:
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.client.close()


class _Executor:
    """The executor named (opened here, closed afterwards) or given (left open), or None."""

    def __init__(self, spec: str | Executor | None) -> None:
        self.spec = spec
        self.opened: Executor | None = None

    def __enter__(self) -> Executor | None:
        if not isinstance(self.spec, str):
            return self.spec
        from dockyard.compute.registry import open_executor

        self.opened = open_executor(self.spec)
        return self.opened

    def __exit__(self, *exc: object) -> None:
        if self.opened is not None:
            self.opened.close()


def apply(
    objects: Iterable[Entity | FeatureView], *, project: str, client: Client | None = None
) -> ApplyReport:
    """Store entities and feature views; changed definitions become new versions and the
    report says what changed. The entities of each view are stored with it."""
    entities: dict[str, Entity] = {}
    views: list[FeatureView] = []
    for obj in objects:
        if isinstance(obj, FeatureView):
            views.append(obj)
            for entity in obj.entities:
                entities.setdefault(entity.name, entity)
        elif isinstance(obj, Entity):
            entities[obj.name] = obj
        else:
            raise InvalidInput(
                f"apply() takes Entity and FeatureView objects, not {type(obj).__name__}"
            )
    with _Session(client) as active:
        from dockyard.sdk.projects import ensure_project

        ensure_project(active, project)
        return active.features.apply(
            project,
            entities=[e.canonical() for e in entities.values()],
            views=[v.canonical() for v in views],
        )


def views(*, project: str, client: Client | None = None) -> list[FeatureViewInfo]:
    """The project's feature views with their definitions and freshness."""
    with _Session(client) as active:
        return active.features.views(project)


def materialize(
    view: str, *, project: str, reset: bool = False, client: Client | None = None
) -> MaterializeReport:
    """Bring the view's online values up to date with its source dataset (only what is new
    since the last time; ``reset`` rebuilds them)."""
    with _Session(client) as active:
        return active.features.materialize(project, view, reset=reset)


def push(view: str, events: Any, *, project: str, client: Client | None = None) -> PushReport:
    """Add new events (a DataFrame, Arrow table or column dict with every column of the
    view's source) to the online values and to the source dataset."""
    table = (
        as_arrow(events, f"events pushed to {view!r}")
        if not isinstance(events, dict)
        else pa.table(events)
    )
    columns = {name: _json_values(table.column(name)) for name in table.column_names}
    with _Session(client) as active:
        return active.features.push(project, view, columns)


def online(
    keys: Mapping[str, Sequence[Any]],
    features: Sequence[Feature],
    *,
    project: str,
    at: dt.datetime | None = None,
    request: Mapping[str, Sequence[Any]] | None = None,
    full_names: bool = False,
    client: Client | None = None,
) -> dict[str, list[Any]]:
    """Feature values of entities (``{"card_hash": ["c1", "c2"]}``) as of ``at`` (default
    now), column by column. On-demand features given as objects are computed here from
    their inputs and ``request`` values (one per entity)."""
    refs = [f for f in features if isinstance(f, str)]
    own = [f for f in features if isinstance(f, OnDemand)]
    if len(refs) + len(own) != len(features):
        raise InvalidInput("features are 'view:feature' references or OnDemand objects")
    needed = list(refs)
    for feature in own:
        needed.extend(i for i in feature.feature_inputs if i not in needed)
    with _Session(client) as active:
        if needed:
            columns = active.features.online(project, keys, needed, at=at, full_names=True).columns
        else:
            columns = {k: list(v) for k, v in keys.items()}
    count = len(next(iter(keys.values()), []))
    out: dict[str, list[Any]] = {k: columns[k] for k in keys}
    given = request or {}
    for ref in refs:
        view_name, _, name = ref.partition(":")
        prefix = f"{view_name}__"
        picked = [
            c for c in columns if c.startswith(prefix) and (name == "*" or c == prefix + name)
        ]
        for column in picked:
            out[column if full_names else column[len(prefix) :]] = columns[column]
    for feature in own:
        inputs = []
        for name in feature.inputs:
            if ":" in name:
                inputs.append(columns[name.replace(":", "__", 1)])
            elif name in given:
                inputs.append(list(given[name]))
            else:
                raise InvalidInput(
                    f"the on-demand feature {feature.name!r} needs the request value "
                    f"{name!r}: pass request={{{name!r}: [...]}} with one value per entity"
                )
        out[feature.name] = compute(feature, inputs) if inputs else [None] * count
    return out


def training_set(
    labels: Any,
    features: Sequence[Feature],
    *,
    project: str,
    output: str | None = None,
    event_time: str | None = None,
    full_names: bool = False,
    message: str = "",
    source_versions: Mapping[str, int | str] | None = None,
    executor: str | Executor | None = None,
    partitions: int | None = None,
    client: Client | None = None,
) -> DatasetVersion | pa.Table:
    """Features as they were known at each label's time, one row per label (point-in-time
    correct: only what happened strictly before, labels counted once they were available).

    ``labels``: a DataFrame or Arrow table, or a dataset reference ``"name@3"`` of the
    project, with the views' key columns and an event-time column. With ``output`` the
    result becomes a version of that dataset, recorded with the definition and source
    versions it used (so it can be rebuilt exactly), and is returned as such; without, the
    Arrow table is returned. Sources are read at their latest versions unless
    ``source_versions`` pins some (``{"transactions": 3}``).

    The join runs here, in DuckDB, unless ``partitions=N`` splits it by entity in N shares
    joined as units of work of ``executor``: ``"ray"`` (a local Ray, or the one this process
    joined), ``"ray:auto"``, ``"ray://host:port"``, ``"process"``, ``"inprocess"`` (the
    default with partitions alone), or an executor object (not closed here). The result is
    the same (see :mod:`dockyard.features.partitioned`).
    """
    from dockyard.features.offline import training_set as compute
    from dockyard.features.partitioned import check_partitions

    check_partitions(partitions, executor=executor is not None)

    with _Session(client) as active:
        infos = {info.name: info for info in active.features.views(project)}
        views, refs = _resolve(infos, features)
        labels_ref, table = _labels(active, project, labels)
        used = {ref.split(":", 1)[0] for ref in refs}
        for view in list(views.values()):
            for feature in view.features:
                if isinstance(feature, OnDemand) and f"{view.name}:{feature.name}" in refs:
                    used.update(i.split(":", 1)[0] for i in feature.feature_inputs)
        needed: dict[str, list[str]] = {}
        for name in sorted(used & set(views)):
            columns = needed.setdefault(views[name].source, [])
            columns.extend(c for c in views[name].source_columns() if c not in columns)
        sources: dict[str, pa.Table] = {}
        read: dict[str, int] = {}  # source -> the version read
        for source, columns in needed.items():
            pinned = (source_versions or {}).get(source, "latest")
            version = DatasetHandle(active, project, source).version(pinned)
            sources[source] = version.to_arrow(columns=columns)
            read[source] = version.number
        with _Executor(executor) as runner:
            result = compute(
                table,
                views.values(),
                sources,
                refs,
                event_time=event_time,
                full_names=full_names,
                executor=runner,
                partitions=partitions,
            )
        if output is None:
            return result
        written = DatasetHandle(active, project, output).add_version(
            result, message=message or f"training set: {len(refs)} feature reference(s)"
        )
        active.features.record_training_set(
            project,
            dataset=output,
            version=written.number,
            labels=labels_ref,
            features=refs,
            views={name: infos[name].version for name in sorted(used & set(views))},
            sources=read,
        )
        return written


def _resolve(
    infos: Mapping[str, FeatureViewInfo], features: Sequence[Feature]
) -> tuple[dict[str, FeatureView], list[str]]:
    """The views the features need (stored features, plus the on-demand objects given,
    placed in the view that declares them) and the references to ask for."""
    own: dict[str, OnDemand] = {f.name: f for f in features if isinstance(f, OnDemand)}
    views: dict[str, FeatureView] = {}
    home: dict[str, str] = {}  # on-demand feature -> the view declaring it
    for info in infos.values():
        declared = [f["name"] for f in info.definition["features"] if f["kind"] == ON_DEMAND]
        attach = [own[name] for name in declared if name in own and name not in home]
        view = stored_view(info.definition)
        if attach:
            fields = view.model_dump(exclude={"features", "entities"})
            view = FeatureView.model_validate(
                {**fields, "entities": view.entities, "features": [*view.features, *attach]}
            )
            home.update((f.name, info.name) for f in attach)
        views[info.name] = view
    missing = sorted(set(own) - set(home))
    if missing:
        raise InvalidInput(
            f"no feature view of the project declares the on-demand feature(s) {missing}: add "
            "them to a view and apply it first"
        )
    refs = [f"{home[f.name]}:{f.name}" if isinstance(f, OnDemand) else f for f in features]
    return views, refs


def _labels(client: Client, project: str, labels: Any) -> tuple[str, pa.Table]:
    if isinstance(labels, str):
        name, _, ref = labels.partition("@")
        version = DatasetHandle(client, project, name).version(ref or "latest")
        return version.ref, version.to_arrow()
    return "a table in memory", as_arrow(labels, "labels table")


def _json_values(column: pa.ChunkedArray) -> list[Any]:
    """A column as JSON values (timestamps as microseconds since the epoch)."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz=column.type.tz)).cast(pa.int64())
    values: list[Any] = column.to_pylist()
    return values
