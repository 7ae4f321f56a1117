"""The feature store from the SDK and CLI: ``client.features``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dockyard.client.transport import Transport
from dockyard.core.operations import build, operations_by_name
from dockyard.features.schemas import (
    ApplyReport,
    DefinitionVersion,
    EntityInfo,
    FeaturesApply,
    FeatureViewInfo,
    MaterializeReport,
    MaterializeRequest,
    OnlineQuery,
    OnlineValues,
    PushReport,
    PushRequest,
    TrainingSet,
    TrainingSetQuery,
    TrainingSetRecord,
)
from dockyard.features.service import FeatureService

_OPS = operations_by_name(FeatureService)


class FeaturesClient:
    """Entities and feature views of a project: definitions, online values, pushes and
    the record of training sets. See ``dy.features`` for the friendlier functions."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, name: str, **arguments: Any) -> Any:
        return self._transport.call(_OPS[name], arguments)

    def apply(
        self,
        project: str,
        *,
        entities: Sequence[Mapping[str, Any]] = (),
        views: Sequence[Mapping[str, Any]] = (),
    ) -> ApplyReport:
        """Store definitions (their ``.canonical()`` JSON); changed ones get a new version."""
        body = build(
            FeaturesApply, entities=[dict(e) for e in entities], views=[dict(v) for v in views]
        )
        report: ApplyReport = self._call("apply", project=project, body=body)
        return report

    def views(self, project: str) -> list[FeatureViewInfo]:
        found: list[FeatureViewInfo] = self._call("list_views", project=project)
        return found

    def view(self, project: str, name: str) -> FeatureViewInfo:
        found: FeatureViewInfo = self._call("get_view", project=project, view=name)
        return found

    def view_versions(self, project: str, name: str) -> list[DefinitionVersion]:
        found: list[DefinitionVersion] = self._call("view_versions", project=project, view=name)
        return found

    def entities(self, project: str) -> list[EntityInfo]:
        found: list[EntityInfo] = self._call("list_entities", project=project)
        return found

    def materialize(self, project: str, view: str, *, reset: bool = False) -> MaterializeReport:
        body = build(MaterializeRequest, view=view, reset=reset)
        report: MaterializeReport = self._call("materialize", project=project, body=body)
        return report

    def online(
        self,
        project: str,
        keys: Mapping[str, Sequence[Any]],
        features: Sequence[str],
        *,
        at: dt.datetime | None = None,
        full_names: bool = False,
    ) -> OnlineValues:
        body = build(
            OnlineQuery,
            keys={k: list(v) for k, v in keys.items()},
            features=list(features),
            at=at,
            full_names=full_names,
        )
        values: OnlineValues = self._call("online", project=project, body=body)
        return values

    def push(self, project: str, view: str, events: Mapping[str, Sequence[Any]]) -> PushReport:
        body = build(PushRequest, view=view, events={k: list(v) for k, v in events.items()})
        report: PushReport = self._call("push", project=project, body=body)
        return report

    def record_training_set(
        self,
        project: str,
        *,
        dataset: str,
        version: int,
        labels: str,
        features: Sequence[str],
        views: Mapping[str, int],
        sources: Mapping[str, int],
    ) -> TrainingSet:
        body = build(
            TrainingSetRecord,
            dataset=dataset,
            version=version,
            labels=labels,
            features=list(features),
            views=dict(views),
            sources=dict(sources),
        )
        recorded: TrainingSet = self._call("record_training_set", project=project, body=body)
        return recorded

    def training_sets(self, project: str, *, view: str | None = None) -> list[TrainingSet]:
        query = build(TrainingSetQuery, view=view)
        found: list[TrainingSet] = self._call("training_sets", project=project, query=query)
        return found
