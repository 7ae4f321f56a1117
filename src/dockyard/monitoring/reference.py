"""The reference of one model version: the dataset version its training run read (or the
one a monitor names), its bins and its summary, fixed once and stored with the monitor."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.data.schemas import Column, Rule
from dockyard.data.service import DatasetService
from dockyard.data.versions import COLUMNS, RULES, find_dataset, find_version, version_files
from dockyard.monitoring.binning import Binning
from dockyard.monitoring.profile import Summary, summarize
from dockyard.registry.lineage import build_lineage
from dockyard.registry.records import find_model
from dockyard.registry.records import find_version as find_model_version
from dockyard.store.tables import DatasetRow, DatasetVersionRow, ProjectRow

MAX_REFERENCE_ROWS = 2_000_000
"""A reference larger than this is sampled evenly (the bins and shares barely move)."""


@dataclass(frozen=True)
class Reference:
    source: str
    rows: int
    binning: Binning
    summary: Summary
    rules: list[Rule]
    columns: list[Column]


@dataclass(frozen=True)
class Located:
    source: str
    version_id: str
    digests: list[str]
    rules: list[Rule]
    columns: list[Column]


def _split_ref(ref: str) -> tuple[str, str, str]:
    project, _, rest = ref.partition("/")
    dataset, _, version = rest.partition("@")
    if not project or not dataset or not version:
        raise InvalidInput(f"reference {ref!r}: write project/dataset@version, e.g. fraud/train@3")
    return project, dataset, version


def locate(
    session: Session,
    blobs: BlobStore,
    model: str,
    version: int,
    named: str | None,
    wanted: list[str] | None = None,
) -> Located:
    """Where the reference of ``model`` v``version`` is (read in one DB session); of the
    datasets its training run read, the one with most of the ``wanted`` columns."""
    if named:
        project, dataset, number = _split_ref(named)
        row = find_version(session, find_dataset(session, project, dataset), number)
    else:
        model_row = find_model(session, model)
        version_row = find_model_version(session, model_row, version)
        inputs = build_lineage(session, model_row, version_row, blobs).inputs
        if not inputs:
            raise NotFound(
                f"{model} v{version}'s training run recorded no dataset version as its input, "
                "so there is nothing to compare its traffic with: give the monitor a "
                "reference (project/dataset@version)"
            )
        # the training set: of the dataset versions the run read, the one with most of the
        # columns the model is sent (a pipeline reads the raw data and the features built
        # from it, often with as many rows), then the largest
        found = [session.get(DatasetVersionRow, i.version_id) for i in inputs]
        alive = [(i, r) for i, r in zip(inputs, found, strict=True) if r is not None]
        if not alive:
            raise NotFound(f"the dataset versions {model} v{version} was trained on were deleted")
        sent = set(wanted or [])

        def fit(pair: tuple[object, DatasetVersionRow]) -> tuple[int, int]:
            names = {c.name for c in COLUMNS.validate_json(pair[1].columns)}
            return len(names & sent), pair[1].rows or 0

        row = max(alive, key=fit)[1]
    dataset_row = session.get(DatasetRow, row.dataset_id)
    project_row = session.get(ProjectRow, dataset_row.project_id) if dataset_row else None
    if dataset_row is None or project_row is None:
        raise NotFound("the reference's dataset was deleted")
    files = version_files(session, row.id)
    return Located(
        source=f"{project_row.name}/{dataset_row.name}@{row.number}",
        version_id=row.id,
        digests=[f.digest for f in files],
        rules=list(RULES.validate_json(dataset_row.rules)),
        columns=list(COLUMNS.validate_json(row.columns)),
    )


def load(located: Located, datasets: DatasetService, wanted: list[str] | None) -> Reference:
    """Read the reference's rows and fix its bins and summary (``wanted``: the columns to
    keep, default all)."""
    from dockyard.data.read import to_arrow

    paths = datasets.local_files(located.digests)
    if not paths:
        raise InvalidInput(f"reference {located.source} has no rows to compare with")
    names = {c.name for c in located.columns}
    columns = [c for c in (wanted or sorted(names)) if c in names]
    if not columns:
        raise InvalidInput(
            f"reference {located.source} has none of the columns the model is sent: it has "
            + ", ".join(sorted(names)[:30])
        )
    table: pa.Table = to_arrow(paths, columns=columns)
    if table.num_rows > MAX_REFERENCE_ROWS:
        step = table.num_rows // MAX_REFERENCE_ROWS + 1
        table = table.take(pa.array(range(0, table.num_rows, step)))
    binning = Binning.from_reference(table, columns)
    return Reference(
        source=located.source,
        rows=table.num_rows,
        binning=binning,
        summary=summarize(table, binning),
        rules=located.rules,
        columns=located.columns,
    )
