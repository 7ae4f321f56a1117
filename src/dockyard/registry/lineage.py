"""The chain from a model version back to what made it: run, data, code, environment."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.errors import DockyardError
from dockyard.registry.records import to_model_version, to_move
from dockyard.registry.schemas import CodeInfo, EnvironmentInfo, InputDataset, ModelLineage
from dockyard.store.tables import (
    AliasMoveRow,
    ArtifactRow,
    DatasetRow,
    DatasetVersionRow,
    ModelVersionRow,
    ProjectRow,
    RegisteredModelRow,
    RunIORow,
    RunRow,
)
from dockyard.tracking.pipeline_edges import upstream_of
from dockyard.tracking.runs import load_runs

REQUIREMENTS = "dockyard/requirements.txt"
DIFF = "dockyard/git.diff"
_MAX_REQUIREMENTS_BYTES = 1024 * 1024


def _dataset_input(session: Session, version: DatasetVersionRow) -> InputDataset:
    dataset = session.get(DatasetRow, version.dataset_id)
    project = session.get(ProjectRow, dataset.project_id) if dataset else None
    return InputDataset(
        dataset=dataset.name if dataset else "?",
        project=project.name if project else "?",
        version=version.number,
        digest=version.digest,
        rows=version.rows,
        status=version.status,
        version_id=version.id,
    )


def _inputs(session: Session, run_id: str) -> tuple[list[InputDataset], list[dict[str, str]]]:
    """What the run read, and for a pipeline step's run also what the steps upstream of it
    read and the dataset versions its pipeline loaded for them."""
    upstream_runs, loaded = upstream_of(session, run_id)
    datasets: dict[str, InputDataset] = {}
    others: list[dict[str, str]] = []
    for io in session.scalars(
        select(RunIORow)
        .where(RunIORow.run_id.in_([run_id, *upstream_runs]), RunIORow.direction == "input")
        .order_by(RunIORow.created_at)
    ):
        version = session.get(DatasetVersionRow, io.ref) if io.kind == "dataset_version" else None
        if version is not None:
            datasets.setdefault(version.id, _dataset_input(session, version))
        elif io.run_id == run_id:
            others.append({"kind": io.kind, "ref": io.ref, "label": io.label})
    for version_id in loaded:
        version = session.get(DatasetVersionRow, version_id)
        if version is not None:
            datasets.setdefault(version.id, _dataset_input(session, version))
    return list(datasets.values()), others


def _packages(session: Session, run_id: str, blobs: BlobStore) -> list[str]:
    artifact = session.get(ArtifactRow, (run_id, REQUIREMENTS))
    if artifact is None:
        return []
    try:
        with blobs.open(artifact.digest) as stream:
            text = stream.read_head(_MAX_REQUIREMENTS_BYTES).decode("utf-8", "replace")
    except DockyardError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def build_lineage(
    session: Session, model: RegisteredModelRow, version: ModelVersionRow, blobs: BlobStore
) -> ModelLineage:
    """Everything the model card shows about ``version``."""
    run_row = session.get(RunRow, version.run_id) if version.run_id else None
    run = load_runs(session, [run_row])[0] if run_row is not None else None
    inputs, others = _inputs(session, run_row.id) if run_row else ([], [])
    # A pipeline step's run captures no code or environment of its own: its pipeline's
    # run (the parent) did, for all of its steps.
    parent_row = session.get(RunRow, run_row.parent_id) if run_row and run_row.parent_id else None
    code_row = run_row
    tags = run.tags if run else {}
    if run_row is not None and parent_row is not None and "dockyard.git.commit" not in tags:
        parent_tags = load_runs(session, [parent_row])[0].tags
        if "dockyard.git.commit" in parent_tags:
            code_row = parent_row
            tags = {**{k: v for k, v in parent_tags.items() if k.startswith("dockyard.")}, **tags}
    has_diff = code_row is not None and session.get(ArtifactRow, (code_row.id, DIFF)) is not None
    code = CodeInfo(
        commit=tags.get("dockyard.git.commit"),
        branch=tags.get("dockyard.git.branch"),
        remote=tags.get("dockyard.git.remote"),
        dirty=tags["dockyard.git.dirty"] == "true" if "dockyard.git.dirty" in tags else None,
        diff_artifact=DIFF if has_diff else None,
        run_id=code_row.id if code_row is not None else None,
        entry_point=tags.get("dockyard.entry_point"),
    )
    model_version = to_model_version(session, model, version)
    environment = EnvironmentInfo(
        python=tags.get("dockyard.python") or model_version.manifest.python_version or None,
        host=tags.get("dockyard.host"),
        packages=_packages(session, run_row.id, blobs)
        or (_packages(session, parent_row.id, blobs) if parent_row else [])
        if run_row
        else [],
        requirements=model_version.manifest.requirements,
    )
    evaluation_rows = list(
        session.scalars(
            select(RunRow)
            .join(RunIORow, RunIORow.run_id == RunRow.id)
            .where(
                RunIORow.kind == "model_version",
                RunIORow.ref == version.id,
                RunIORow.direction == "input",
                RunRow.deleted_at.is_(None),
            )
            .order_by(RunRow.start_time.desc())
            .limit(20)
        )
    )
    moves = session.scalars(
        select(AliasMoveRow)
        .where(
            AliasMoveRow.model_id == model.id,
            (AliasMoveRow.to_version == version.number)
            | (AliasMoveRow.from_version == version.number),
        )
        .order_by(AliasMoveRow.id.desc())
        .limit(50)
    )
    return ModelLineage(
        version=model_version,
        run=run,
        inputs=inputs,
        other_inputs=others,
        evaluations=load_runs(session, evaluation_rows),
        code=code,
        environment=environment,
        alias_history=[to_move(model, m) for m in moves],
    )
