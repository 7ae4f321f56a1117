"""``dy.dataset``: versioned datasets from Python, read as pandas, Polars, Arrow or DuckDB.

Reading a version inside ``dy.start_run`` records it as the run's input; adding one
records it as the run's output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dockyard.client.client import Client, connect
from dockyard.data.schemas import (
    Column,
    ColumnStats,
    Dataset,
    DatasetDiff,
    Lineage,
    Rule,
    ValidationReport,
    Version,
)
from dockyard.sdk.projects import ensure_project
from dockyard.sdk.runs import _ACTIVE

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from dockyard.client.data import Progress


def _active_run_id() -> str | None:
    stack = _ACTIVE.get()
    return stack[-1].id if stack else None


class DatasetVersion:
    """One immutable version of a dataset; its data is read lazily from Parquet files."""

    def __init__(self, client: Client, info: Version) -> None:
        self._client = client
        self.info = info
        self._recorded: set[str] = set()

    @property
    def number(self) -> int:
        return self.info.number

    @property
    def digest(self) -> str:
        return self.info.digest

    @property
    def rows(self) -> int:
        return self.info.rows

    @property
    def columns(self) -> list[Column]:
        return self.info.columns

    @property
    def stats(self) -> list[ColumnStats]:
        return self.info.stats

    @property
    def validation(self) -> ValidationReport | None:
        return self.info.validation

    @property
    def ref(self) -> str:
        """``project/dataset@number``."""
        return self.info.ref

    def files(self) -> list[Path]:
        """Local Parquet files of this version (downloaded once into the cache if remote),
        verified before each read: hashed once per process, then again only if a file
        changed since (a stat per file per read)."""
        return self._client.datasets.local_files(self.info)

    def _read(self) -> list[Path]:
        run_id = _active_run_id()
        if run_id is not None and run_id not in self._recorded:
            self._client.datasets.record_use(
                self.info.project, self.info.dataset, self.info.number, run_id, "input"
            )
            self._recorded.add(run_id)
        return self.files()

    def to_arrow(self, columns: Sequence[str] | None = None, filter: str | None = None) -> pa.Table:
        """The version as an Arrow table; ``columns`` and ``filter`` (a SQL expression such
        as ``"amount > 100"``) are pushed down to the Parquet scan."""
        from dockyard.data import read

        return read.to_arrow(self._read(), columns=columns, filter=filter)

    def to_pandas(
        self, columns: Sequence[str] | None = None, filter: str | None = None
    ) -> pd.DataFrame:
        from dockyard.data import read

        return read.to_pandas(self._read(), columns=columns, filter=filter)

    def to_polars(
        self, columns: Sequence[str] | None = None, filter: str | None = None
    ) -> pl.DataFrame:
        from dockyard.data import read

        frame: pl.DataFrame = read.to_polars(self._read(), columns=columns, filter=filter)
        return frame

    def to_duckdb(
        self, connection: duckdb.DuckDBPyConnection | None = None
    ) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over the version's files, to query with SQL."""
        from dockyard.data import read

        return read.to_duckdb(self._read(), connection)

    def iter_batches(
        self,
        columns: Sequence[str] | None = None,
        filter: str | None = None,
        batch_size: int = 65_536,
    ) -> Iterator[pa.RecordBatch]:
        """Arrow record batches, for data larger than memory."""
        from dockyard.data import read

        return read.iter_batches(
            self._read(), columns=columns, filter=filter, batch_size=batch_size
        )

    def __repr__(self) -> str:
        return f"<DatasetVersion {self.ref} rows={self.rows} status={self.info.status}>"

    def _repr_html_(self) -> str:
        return self.info._repr_html_()


class DatasetHandle:
    """A dataset by name; nothing is fetched until you ask."""

    def __init__(self, client: Client, project: str, name: str) -> None:
        self._client = client
        self.project = project
        self.name = name

    def info(self) -> Dataset:
        return self._client.datasets.get(self.project, self.name)

    def add_version(
        self,
        source: Any,
        *,
        message: str = "",
        append: bool = False,
        parent: int | None = None,
        format: str | None = None,
        schema: Mapping[str, str] | None = None,
        storage_options: dict[str, Any] | None = None,
        force: bool = False,
        progress: Progress | None = None,
    ) -> DatasetVersion:
        """Add a version from a DataFrame (pandas, Polars, Arrow) or files (a path, glob or
        URL of CSV, JSON lines, Parquet or Arrow).

        With ``append=True`` the new data is added to the latest version (or ``parent``),
        sharing its files. The same content twice makes no new version. A version that
        fails the dataset's rules is kept but `latest` skips it unless ``force``.
        """
        ensure_project(self._client, self.project)
        info = self._client.datasets.ingest(
            self.project,
            self.name,
            source,
            message=message,
            mode="append" if append else "replace",
            parent=parent,
            format=format,
            schema=schema,
            storage_options=storage_options,
            run_id=_active_run_id(),
            force=force,
            progress=progress,
        )
        return DatasetVersion(self._client, info)

    def version(self, ref: str | int = "latest") -> DatasetVersion:
        """A version by number, ``"latest"`` or ``"sha256:<prefix>"``."""
        return DatasetVersion(
            self._client, self._client.datasets.version(self.project, self.name, ref)
        )

    def versions(self) -> list[Version]:
        """Every version, newest first (without files and statistics)."""
        found: list[Version] = []
        cursor = None
        while True:
            page = self._client.datasets.versions(
                self.project, self.name, limit=1000, cursor=cursor
            )
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def set_rules(self, rules: Sequence[Rule | Mapping[str, Any]]) -> Dataset:
        """Replace the rules every new version is validated against."""
        ensure_project(self._client, self.project)
        return self._client.datasets.set_rules(self.project, self.name, rules)

    def validate(self, ref: str | int = "latest") -> ValidationReport | None:
        """Check a version against the current rules (None when there are none)."""
        return self._client.datasets.validate(self.project, self.name, ref).validation

    def diff(
        self, base: str | int, target: str | int = "latest", *, key: Sequence[str] = ()
    ) -> DatasetDiff:
        return self._client.datasets.diff(self.project, self.name, base, target, key=key)

    def lineage(
        self,
        ref: str | int = "latest",
        *,
        direction: Literal["upstream", "downstream", "both"] = "both",
        depth: int = 3,
    ) -> Lineage:
        return self._client.datasets.lineage(
            self.project, self.name, ref, direction=direction, depth=depth
        )

    def delete_version(self, ref: str | int) -> None:
        self._client.datasets.delete_version(self.project, self.name, ref)

    def delete(self) -> None:
        self._client.datasets.delete(self.project, self.name)

    def __repr__(self) -> str:
        return f"<Dataset {self.project}/{self.name}>"


def dataset(name: str, *, project: str, client: Client | None = None) -> DatasetHandle:
    """The dataset ``name`` of ``project`` (created by its first version).

    ``client`` defaults to the active run's client, else :func:`dockyard.connect()`.
    """
    if client is None:
        stack = _ACTIVE.get()
        client = stack[-1].client if stack else connect()
    return DatasetHandle(client, project, name)
