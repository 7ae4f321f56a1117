"""DuckDB over a version's Parquet files, in a sandbox.

Rules and diffs carry user-written SQL. Each connection can read only the files it was
opened for (and its own spill folder): other files, extensions and changes to the
configuration are switched off before any user SQL runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.core.errors import InvalidInput

if TYPE_CHECKING:
    import duckdb

MEMORY_LIMIT = "512MB"


def quote(name: str) -> str:
    """A SQL identifier for a column name, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def parquet_scan(paths: Sequence[Path]) -> str:
    """A table expression reading ``paths`` (as one table, by column name)."""
    if not paths:
        raise ValueError("a scan needs at least one file")
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{listed}], union_by_name = false)"


@contextmanager
def sandbox(
    paths: Sequence[Path],
    *,
    views: dict[str, Sequence[Path]] | None = None,
    temp_dir: Path | None = None,
    memory_limit: str = MEMORY_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with a view ``data`` over ``paths`` (and one view per entry of
    ``views``) that can read those files and nothing else: not their neighbours (other
    blobs), not other folders. Spills go to a private folder under ``temp_dir``."""
    import duckdb

    spill = None
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        spill = Path(tempfile.mkdtemp(prefix="duckdb-", dir=temp_dir))
    con = duckdb.connect(config={"threads": max(1, os.cpu_count() or 1)})
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        all_views = {"data": paths, **(views or {})}
        files = sorted({str(Path(p).resolve()) for v in all_views.values() for p in v})
        folders: list[str] = []
        if spill is not None:
            con.execute(f"SET temp_directory = '{_literal(str(spill))}'")
            folders.append(str(spill.resolve()) + os.sep)
        for name, members in all_views.items():
            if members:
                con.execute(f"CREATE VIEW {quote(name)} AS SELECT * FROM {parquet_scan(members)}")
        con.execute("SET allowed_paths = $files", {"files": files})
        con.execute("SET allowed_directories = $dirs", {"dirs": folders})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)


def _literal(text: str) -> str:
    return text.replace("'", "''")


def check_expression(expression: str, what: str = "expression") -> str:
    """Refuse anything but a single SQL expression (no ';', no second statement)."""
    import duckdb

    try:
        statements = duckdb.extract_statements(f"SELECT 1 FROM data WHERE ({expression})")
    except duckdb.Error as exc:
        raise InvalidInput(
            f"{what} {expression[:200]!r} is not valid SQL: {first_line(exc)}"
        ) from None
    if len(statements) != 1:
        raise InvalidInput(
            f"{what} {expression[:200]!r} must be one SQL expression, not statements"
        )
    return expression


def first_line(exc: BaseException) -> str:
    """DuckDB's message without its error class prefix and caret diagram."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for prefix in ("Binder Error: ", "Parser Error: ", "Conversion Error: ", "Catalog Error: "):
        text = text.removeprefix(prefix)
    return text
