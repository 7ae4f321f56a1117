"""Finding datasets and versions, and turning their rows into response models."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from pydantic import TypeAdapter
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from dockyard.core.errors import InvalidInput, NotFound
from dockyard.core.ids import new_id
from dockyard.core.principal import Principal
from dockyard.core.schemas import valid_name
from dockyard.data.schemas import (
    Column,
    ColumnStats,
    Dataset,
    Rule,
    ValidationReport,
    Version,
    VersionFile,
)
from dockyard.projects.service import find_project
from dockyard.store.tables import (
    DatasetFileRow,
    DatasetRow,
    DatasetVersionRow,
    ProjectRow,
    utcnow,
)

RULES = TypeAdapter(list[Rule])
COLUMNS = TypeAdapter(list[Column])
STATS = TypeAdapter(list[ColumnStats])
OWNER = "dataset_version"
_REF = re.compile(r"^(?:v?(?P<number>\d{1,9})|latest|sha256:(?P<digest>[0-9a-f]{6,64}))\Z")
REF_RULE = "a version number (3 or v3), 'latest' or 'sha256:<at least 6 hex digits>'"


def manifest_digest(columns: Sequence[Column], files: Sequence[VersionFile]) -> str:
    """The identity of a version's content: its schema and its files, in order."""
    manifest = {
        "columns": [[c.name, c.type, c.nullable] for c in columns],
        "files": [f.digest for f in files],
    }
    return hashlib.sha256(json.dumps(manifest, separators=(",", ":")).encode()).hexdigest()


def find_dataset(session: Session, project: str, name: str) -> DatasetRow:
    project_row = find_project(session, project)
    row = session.scalar(
        select(DatasetRow).where(DatasetRow.project_id == project_row.id, DatasetRow.name == name)
    )
    if row is None:
        raise NotFound(
            f"project {project!r} has no dataset {name!r}; `dockyard data list {project}` "
            "shows its datasets"
        )
    return row


def get_or_create_dataset(
    session: Session, project: ProjectRow, name: str, principal: Principal
) -> DatasetRow:
    """The dataset named ``name``, created on first use (safe under concurrent writers)."""
    stmt = select(DatasetRow).where(DatasetRow.project_id == project.id, DatasetRow.name == name)
    found = session.scalar(stmt)
    if found is not None:
        return found
    valid_name(name, "dataset name")  # made here by commit and ingest as well as create
    now = utcnow()
    row = DatasetRow(
        id=new_id(),
        project_id=project.id,
        name=name,
        description="",
        rules="[]",
        created_by=principal.name,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another writer created it first
        existing = session.scalar(stmt)
        assert existing is not None
        return existing
    return row


def accepted() -> ColumnElement[bool]:
    """Versions `latest` may resolve to: those that did not fail validation, or were forced."""
    return or_(DatasetVersionRow.status != "failed", DatasetVersionRow.forced.is_(True))


def latest_number(session: Session, dataset_id: str) -> int | None:
    return session.scalar(
        select(func.max(DatasetVersionRow.number)).where(
            DatasetVersionRow.dataset_id == dataset_id, accepted()
        )
    )


def find_version(session: Session, dataset: DatasetRow, ref: str) -> DatasetVersionRow:
    """A version of ``dataset`` by number, ``latest`` or digest prefix; raises NotFound."""
    match = _REF.match(ref.strip())
    if not match:
        raise InvalidInput(f"{ref[:80]!r} is not a version: use {REF_RULE}")
    stmt = select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == dataset.id)
    if match.group("number"):
        row = session.scalar(stmt.where(DatasetVersionRow.number == int(match.group("number"))))
    elif match.group("digest"):
        prefix = match.group("digest")
        rows = list(
            session.scalars(stmt.where(DatasetVersionRow.digest.startswith(prefix)).limit(2))
        )
        if len(rows) > 1:
            raise InvalidInput(f"sha256:{prefix} matches several versions; give more digits")
        row = rows[0] if rows else None
    else:
        number = latest_number(session, dataset.id)
        if number is None:
            raise NotFound(
                f"dataset {dataset.name!r} has no version that passed validation yet; "
                "add one, or ask for a failed version by its number"
            )
        row = session.scalar(stmt.where(DatasetVersionRow.number == number))
    if row is None:
        raise NotFound(f"dataset {dataset.name!r} has no version {ref!r}")
    return row


def version_files(session: Session, version_id: str) -> list[VersionFile]:
    rows = session.scalars(
        select(DatasetFileRow)
        .where(DatasetFileRow.version_id == version_id)
        .order_by(DatasetFileRow.position)
    )
    return [VersionFile(digest=r.digest, size=r.size, rows=r.rows) for r in rows]


def to_dataset(session: Session, row: DatasetRow, project: str) -> Dataset:
    count = session.scalar(select(func.count()).where(DatasetVersionRow.dataset_id == row.id))
    return Dataset(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        rules=RULES.validate_json(row.rules),
        versions=count or 0,
        latest=latest_number(session, row.id),
    )


def to_version(
    session: Session,
    row: DatasetVersionRow,
    dataset: DatasetRow,
    project: str,
    *,
    detail: bool = True,
    created: bool = True,
) -> Version:
    """A version; without ``detail``, its files and statistics are left out (listings)."""
    return Version(
        id=row.id,
        project=project,
        dataset=dataset.name,
        number=row.number,
        digest=row.digest,
        parents=json.loads(row.parents),
        message=row.message,
        source=row.source,
        created_by=row.created_by,
        created_at=row.created_at,
        run_id=row.run_id,
        rows=row.rows,
        bytes=row.bytes,
        status=row.status,
        forced=row.forced,
        columns=COLUMNS.validate_json(row.columns),
        files=version_files(session, row.id) if detail else [],
        stats=STATS.validate_json(row.stats) if detail else [],
        validation=(
            ValidationReport.model_validate_json(row.validation)
            if detail and row.validation
            else None
        ),
        created=created,
    )
