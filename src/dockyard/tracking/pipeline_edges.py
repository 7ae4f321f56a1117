"""Lineage through pipelines: a step's run takes what its upstream steps returned and the
dataset versions its pipeline loaded. The pipeline run records that as its graph and step
records, not as each step run's inputs; this module reads those records as run inputs and
outputs, so every lineage question (model card, data lineage) walks through pipelines.

A step's output is the entity ``step_output`` with the id ``<pipeline run id>/<node>``: the
step's run wrote it and the runs of the steps that take it read it. A load node's dataset
version is read by the runs of the steps that take it.

The graph is a stored record that a client sent: it is parsed defensively, and an entry
that is not understood adds no edge.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import pydantic
from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.store.tables import (
    DatasetRow,
    DatasetVersionRow,
    PipelineRunRow,
    PipelineStepRow,
    ProjectRow,
    RunRow,
)
from dockyard.tracking.lineage import Direction, RunIO

STEP_OUTPUT = "step_output"
DATASET_VERSION = "dataset_version"
_MAX_NODES = 20_000
_CHUNK = 500


class _GraphNode(pydantic.BaseModel):
    """One entry of a pipeline run's recorded graph (other fields are ignored)."""

    id: str = pydantic.Field(max_length=160)
    kind: str = "step"
    upstream: list[str] = pydantic.Field(default_factory=list, max_length=1000)


@dataclass
class _Pipeline:
    """A pipeline run's graph and step records, as far as lineage needs them."""

    row: PipelineRunRow
    project: str
    upstream: dict[str, list[str]]
    steps: dict[str, PipelineStepRow]
    downstream: dict[str, list[str]] = field(default_factory=dict)
    datasets: dict[str, tuple[str, str]] = field(default_factory=dict)
    """load node -> (dataset version id, label)"""

    def node_of(self, run_id: str) -> str | None:
        """The node whose step made this run."""
        for node, step in self.steps.items():
            if step.run_id == run_id:
                return node
        return None

    def producer(self, node: str) -> str | None:
        """The run that made the node's output (for a cached step, the earlier run)."""
        step = self.steps.get(node)
        if step is None or step.kind == "load":
            return None
        return step.run_id or step.cached_from

    def output_id(self, node: str) -> str:
        return f"{self.row.id}/{node}"

    def output_label(self, node: str) -> str:
        return f"{self.row.pipeline}.{node} output"

    def when(self, node: str) -> dt.datetime:
        step = self.steps.get(node)
        return (step.started_at if step else None) or self.row.started_at


def _parse_graph(raw: str) -> dict[str, list[str]]:
    """node -> its upstream nodes; an entry that is not understood is left out alone."""
    try:
        entries = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(entries, list):
        return {}
    found: dict[str, list[str]] = {}
    for entry in entries[:_MAX_NODES]:
        try:
            node = _GraphNode.model_validate(entry)
        except pydantic.ValidationError:
            continue
        found[node.id] = list(dict.fromkeys(node.upstream))
    return found


def _dataset_versions(
    session: Session, project_id: str, steps: dict[str, PipelineStepRow]
) -> dict[str, tuple[str, str]]:
    """The dataset version each load node resolved (its record says ``name@number``)."""
    project = session.get(ProjectRow, project_id)
    found: dict[str, tuple[str, str]] = {}
    for node, step in steps.items():
        if step.kind != "load" or step.status != "succeeded":
            continue
        name, sep, number = step.step.rpartition("@")
        if not sep or not name or not number.isdigit() or len(number) > 9:
            continue
        version = session.scalar(
            select(DatasetVersionRow)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .where(
                DatasetRow.project_id == project_id,
                DatasetRow.name == name,
                DatasetVersionRow.number == int(number),
            )
        )
        if version is not None:
            label = f"{project.name if project else '?'}/{name}@{number}"
            found[node] = (version.id, label)
    return found


def _load_pipelines(session: Session, ids: Iterable[str]) -> dict[str, _Pipeline]:
    wanted = sorted(set(ids))
    found: dict[str, _Pipeline] = {}
    for start in range(0, len(wanted), _CHUNK):
        for row in session.scalars(
            select(PipelineRunRow).where(PipelineRunRow.id.in_(wanted[start : start + _CHUNK]))
        ):
            steps = {
                s.node: s
                for s in session.scalars(
                    select(PipelineStepRow).where(PipelineStepRow.pipeline_run_id == row.id)
                )
            }
            upstream = {
                node: [u for u in ups if u in steps and u != node]
                for node, ups in _parse_graph(row.graph).items()
                if node in steps
            }
            downstream: dict[str, list[str]] = {}
            for node, ups in upstream.items():
                for up in ups:
                    downstream.setdefault(up, []).append(node)
            project = session.get(ProjectRow, row.project_id)
            found[row.id] = _Pipeline(
                row=row,
                project=project.name if project else "?",
                upstream=upstream,
                steps=steps,
                downstream=downstream,
                datasets=_dataset_versions(session, row.project_id, steps),
            )
    return found


