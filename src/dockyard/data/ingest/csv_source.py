"""CSV and TSV: types inferred from the first bytes, then streamed in small blocks; errors
name the column, the line and the fix."""

from __future__ import annotations

import io
import re
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest.conform import _conform, _target_schema
from dockyard.data.ingest.files import STREAM_BLOCK, _check_empty, _File, _head, _oneline, _Raw

if TYPE_CHECKING:
    import pyarrow as pa


def _csv_parse_options(file: _File) -> Any:
    import pyarrow.csv as pcsv

    return pcsv.ParseOptions(delimiter="\t" if file.format == "tsv" else ",")


def _csv_convert_options(column_types: Mapping[str, pa.DataType]) -> Any:
    import pyarrow.csv as pcsv

    return pcsv.ConvertOptions(column_types=dict(column_types), strings_can_be_null=True)


def _infer_csv(file: _File, types: Mapping[str, pa.DataType]) -> pa.Schema | None:
    """Column types inferred from the first HEAD_BYTES (all of it at once, so a column is
    typed by every value there), or None if the head cannot be cut cleanly (a quoted line
    break at the cut): then the stream infers from its first block."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    head, truncated = _head(file)
    if not head.strip():
        if truncated:
            return None
        raise InvalidInput(f"{file.name} is empty: it has no header row")
    try:
        table = pcsv.read_csv(
            io.BytesIO(head),
            read_options=pcsv.ReadOptions(block_size=len(head) + 1, use_threads=False),
            parse_options=_csv_parse_options(file),
            convert_options=_csv_convert_options(types),
        )
    except pa.ArrowInvalid as exc:
        if truncated and not _CSV_CONVERSION.search(str(exc)):
            return None
        raise _csv_error(exc, file, _csv_names(file, head), types) from None
    return table.schema


def _open_csv(
    file: _File,
    column_types: Mapping[str, pa.DataType],
    types: Mapping[str, pa.DataType],
    later_file: bool,
) -> tuple[_Raw, Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    raw = _Raw(file)
    try:
        reader = pcsv.open_csv(
            raw.stream,
            read_options=pcsv.ReadOptions(block_size=STREAM_BLOCK, use_threads=False),
            parse_options=_csv_parse_options(file),
            convert_options=_csv_convert_options(column_types),
        )
    except pa.ArrowInvalid as exc:
        raw.close()
        raise _csv_error(exc, file, _csv_names(file), types, later_file) from None
    except BaseException:
        raw.close()
        raise
    return raw, reader


def _csv_names(file: _File, head: bytes | None = None) -> list[str] | None:
    """The column names of a CSV's header, for messages."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if head is None:
        head = _head(file, 1 << 20)[0]
    try:
        reader = pcsv.open_csv(io.BytesIO(head), parse_options=_csv_parse_options(file))
    except pa.ArrowInvalid:
        return None
    names: list[str] = reader.schema.names
    return names


def _read_csv(
    file: _File, types: dict[str, pa.DataType], first: pa.Schema | None
) -> tuple[pa.Schema, Generator[tuple[pa.RecordBatch, int], None, None]]:
    """CSV streamed in small blocks (see STREAM_BLOCK). Types are those
    of the first file's first HEAD_BYTES (a column empty there is string), or the schema's,
    imposed on every block and file after."""
    import pyarrow as pa

    _check_empty(file)
    column_types: dict[str, pa.DataType] = dict(types)
    if first is not None:
        column_types = {f.name: f.type for f in first}
    else:
        inferred = _infer_csv(file, types)
        if inferred is not None:
            column_types = {
                f.name: t
                for f, t in zip(
                    inferred, _target_schema(inferred, types, file.name).types, strict=True
                )
            }
    raw, reader = _open_csv(file, column_types, types, first is not None)
    target = _target_schema(reader.schema, types, file.name)
    retype = {
        f.name: target.field(f.name).type
        for f in reader.schema
        if f.type != target.field(f.name).type and f.name not in column_types
    }
    if retype:  # a column empty in the first block: read it as string
        raw.close()
        column_types.update(retype)
        raw, reader = _open_csv(file, column_types, types, first is not None)
    names = reader.schema.names

    def batches() -> Generator[tuple[pa.RecordBatch, int], None, None]:
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as exc:
                    raise _csv_error(exc, file, names, types, first is not None) from None
                yield _conform(batch, target, types, file.name), raw.position()
        finally:
            raw.close()

    return target, batches()


_CSV_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to ([^:]+): invalid value '(.*)'",
    re.S,
)
_CSV_FIELDS = re.compile(
    r"CSV parse error: (?:Row #(\d+): )?Expected (\d+) columns, got (\d+): (.*)", re.S
)


def _csv_error(
    exc: Exception,
    file: _File,
    names: list[str] | None,
    types: Mapping[str, pa.DataType],
    later_file: bool = False,
) -> InvalidInput:
    text = str(exc).strip()
    if "Empty CSV file" in text:
        return InvalidInput(f"{file.name} is empty: it has no header row")
    match = _CSV_CONVERSION.search(text)
    if match:
        index, row, kind, value = match.groups()
        name = names[int(index)] if names is not None else f"#{int(index) + 1}"
        at = f"line {row} of {file.name}" if row else file.name
        if name in types:
            fix = f"change schema[{name!r}] or fix the file"
            origin = "the type the schema gives"
        else:
            fix = f"pass schema={{{name!r}: 'string'}} (or another type that fits) or fix the file"
            origin = (
                "the type of the first file"
                if later_file
                else "the type inferred from the first rows"
            )
        return InvalidInput(
            f"column {name!r}: {value[:100]!r} at {at} is not {kind} ({origin}); {fix}"
        )
    match = _CSV_FIELDS.search(text)
    if match:
        row, expected, got, line = match.groups()
        at = f"line {row} of {file.name}" if row else file.name
        return InvalidInput(
            f"{at} has {got} fields but the header has {expected}: {line.strip()[:120]!r}; "
            "fix the row (quote values that hold the delimiter)"
        )
    return InvalidInput(f"{file.name} is not valid CSV: {_oneline(exc)}")
