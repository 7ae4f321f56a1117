"""Reading the local Parquet files of a version: DuckDB pushes the projection and the filter
down to the files; results come back as Arrow, pandas or Polars, as a relation on the user's
DuckDB connection, or as a stream of record batches for data larger than memory.

This runs in the user's own process over files they already hold, so there is no sandbox;
a filter must still be one SQL expression (``amount > 100 AND country = 'FR'``).
Columns come back in the order asked, with the Arrow types the version records.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.duck import check_expression, first_line, quote

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

BATCH_ROWS = 65_536

PathLike = str | Path


def scan(
    paths: Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyRelation:
    """A DuckDB relation over ``paths`` (one table): the rows ``filter`` keeps, the
    ``columns`` asked (all by default), on ``con`` or a new in-memory connection."""
    import duckdb

    files = _files(paths)
    connection = con if con is not None else duckdb.connect()
    try:
        relation = connection.read_parquet(files)
        available = list(relation.columns)
        if filter is not None and filter.strip():
            check_expression(filter, "filter")
            try:
                relation = relation.filter(filter)
            except (duckdb.ProgrammingError, duckdb.DataError) as exc:
                raise InvalidInput(f"filter {filter[:200]!r}: {first_line(exc)}") from None
        if columns is not None:
            names = list(columns)
            if not names:
                raise InvalidInput("columns is empty: name at least one column, or pass None")
            for name in names:
                if name not in available:
                    raise InvalidInput(
                        f"no column {name!r} in these files; they have "
                        + ", ".join(repr(n) for n in available[:50])
                    )
            relation = relation.project(", ".join(quote(name) for name in names))
    except duckdb.IOException as exc:
        raise InvalidInput(f"cannot read the version's files: {first_line(exc)}") from None
    except BaseException:
        if con is None:
            connection.close()
        raise
    return relation


def to_duckdb(
    paths: Sequence[PathLike], con: duckdb.DuckDBPyConnection | None = None
) -> duckdb.DuckDBPyRelation:
    """All rows and columns as a relation on ``con`` (or a new connection), to query further
    with DuckDB: ``rel.filter(...)``, ``rel.aggregate(...)``, ``con.sql('... FROM rel')``."""
    return scan(paths, con=con)


def to_arrow(
    paths: Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,
) -> pa.Table:
    """The rows ``filter`` keeps and the ``columns`` asked, as one Arrow table."""
    import duckdb

    with _connection() as con:
        relation = scan(paths, columns=columns, filter=filter, con=con)
        try:
            table = relation.to_arrow_table()
        except (duckdb.ProgrammingError, duckdb.DataError) as exc:
            raise InvalidInput(_failed(filter, exc)) from None
        return _as_recorded(table, paths)


def to_pandas(
    paths: Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """The rows ``filter`` keeps and the ``columns`` asked, as a pandas DataFrame."""
    return to_arrow(paths, columns=columns, filter=filter).to_pandas()


def to_polars(
    paths: Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,
) -> Any:
    """The rows ``filter`` keeps and the ``columns`` asked, as a Polars DataFrame."""
    try:
        import polars
    except ImportError:
        raise InvalidInput("to_polars needs Polars: pip install 'dockyard[polars]'") from None
    return polars.from_arrow(to_arrow(paths, columns=columns, filter=filter))


def iter_batches(
    paths: Sequence[PathLike],
    *,
    columns: Sequence[str] | None = None,
    filter: str | None = None,
    batch_size: int = BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The rows ``filter`` keeps, streamed as record batches of at most ``batch_size`` rows,
    with bounded memory. Bad columns or filters raise here, before the first batch."""
    import duckdb

    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
    con = duckdb.connect()
    try:
        relation = scan(paths, columns=columns, filter=filter, con=con)
        reader = relation.to_arrow_reader(batch_size)
    except duckdb.Error as exc:
        con.close()
        raise InvalidInput(_failed(filter, exc)) from None
    except BaseException:
        con.close()
        raise
    return _stream(con, reader, paths, filter)


def _stream(
    con: duckdb.DuckDBPyConnection,
    reader: pa.RecordBatchReader,
    paths: Sequence[PathLike],
    filter: str | None,
) -> Generator[pa.RecordBatch, None, None]:
    import duckdb

    target: pa.Schema | None = None
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (duckdb.ProgrammingError, duckdb.DataError) as exc:
                raise InvalidInput(_failed(filter, exc)) from None
            if target is None:
                target = _recorded_schema(batch.schema, paths)
            yield _cast(batch, target)
    finally:
        with contextlib.suppress(Exception):
            reader.close()
        con.close()


@contextlib.contextmanager
def _connection() -> Iterator[duckdb.DuckDBPyConnection]:
    import duckdb

    con = duckdb.connect()
    try:
        yield con
    finally:
        con.close()


def _files(paths: Sequence[PathLike]) -> list[str]:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = [str(p) for p in paths]
    if not files:
        raise InvalidInput("no files to read")
    return files


def _failed(filter: str | None, exc: BaseException) -> str:
    if filter:
        return f"filter {filter[:200]!r} failed: {first_line(exc)}"
    return f"reading the version failed: {first_line(exc)}"


def _recorded_schema(got: pa.Schema, paths: Sequence[PathLike]) -> pa.Schema:
    """``got`` with the types the Parquet files record (DuckDB names list items, time
    zones and some types its own way)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = _files(paths)
    stored = pq.read_schema(files[0])
    fields = []
    for field in got:
        index = stored.get_field_index(field.name)
        fields.append(stored.field(index) if index >= 0 else field)
    return pa.schema(fields)


def _cast(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    import pyarrow as pa

    if batch.schema.equals(target, check_metadata=False):
        return batch
    arrays = []
    fields = []
    for field, column in zip(target, batch.columns, strict=True):
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                field = pa.field(field.name, column.type, field.nullable)
        arrays.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _as_recorded(table: pa.Table, paths: Sequence[PathLike]) -> pa.Table:
    import pyarrow as pa

    target = _recorded_schema(table.schema, paths)
    if table.schema.equals(target, check_metadata=False):
        return table
    batches = [_cast(b, target) for b in table.to_batches()]
    if not batches:
        empty = _cast(pa.RecordBatch.from_pylist([], schema=table.schema), target)
        return pa.Table.from_batches([], schema=empty.schema)
    return pa.Table.from_batches(batches)