def _step_runs(session: Session, run_ids: Iterable[str]) -> list[tuple[str, _Pipeline, str]]:
    """(run id, its pipeline, its node) for each run that is a pipeline step's run."""
    ids = sorted(set(run_ids))
    parents: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        for run_id, parent_id in session.execute(
            select(RunRow.id, RunRow.parent_id).where(
                RunRow.id.in_(ids[start : start + _CHUNK]), RunRow.parent_id.is_not(None)
            )
        ):
            if parent_id is not None:
                parents[run_id] = parent_id
    pipelines = _load_pipelines(session, parents.values())
    found = []
    for run_id, parent_id in sorted(parents.items()):
        pipeline = pipelines.get(parent_id)
        node = pipeline.node_of(run_id) if pipeline else None
        if pipeline is not None and node is not None:
            found.append((run_id, pipeline, node))
    return found


def _node_inputs(run_id: str, pipeline: _Pipeline, node: str) -> list[RunIO]:
    found = []
    for up in pipeline.upstream.get(node, []):
        when = pipeline.when(node)
        if up in pipeline.datasets:
            ref, label = pipeline.datasets[up]
            found.append(
                RunIO(
                    run_id=run_id,
                    direction="input",
                    kind=DATASET_VERSION,
                    ref=ref,
                    label=label,
                    created_at=when,
                )
            )
        elif pipeline.producer(up) is not None:
            found.append(_step_output(pipeline, up, run_id, "input", when))
    return found


def _step_output(
    pipeline: _Pipeline, node: str, run_id: str, direction: Direction, when: dt.datetime
) -> RunIO:
    """A step's output, as the writing or a reading run's record of it."""
    return RunIO(
        run_id=run_id,
        direction=direction,
        kind=STEP_OUTPUT,
        ref=pipeline.output_id(node),
        label=pipeline.output_label(node),
        created_at=when,
    )


def step_io(session: Session, run_ids: Iterable[str]) -> list[RunIO]:
    """What the given runs read and wrote as steps of a pipeline: their upstream steps'
    outputs and loaded dataset versions (inputs), and their own output."""
    found: list[RunIO] = []
    for run_id, pipeline, node in _step_runs(session, run_ids):
        found += _node_inputs(run_id, pipeline, node)
        found.append(_step_output(pipeline, node, run_id, "output", pipeline.when(node)))
    return found


def steps_touching(
    session: Session, entities: Iterable[tuple[str, str]], readers: Iterable[RunIO]
) -> list[RunIO]:
    """The step runs that read or wrote the given entities: the writer and readers of a
    step's output, and the steps that took a dataset version their pipeline loaded.
    ``readers`` are the recorded inputs of those entities (a pipeline run records the
    dataset versions it loads as its own inputs), so no pipeline is searched blindly."""
    wanted = set(entities)
    outputs: dict[str, list[str]] = {}
    for kind, ref in wanted:
        if kind == STEP_OUTPUT:
            pipeline_id, sep, node = ref.partition("/")
            if sep and node:
                outputs.setdefault(pipeline_id, []).append(node)
    loads: dict[str, set[str]] = {}
    for io in readers:
        if io.kind == DATASET_VERSION and io.direction == "input" and (io.kind, io.ref) in wanted:
            loads.setdefault(io.run_id, set()).add(io.ref)
    pipelines = _load_pipelines(session, [*outputs, *loads])
    found: list[RunIO] = []
    for pipeline_id, nodes in sorted(outputs.items()):
        pipeline = pipelines.get(pipeline_id)
        if pipeline is None:
            continue
        for node in nodes:
            writer = pipeline.producer(node)
            if writer is None:
                continue
            found.append(_step_output(pipeline, node, writer, "output", pipeline.when(node)))
            found += _readers(pipeline, node, (STEP_OUTPUT, pipeline.output_id(node)))
    for pipeline_id, refs in sorted(loads.items()):
        pipeline = pipelines.get(pipeline_id)
        if pipeline is None:
            continue
        for node, (ref, _label) in sorted(pipeline.datasets.items()):
            if ref in refs:
                found += _readers(pipeline, node, (DATASET_VERSION, ref))
    return found


def _readers(pipeline: _Pipeline, node: str, entity: tuple[str, str]) -> list[RunIO]:
    found = []
    for down in pipeline.downstream.get(node, []):
        step = pipeline.steps[down]
        if step.run_id is None:
            continue
        inputs = _node_inputs(step.run_id, pipeline, down)
        found += [io for io in inputs if (io.kind, io.ref) == entity]
    return found


def upstream_of(session: Session, run_id: str) -> tuple[list[str], list[str]]:
    """For a pipeline step's run: the runs of every step upstream of it (in order, nearest
    first) and the dataset versions its pipeline loaded for them; empty for other runs."""
    found = _step_runs(session, [run_id])
    if not found:
        return [], []
    _, pipeline, node = found[0]
    runs: list[str] = []
    datasets: list[str] = []
    seen = {node}
    frontier = [node]
    while frontier:
        following = []
        for current in frontier:
            for up in pipeline.upstream.get(current, []):
                if up in seen:
                    continue
                seen.add(up)
                following.append(up)
                if up in pipeline.datasets:
                    datasets.append(pipeline.datasets[up][0])
                producer = pipeline.producer(up)
                if producer is not None and producer != run_id:
                    runs.append(producer)
        frontier = following
    return list(dict.fromkeys(runs)), list(dict.fromkeys(datasets))
