"""Run artifacts: files (and folders of files) a run produced, stored as content-addressed blobs."""

from __future__ import annotations

import mimetypes
import posixpath
from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.core.operations import Target, operation
from dockyard.core.paths import path_problem
from dockyard.core.principal import Principal
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.tables import ArtifactRow, utcnow
from dockyard.tracking.runs import find_run
from dockyard.tracking.schemas import Artifact, TablePreview, TableQuery

OWNER = "run"


def check_artifact_path(path: str) -> str:
    """A relative POSIX path inside the run, without '..' or empty segments."""
    if path_problem(path) is not None:  # the rule every stored path follows (core.paths)
        raise InvalidInput(
            f"artifact path {path[:100]!r} is not allowed: use a relative path like "
            "'plots/roc.png' with no '..', '.' or empty parts"
        )
    return path


def media_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed:
        return guessed
    if posixpath.splitext(path)[1].lower() in (".parquet",):
        return "application/vnd.apache.parquet"
    return "application/octet-stream"


def _to_model(row: ArtifactRow) -> Artifact:
    return Artifact(
        path=row.path,
        size=row.size,
        digest=row.digest,
        media_type=row.media_type,
        created_at=row.created_at,
    )


def _locate(session: Session, run_id: str, path: str) -> ArtifactRow:
    run = find_run(session, run_id, include_deleted=True)
    row = session.get(ArtifactRow, (run.id, path))
    if row is None:
        raise NotFound(f"run {run_id} has no artifact {path!r}")
    return row


class ArtifactService:
    """Upload, list and download a run's files; each keeps its blob alive until purged."""

    service_name = "artifacts"

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    @operation("POST", "/runs/{run_id}/artifacts", status=201, on=Target("run", "run_id"))
    def upload(self, principal: Principal, run_id: str, data: BinaryIO, path: str) -> Artifact:
        """Store a file as ``path`` in the run (a path logged again is replaced)."""
        check_artifact_path(path)
        self.db.query(lambda s: find_run(s, run_id))  # fail before taking the bytes
        stored = self.blobs.put(data)

        def record(session: Session) -> Artifact:
            run = find_run(session, run_id)
            old = session.get(ArtifactRow, (run.id, path))
            if old is not None and old.digest != stored.digest:
                shared = session.scalar(
                    select(func.count()).where(
                        ArtifactRow.run_id == run.id,
                        ArtifactRow.digest == old.digest,
                        ArtifactRow.path != path,
                    )
                )
                if not shared:
                    blobrefs.drop_ref(session, OWNER, run.id, old.digest)
            row = ArtifactRow(
                run_id=run.id,
                path=path,
                digest=stored.digest,
                size=stored.size,
                media_type=media_type(path),
                created_at=utcnow(),
            )
            session.merge(row)
            blobrefs.add_refs(session, OWNER, run.id, [stored.digest])
            return _to_model(row)

        return self.db.write(record)

    @operation("GET", "/runs/{run_id}/artifacts", on=Target("run", "run_id"))
    def list(self, principal: Principal, run_id: str, prefix: str = "") -> list[Artifact]:
        """The run's artifacts by path, optionally only those under the folder ``prefix``."""

        def fetch(session: Session) -> list[Artifact]:
            run = find_run(session, run_id, include_deleted=True)
            stmt = select(ArtifactRow).where(ArtifactRow.run_id == run.id)
            if prefix:
                folder = prefix.rstrip("/") + "/"
                stmt = stmt.where(ArtifactRow.path.startswith(folder, autoescape=True))
            return [_to_model(r) for r in session.scalars(stmt.order_by(ArtifactRow.path))]

        return self.db.query(fetch)

    @operation("GET", "/runs/{run_id}/artifacts/content", on=Target("run", "run_id"))
    def download(self, principal: Principal, run_id: str, path: str) -> BinaryIO:
        """Stream an artifact's bytes (verified against its digest as they are read)."""
        digest = self.db.query(lambda s: _locate(s, run_id, path).digest)
        return self.blobs.open(digest)  # type: ignore[return-value]

    @operation("GET", "/runs/{run_id}/artifacts/table", on=Target("run", "run_id"))
    def table(self, principal: Principal, run_id: str, query: TableQuery) -> TablePreview:
        """The first rows of a table artifact (.parquet, .csv, .tsv, optionally gzipped .csv
        and .tsv) with its columns' types, reading only those rows; a file that is not a
        table, or a corrupt one, is a 400 saying what is wrong."""
        # preview loads pyarrow (~0.2 s): imported on the first preview, not with the service
        from dockyard.tracking.preview import preview_table, table_format

        digest = self.db.query(lambda s: _locate(s, run_id, query.path).digest)
        table_format(query.path)  # not a table: say so before opening it
        with self.blobs.open_seekable(digest) as stream:  # Parquet reads its footer first
            return preview_table(query.path, stream, query.limit)
