"""Datasets from the SDK and CLI: ``client.datasets``."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from dockyard.client.blobs import BlobsClient
from dockyard.client.transport import Transport
from dockyard.core.errors import NotFound
from dockyard.core.operations import build, operations_by_name
from dockyard.data.schemas import (
    Dataset,
    DatasetCreate,
    DatasetDiff,
    DiffQuery,
    Lineage,
    LineageQuery,
    Rule,
    RulesSet,
    Version,
    VersionCommit,
    VersionFile,
    VersionPage,
    VersionQuery,
    VersionUse,
)
from dockyard.data.service import DatasetService

_OPS = operations_by_name(DatasetService)
Paths = list[Path]  # `list` is a method's name inside the class
Progress = Callable[[str, int, int | None], None]
"""Called as ``progress(phase, done, total)``: phase ``read`` counts source bytes (or rows),
``upload`` counts bytes sent."""


class DatasetsClient:
    """Datasets and their versions; reading a version goes through local Parquet files."""

    def __init__(self, transport: Transport, blobs: BlobsClient, cache_dir: Path) -> None:
        self._transport = transport
        self._blobs = blobs
        self._cache_dir = cache_dir

    def _call(self, name: str, **arguments: Any) -> Any:
        return self._transport.call(_OPS[name], arguments)

    def create(self, project: str, name: str, *, description: str = "") -> Dataset:
        body = build(DatasetCreate, project=project, name=name, description=description)
        result: Dataset = self._call("create", body=body)
        return result

    def list(self, project: str) -> list[Dataset]:
        result: list[Dataset] = self._call("list", project=project)
        return result

    def get(self, project: str, name: str) -> Dataset:
        result: Dataset = self._call("get", project=project, dataset=name)
        return result

    def delete(self, project: str, name: str) -> None:
        """Delete a dataset and its versions; ``gc`` then frees files no one else uses."""
        self._call("delete", project=project, dataset=name)

    def set_rules(
        self, project: str, name: str, rules: Sequence[Rule | Mapping[str, Any]]
    ) -> Dataset:
        """Replace the validation rules checked on every new version."""
        body = build(RulesSet, rules=list(rules))
        result: Dataset = self._call("set_rules", project=project, dataset=name, body=body)
        return result

    def ingest(
        self,
        project: str,
        name: str,
        source: Any,
        *,
        message: str = "",
        mode: Literal["replace", "append"] = "replace",
        parent: int | None = None,
        format: str | None = None,
        schema: Mapping[str, str] | None = None,
        storage_options: dict[str, Any] | None = None,
        run_id: str | None = None,
        force: bool = False,
        progress: Progress | None = None,
    ) -> Version:
        """Convert ``source`` to Parquet (streamed, in bounded memory), upload the files and
        make a version of them.

        ``source``: a pandas, Polars or Arrow table, or a path, glob or URL of CSV, JSON
        lines, Parquet or Arrow files. Identical content makes no new version.
        """
        from dockyard.data.ingest import to_parquet

        with tempfile.TemporaryDirectory(prefix="dockyard-ingest-") as workdir:
            ingested = to_parquet(
                source,
                Path(workdir),
                format=format,
                schema=schema,
                storage_options=storage_options,
                progress=(lambda done, total: progress("read", done, total)) if progress else None,
            )
            total = sum(f.size for f in ingested.files)
            sent = 0
            files = []
            for f in ingested.files:
                try:  # already stored (the same data again, or shared with a version)
                    info = self._blobs.info(f.digest)
                except NotFound:
                    info = self._blobs.put_file(f.path, digest=f.digest)
                sent += f.size
                if progress:
                    progress("upload", sent, total)
                files.append(VersionFile(digest=info.digest, size=info.size, rows=f.rows))
        return self.commit(
            project,
            name,
            files,
            mode=mode,
            parent=parent,
            message=message,
            source=ingested.source,
            run_id=run_id,
            force=force,
        )

    def commit(
        self,
        project: str,
        name: str,
        files: Sequence[VersionFile],
        *,
        mode: Literal["replace", "append"] = "replace",
        parent: int | None = None,
        message: str = "",
        source: str = "",
        run_id: str | None = None,
        force: bool = False,
    ) -> Version:
        """Make a version of Parquet files already uploaded as blobs."""
        body = build(
            VersionCommit,
            files=list(files),
            mode=mode,
            parent=parent,
            message=message,
            source=source[:4096],
            run_id=run_id,
            force=force,
        )
        result: Version = self._call("commit", project=project, dataset=name, body=body)
        return result

    def versions(
        self, project: str, name: str, *, limit: int = 50, cursor: str | None = None
    ) -> VersionPage:
        query = build(VersionQuery, limit=limit, cursor=cursor)
        result: VersionPage = self._call("versions", project=project, dataset=name, query=query)
        return result

    def version(self, project: str, name: str, ref: str | int = "latest") -> Version:
        """A version by number, ``"latest"`` or ``"sha256:<prefix>"``."""
        result: Version = self._call("version", project=project, dataset=name, version=str(ref))
        return result

    def delete_version(self, project: str, name: str, ref: str | int) -> None:
        self._call("delete_version", project=project, dataset=name, version=str(ref))

    def validate(self, project: str, name: str, ref: str | int = "latest") -> Version:
        """Check a version against the current rules; returns it with the new report."""
        result: Version = self._call("validate", project=project, dataset=name, version=str(ref))
        return result

    def record_use(
        self,
        project: str,
        name: str,
        ref: str | int,
        run_id: str,
        direction: Literal["input", "output"] = "input",
    ) -> None:
        body = build(VersionUse, run_id=run_id, direction=direction)
        self._call("record_use", project=project, dataset=name, version=str(ref), body=body)

    def diff(
        self,
        project: str,
        name: str,
        base: str | int,
        target: str | int,
        *,
        key: Sequence[str] = (),
        examples: int = 5,
    ) -> DatasetDiff:
        query = build(
            DiffQuery, base=str(base), target=str(target), key=list(key), examples=examples
        )
        result: DatasetDiff = self._call("diff", project=project, dataset=name, query=query)
        return result

    def lineage(
        self,
        project: str,
        name: str,
        ref: str | int = "latest",
        *,
        direction: Literal["upstream", "downstream", "both"] = "both",
        depth: int = 3,
    ) -> Lineage:
        query = build(LineageQuery, direction=direction, depth=depth)
        result: Lineage = self._call(
            "lineage", project=project, dataset=name, version=str(ref), query=query
        )
        return result

    def local_files(self, version: Version) -> Paths:
        """Local Parquet files with the version's content: the stored files themselves when
        embedded on a local disk, else verified copies in the cache (downloaded once)."""
        # DuckDB and pyarrow read these files directly, many times: hashing them on every
        # read would cost a full pass each time (~4.5 s per GiB here). Instead each file is
        # hashed once per process and trusted while its inode, size, mtime and ctime stay
        # the same (blobs/hashing.py VerifiedFiles); any write to it changes its ctime.
        return [self._blobs.local_copy(f.digest, self._cache_dir) for f in version.files]
