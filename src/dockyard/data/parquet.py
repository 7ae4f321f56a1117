"""What a version's Parquet files say about themselves: rows and schema from their footers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.core.errors import InvalidInput
from dockyard.data.schemas import Column, VersionFile

if TYPE_CHECKING:
    import pyarrow as pa


def columns_of(schema: pa.Schema) -> list[Column]:
    """The columns of an Arrow schema, with their Arrow type names."""
    return [Column(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]


def read_footers(
    paths: Sequence[Path], digests: Sequence[str]
) -> tuple[list[VersionFile], list[Column]]:
    """Each file's row count and size, and the schema they all share.

    Files that are not Parquet, or whose schemas differ, are refused with the digest of the
    first one at fault.
    """
    import pyarrow.parquet as pq

    files: list[VersionFile] = []
    columns: list[Column] | None = None
    for path, digest in zip(paths, digests, strict=True):
        try:
            metadata = pq.read_metadata(path)
            schema = metadata.schema.to_arrow_schema()
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...
            raise InvalidInput(
                f"file sha256:{digest} is not a readable Parquet file ({exc}); "
                "a version is made of Parquet files"
            ) from None
        these = columns_of(schema)
        if columns is None:
            columns = these
        elif these != columns:
            raise InvalidInput(
                f"file sha256:{digest} does not have the schema of the first file: "
                + describe_schema_change(columns, these)
            )
        files.append(VersionFile(digest=digest, size=path.stat().st_size, rows=metadata.num_rows))
    return files, columns or []


def describe_schema_change(before: list[Column], after: list[Column]) -> str:
    """'column amount is float64 there and string here; column x is missing'..."""
    old = {c.name: c for c in before}
    new = {c.name: c for c in after}
    parts = [f"column {n!r} is missing" for n in old if n not in new]
    parts += [f"column {n!r} is new" for n in new if n not in old]
    parts += [
        f"column {n!r} is {old[n].type} there and {new[n].type} here"
        for n in old
        if n in new and old[n].type != new[n].type
    ]
    if not parts and [c.name for c in before] != [c.name for c in after]:
        parts.append("the columns are in another order")
    if not parts:
        parts.append("nullability differs")
    return "; ".join(parts)
