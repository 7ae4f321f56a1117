"""The dataset service: datasets with immutable, content-addressed, validated versions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dockyard.blobs.store import BlobStore
from dockyard.core.errors import Conflict, InvalidInput
from dockyard.core.ids import new_id
from dockyard.core.operations import Target, operation
from dockyard.core.principal import Principal, Role
from dockyard.core.schemas import decode_cursor, encode_cursor
from dockyard.data import lineage as lineage_graph
from dockyard.data.duck import sandbox
from dockyard.data.parquet import describe_schema_change, read_footers
from dockyard.data.schemas import (
    Column,
    ColumnStats,
    Dataset,
    DatasetCreate,
    DatasetDiff,
    DiffQuery,
    Lineage,
    LineageQuery,
    Rule,
    RulesSet,
    ValidationReport,
    Version,
    VersionCommit,
    VersionFile,
    VersionPage,
    VersionQuery,
    VersionUse,
)
from dockyard.data.versions import (
    COLUMNS,
    OWNER,
    RULES,
    STATS,
    find_dataset,
    find_version,
    get_or_create_dataset,
    manifest_digest,
    to_dataset,
    to_version,
    version_files,
)
from dockyard.projects.service import find_project
from dockyard.store import blobrefs
from dockyard.store.db import Database
from dockyard.store.tables import DatasetFileRow, DatasetRow, DatasetVersionRow, utcnow
from dockyard.tracking.lineage import record_io

# Aliases for annotations inside the class, where `list` is the operation's name.
Paths = list[Path]
Columns = list[Column]
Rules = list[Rule]
Files = list[VersionFile]
Stats = list[ColumnStats]
Digests = Sequence[str]


class DatasetService:
    """Datasets of a project and their versions: Parquet files in the blob store, with the
    schema, statistics and validation report of each version in the database."""

    service_name = "datasets"

    def __init__(self, db: Database, blobs: BlobStore, cache_dir: Path) -> None:
        self.db = db
        self.blobs = blobs
        self.cache_dir = cache_dir

    # -- datasets -----------------------------------------------------------------------

    @operation("POST", "/datasets", status=201, on=Target("project", "body.project", creates=True))
    def create(self, principal: Principal, body: DatasetCreate) -> Dataset:
        """Create an empty dataset (adding a version creates it too)."""

        def insert(session: Session) -> Dataset:
            project = find_project(session, body.project)
            exists = session.scalar(
                select(DatasetRow.id).where(
                    DatasetRow.project_id == project.id, DatasetRow.name == body.name
                )
            )
            if exists:
                raise Conflict(f"project {body.project!r} already has a dataset {body.name!r}")
            row = get_or_create_dataset(session, project, body.name, principal)
            row.description = body.description
            return to_dataset(session, row, project.name)

        return self.db.write(insert)

    @operation("GET", "/projects/{project}/datasets")
    def list(self, principal: Principal, project: str) -> list[Dataset]:
        """The project's datasets by name."""

        def fetch(session: Session) -> list[Dataset]:
            found = find_project(session, project)
            rows = session.scalars(
                select(DatasetRow)
                .where(DatasetRow.project_id == found.id)
                .order_by(DatasetRow.name)
            )
            return [to_dataset(session, r, found.name) for r in rows]

        return self.db.query(fetch)

    @operation("GET", "/projects/{project}/datasets/{dataset}")
    def get(self, principal: Principal, project: str, dataset: str) -> Dataset:
        """A dataset with its rules, number of versions and what `latest` is."""
        return self.db.query(lambda s: to_dataset(s, find_dataset(s, project, dataset), project))

    @operation("DELETE", "/projects/{project}/datasets/{dataset}", status=204, role=Role.OWNER)
    def delete(self, principal: Principal, project: str, dataset: str) -> None:
        """Delete a dataset and all its versions; ``gc`` then frees their files."""

        def erase(session: Session) -> None:
            row = find_dataset(session, project, dataset)
            for version_id in session.scalars(
                select(DatasetVersionRow.id).where(DatasetVersionRow.dataset_id == row.id)
            ):
                blobrefs.drop_refs(session, OWNER, version_id)
            session.delete(row)

        self.db.write(erase)

    @operation("PUT", "/projects/{project}/datasets/{dataset}/rules")
    def set_rules(
        self, principal: Principal, project: str, dataset: str, body: RulesSet
    ) -> Dataset:
        """Replace the dataset's validation rules; they apply to every new version (and to
        ``validate`` of an existing one)."""
        for rule in body.rules:
            if rule.check == "sql":
                from dockyard.data.duck import check_expression

                check_expression(rule.expression, "rule expression")

        def store(session: Session) -> Dataset:
            project_row = find_project(session, project)
            row = get_or_create_dataset(session, project_row, dataset, principal)
            row.rules = RULES.dump_json(body.rules).decode()
            row.updated_at = utcnow()
            return to_dataset(session, row, project_row.name)

        return self.db.write(store)

    # -- versions -----------------------------------------------------------------------

    @operation(
        "POST",
        "/projects/{project}/datasets/{dataset}/versions",
        status=201,
        on=(Target("project", "project"), Target("run", "body.run_id", optional=True)),
    )
    def commit(
        self, principal: Principal, project: str, dataset: str, body: VersionCommit
    ) -> Version:
        """Make a version of Parquet files uploaded as blobs (``created`` is false when the
        same content already is a version: nothing new is stored then)."""
        if not body.files and body.mode == "replace":
            raise InvalidInput("a version needs at least one file")
        if not body.files:
            raise InvalidInput("nothing to append: give the files of the new data")
        # Leased before the check: gc keeps these blobs until the version references them.
        missing = self.blobs.claim([f.digest for f in body.files])
        if missing:
            raise InvalidInput(f"file sha256:{missing[0]} was not uploaded; upload it first")

        def context(
            session: Session,
        ) -> tuple[Files, Columns, list[int], Rules]:
            project_row = find_project(session, project)
            if body.run_id is not None:
                from dockyard.tracking.runs import find_run

                find_run(session, body.run_id)
            row = session.scalar(
                select(DatasetRow).where(
                    DatasetRow.project_id == project_row.id, DatasetRow.name == dataset
                )
            )
            rules = RULES.validate_json(row.rules) if row is not None else []
            if body.mode == "replace":
                return [], [], [], rules
            if row is None:
                raise InvalidInput(f"dataset {dataset!r} has no version to append to yet")
            parent = find_version(session, row, str(body.parent or "latest"))
            return (
                version_files(session, parent.id),
                COLUMNS.validate_json(parent.columns),
                [parent.number],
                rules,
            )

        kept, parent_columns, parents, rules = self.db.query(context)
        paths = self._paths([f.digest for f in body.files])
        new_files, columns = read_footers(paths, [f.digest for f in body.files])
        if body.mode == "append" and columns != parent_columns:
            raise InvalidInput(
                f"the new data's schema does not match version {parents[0]}: "
                + describe_schema_change(parent_columns, columns)
            )
        files = kept + new_files
        digest = manifest_digest(columns, files)
        existing = self.db.query(lambda s: self._by_digest(s, project, dataset, digest))
        if existing is not None:
            if body.run_id is not None:
                self.record_use(
                    principal,
                    project,
                    dataset,
                    str(existing.number),
                    VersionUse(run_id=body.run_id, direction="output"),
                )
            return existing
        rows = sum(f.rows for f in files)
        created_at = utcnow()
        all_paths = self._paths([f.digest for f in files])
        stats, report = self._analyse(all_paths, columns, rules, rows, created_at)

        def insert(session: Session) -> Version:
            project_row = find_project(session, project)
            dataset_row = get_or_create_dataset(session, project_row, dataset, principal)
            again = self._by_digest(session, project, dataset, digest)
            if again is not None:
                return again
            number = (
                session.scalar(
                    select(DatasetVersionRow.number)
                    .where(DatasetVersionRow.dataset_id == dataset_row.id)
                    .order_by(DatasetVersionRow.number.desc())
                    .limit(1)
                    .with_for_update()
                )
                or 0
            ) + 1
            version = DatasetVersionRow(
                id=new_id(),
                dataset_id=dataset_row.id,
                number=number,
                digest=digest,
                parents=json.dumps(parents),
                message=body.message,
                source=body.source,
                created_by=principal.name,
                created_at=created_at,
                run_id=body.run_id,
                rows=rows,
                bytes=sum(f.size for f in files),
                status="unchecked" if report is None else ("passed" if report.passed else "failed"),
                forced=body.force,
                columns=COLUMNS.dump_json(columns).decode(),
                stats=STATS.dump_json(stats).decode(),
                validation=report.model_dump_json() if report is not None else None,
            )
            session.add(version)
            session.flush()
            session.add_all(
                DatasetFileRow(
                    version_id=version.id, position=i, digest=f.digest, size=f.size, rows=f.rows
                )
                for i, f in enumerate(files)
            )
            blobrefs.add_refs(session, OWNER, version.id, [f.digest for f in files])
            if body.run_id is not None:
                record_io(
                    session,
                    body.run_id,
                    "output",
                    OWNER,
                    version.id,
                    f"{project_row.name}/{dataset_row.name}@{number}",
                )
            session.flush()
            return to_version(session, version, dataset_row, project_row.name)

        return self.db.write(insert)

    @operation("GET", "/projects/{project}/datasets/{dataset}/versions")
    def versions(
        self, principal: Principal, project: str, dataset: str, query: VersionQuery
    ) -> VersionPage:
        """The dataset's versions, newest first (without files and statistics)."""
        before = decode_cursor(query.cursor, 1)[0] if query.cursor else None

        def fetch(session: Session) -> VersionPage:
            row = find_dataset(session, project, dataset)
            stmt = select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == row.id)
            if before is not None:
                stmt = stmt.where(DatasetVersionRow.number < int(before))
            found = list(
                session.scalars(
                    stmt.order_by(DatasetVersionRow.number.desc()).limit(query.limit + 1)
                )
            )
            items = [
                to_version(session, v, row, project, detail=False) for v in found[: query.limit]
            ]
            more = len(found) > query.limit
            return VersionPage(
                items=items, next_cursor=encode_cursor([items[-1].number]) if more else None
            )

        return self.db.query(fetch)

    @operation("GET", "/projects/{project}/datasets/{dataset}/versions/{version}")
    def version(self, principal: Principal, project: str, dataset: str, version: str) -> Version:
        """One version in full: files, schema, statistics and validation report."""

        def fetch(session: Session) -> Version:
            row = find_dataset(session, project, dataset)
            return to_version(session, find_version(session, row, version), row, project)

        return self.db.query(fetch)

    @operation(
        "DELETE",
        "/projects/{project}/datasets/{dataset}/versions/{version}",
        status=204,
        role=Role.MAINTAINER,
    )
    def delete_version(
        self, principal: Principal, project: str, dataset: str, version: str
    ) -> None:
        """Delete a version; files no other version uses are freed by ``gc``."""

        def erase(session: Session) -> None:
            row = find_dataset(session, project, dataset)
            found = find_version(session, row, version)
            blobrefs.drop_refs(session, OWNER, found.id)
            session.delete(found)

        self.db.write(erase)

    @operation("POST", "/projects/{project}/datasets/{dataset}/versions/{version}/validate")
    def validate(self, principal: Principal, project: str, dataset: str, version: str) -> Version:
        """Check a version against the dataset's current rules and record the report."""

        def context(
            session: Session,
        ) -> tuple[str, Files, Columns, Rules, int, dt.datetime]:
            row = find_dataset(session, project, dataset)
            found = find_version(session, row, version)
            return (
                found.id,
                version_files(session, found.id),
                COLUMNS.validate_json(found.columns),
                RULES.validate_json(row.rules),
                found.rows,
                found.created_at,
            )

        version_id, files, columns, rules, rows, created_at = self.db.query(context)
        report = self._validate(
            self._paths([f.digest for f in files]), columns, rules, rows, created_at
        )

        def store(session: Session) -> Version:
            found = session.get(DatasetVersionRow, version_id)
            if found is None:
                raise InvalidInput(f"version {version} was deleted while it was being validated")
            found.validation = report.model_dump_json() if report is not None else None
            found.status = (
                "unchecked" if report is None else ("passed" if report.passed else "failed")
            )
            session.flush()
            dataset_row = session.get(DatasetRow, found.dataset_id)
            assert dataset_row is not None
            return to_version(session, found, dataset_row, project)

        return self.db.write(store)

    @operation(
        "POST",
        "/projects/{project}/datasets/{dataset}/versions/{version}/uses",
        status=204,
        on=(Target("project", "project"), Target("run", "body.run_id")),
    )
    def record_use(
        self, principal: Principal, project: str, dataset: str, version: str, body: VersionUse
    ) -> None:
        """Record that a run read (or wrote) this version: its lineage."""

        def store(session: Session) -> None:
            row = find_dataset(session, project, dataset)
            found = find_version(session, row, version)
            record_io(
                session,
                body.run_id,
                body.direction,
                OWNER,
                found.id,
                f"{project}/{row.name}@{found.number}",
            )

        self.db.write(store)

    @operation("GET", "/projects/{project}/datasets/{dataset}/diff")
    def diff(
        self, principal: Principal, project: str, dataset: str, query: DiffQuery
    ) -> DatasetDiff:
        """How ``target`` differs from ``base``: schema, row counts, statistics per column,
        and, given a key, which rows were added, removed or changed."""
        from dockyard.data.diff import column_shifts, row_diff, schema_diff

        def context(session: Session) -> tuple[Version, Version]:
            row = find_dataset(session, project, dataset)
            a = find_version(session, row, query.base)
            b = find_version(session, row, query.target)
            return to_version(session, a, row, project), to_version(session, b, row, project)

        base, target = self.db.query(context)
        base_paths = self._paths([f.digest for f in base.files])
        target_paths = self._paths([f.digest for f in target.files])
        with sandbox(
            base_paths,
            views={"base": base_paths, "target": target_paths},
            temp_dir=self.cache_dir / "duckdb",
        ) as con:
            shifts = column_shifts(base.stats, target.stats, base.rows, target.rows, con=con)
            rows = (
                row_diff(con, list(query.key), base.columns, target.columns, query.examples)
                if query.key
                else None
            )
        return DatasetDiff(
            base=base.number,
            target=target.number,
            rows=(base.rows, target.rows),
            shared_files=len({f.digest for f in base.files} & {f.digest for f in target.files}),
            schema_changes=schema_diff(base.columns, target.columns),
            columns=shifts,
            row_diff=rows,
        )

    @operation("GET", "/projects/{project}/datasets/{dataset}/versions/{version}/lineage")
    def lineage(
        self, principal: Principal, project: str, dataset: str, version: str, query: LineageQuery
    ) -> Lineage:
        """Runs that wrote or read this version, what they read and wrote in turn, and so on."""

        def walk(session: Session) -> Lineage:
            row = find_dataset(session, project, dataset)
            found = find_version(session, row, version)
            label = f"{project}/{row.name}@{found.number}"
            return lineage_graph.walk(session, found, label, query.direction, query.depth)

        return self.db.query(walk)

    # -- helpers ------------------------------------------------------------------------

    def local_files(self, digests: Sequence[str]) -> Paths:
        """Local copies of stored files, verified against their digests (for the services
        that read dataset files themselves, such as feature materialization)."""
        return self._paths(list(digests))

    def _paths(self, digests: Digests) -> Paths:
        return [self.blobs.local_copy(d, self.cache_dir / "blobs") for d in digests]

    def _by_digest(
        self, session: Session, project: str, dataset: str, digest: str
    ) -> Version | None:
        project_row = find_project(session, project)
        row = session.scalar(
            select(DatasetRow).where(
                DatasetRow.project_id == project_row.id, DatasetRow.name == dataset
            )
        )
        if row is None:
            return None
        found = session.scalar(
            select(DatasetVersionRow)
            .where(DatasetVersionRow.dataset_id == row.id, DatasetVersionRow.digest == digest)
            .order_by(DatasetVersionRow.number)
            .limit(1)
        )
        if found is None:
            return None
        return to_version(session, found, row, project_row.name, created=False)

    def _analyse(
        self,
        paths: Paths,
        columns: Columns,
        rules: Rules,
        rows: int,
        created_at: dt.datetime,
    ) -> tuple[Stats, ValidationReport | None]:
        from dockyard.data.stats import compute_stats
        from dockyard.data.validation import validate

        with sandbox(paths, temp_dir=self.cache_dir / "duckdb") as con:
            stats = compute_stats(con, columns, rows)
            report = validate(con, rules, columns, rows, created_at) if rules else None
        return stats, report

    def _validate(
        self,
        paths: Paths,
        columns: Columns,
        rules: Rules,
        rows: int,
        created_at: dt.datetime,
    ) -> ValidationReport | None:
        from dockyard.data.validation import validate

        if not rules:
            return None
        with sandbox(paths, temp_dir=self.cache_dir / "duckdb") as con:
            return validate(con, rules, columns, rows, created_at)
