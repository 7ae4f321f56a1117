"""Walking lineage from a dataset version: the runs that wrote and read it, what those
runs read and wrote, and so on, up to a depth. Pipeline steps pass values to each other
(``step_output`` nodes) and take the dataset versions their pipeline loaded; each run is
linked to the git commit of its code (a step's is its pipeline run's)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.data.schemas import Lineage, LineageEdge, LineageNode
from dockyard.store.tables import DatasetVersionRow, RunRow, TagRow
from dockyard.tracking.lineage import RunIO, io_of_runs, runs_touching
from dockyard.tracking.pipeline_edges import step_io, steps_touching

COMMIT_TAG = "dockyard.git.commit"
BRANCH_TAG = "dockyard.git.branch"

Entity = tuple[str, str]  # (kind, id)


def node_id(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


def walk(
    session: Session, root: DatasetVersionRow, label: str, direction: str, depth: int
) -> Lineage:
    """The lineage graph around ``root``: ``upstream`` follows what made it, ``downstream``
    what it was used for."""
    start: Entity = ("dataset_version", root.id)
    labels: dict[Entity, str] = {}
    runs: set[str] = set()
    edges: set[tuple[str, str, str]] = set()
    for upstream in (True, False):
        if direction == ("downstream" if upstream else "upstream"):
            continue
        frontier = {start}
        seen = {start}
        for _ in range(depth):
            recorded = runs_touching(session, frontier)
            touching = [
                io
                for io in recorded + steps_touching(session, frontier, recorded)
                if io.direction == ("output" if upstream else "input")
            ]
            step_runs = {io.run_id for io in touching}
            for io in touching:
                labels[(io.kind, io.ref)] = io.label
                _add_edge(edges, io)
            runs |= step_runs
            following = [
                io
                for io in io_of_runs(session, step_runs) + step_io(session, step_runs)
                if io.direction == ("input" if upstream else "output")
            ]
            frontier = set()
            for io in following:
                labels[(io.kind, io.ref)] = io.label
                _add_edge(edges, io)
                entity = (io.kind, io.ref)
                if entity not in seen:
                    seen.add(entity)
                    frontier.add(entity)
            if not frontier:
                break
    labels[start] = label
    commits = _commits(session, runs)
    for run_id, (commit, branch) in commits.items():
        labels[("commit", commit)] = f"{commit[:12]}" + (f" ({branch})" if branch else "")
        edges.add((node_id("commit", commit), node_id("run", run_id), "code"))
    return Lineage(
        root=node_id(*start),
        nodes=_entity_nodes(session, labels) + _run_nodes(session, runs),
        edges=[LineageEdge(source=s, target=t, relation=r) for s, t, r in sorted(edges)],
    )


def _commits(session: Session, run_ids: set[str]) -> dict[str, tuple[str, str | None]]:
    """run -> (git commit, branch) of its code: its own, or its parent's (a pipeline step's
    run captures none; its pipeline run did)."""
    ids = sorted(run_ids)
    parents = dict(
        session.execute(
            select(RunRow.id, RunRow.parent_id).where(
                RunRow.id.in_(ids), RunRow.parent_id.is_not(None)
            )
        ).all()
    )
    wanted = sorted(set(ids) | {p for p in parents.values() if p})
    tags: dict[str, dict[str, str]] = {}
    for run_id, key, value in session.execute(
        select(TagRow.run_id, TagRow.key, TagRow.value).where(
            TagRow.run_id.in_(wanted), TagRow.key.in_((COMMIT_TAG, BRANCH_TAG))
        )
    ):
        tags.setdefault(run_id, {})[key] = value
    found: dict[str, tuple[str, str | None]] = {}
    for run_id in ids:
        own = tags.get(run_id, {})
        source = own if COMMIT_TAG in own else tags.get(parents.get(run_id) or "", {})
        commit = source.get(COMMIT_TAG, "")
        if commit and len(commit) <= 64 and commit.isalnum():
            found[run_id] = (commit, source.get(BRANCH_TAG))
    return found


def _add_edge(edges: set[tuple[str, str, str]], io: RunIO) -> None:
    entity, run = node_id(io.kind, io.ref), node_id("run", io.run_id)
    if io.direction == "input":
        edges.add((entity, run, "read"))
    else:
        edges.add((run, entity, "wrote"))


def _entity_nodes(session: Session, labels: dict[Entity, str]) -> list[LineageNode]:
    versions = {
        v.id: v
        for v in session.scalars(
            select(DatasetVersionRow).where(
                DatasetVersionRow.id.in_([ref for kind, ref in labels if kind == "dataset_version"])
            )
        )
    }
    nodes = []
    for (kind, ref), label in sorted(labels.items()):
        missing = kind == "dataset_version" and ref not in versions
        nodes.append(LineageNode(kind=kind, id=node_id(kind, ref), label=label, missing=missing))
    return nodes


def _run_nodes(session: Session, run_ids: set[str]) -> list[LineageNode]:
    found = {r.id: r for r in session.scalars(select(RunRow).where(RunRow.id.in_(sorted(run_ids))))}
    return [
        LineageNode(
            kind="run",
            id=node_id("run", run_id),
            label=(found[run_id].name or run_id) if run_id in found else run_id,
            missing=run_id not in found or found[run_id].deleted_at is not None,
        )
        for run_id in sorted(run_ids)
    ]
