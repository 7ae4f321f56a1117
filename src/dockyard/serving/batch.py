"""Batch inference: the rows of a dataset version through a model, in Arrow record batches,
into the Parquet parts of a new version.

The work is cut in shares (:func:`plan_shares`): each file of the input version in
``ceil(rows / task_rows)`` shares of its row groups, decided from the row counts the version
records. The cut does not depend on the executor, so neither do the output files: the same
job gives the same version on every executor. A share (:func:`predict_share`) reads its row
groups ``batch_size`` rows at a time, predicts each batch and streams the results through the
dataset ingest's part writer, so memory holds a few batches and a row group, never the share
or the dataset.

What goes in and comes out is decided once, before any work (:func:`plan_output`): the
columns the model takes, the columns carried over, and whether class probabilities are
added; :mod:`dockyard.serving.batch_output` turns one batch's predictions into columns.

Nothing here touches a database, a blob store or a client: the caller hands over a local
Parquet file and a loaded model, and uploads what comes out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.core.errors import InvalidInput
from dockyard.data.ingest import IngestedFile, parse_type, to_parquet
from dockyard.data.schemas import Column, VersionFile
from dockyard.registry.manifest import Signature
from dockyard.registry.signature import enforce
from dockyard.serving.batch_output import PREDICTION, OutputPlan, score

if TYPE_CHECKING:
    import pyarrow as pa

    from dockyard.registry.packaging import LoadedModel

__all__ = [
    "BATCH_ROWS",
    "TASK_ROWS",
    "OutputPlan",
    "Share",
    "check_sizes",
    "plan_output",
    "plan_shares",
    "predict_share",
]

BATCH_ROWS = 65_536
"""Rows predicted at once by default."""
TASK_ROWS = 1 << 20
"""Rows of a share by default (about: a share is a run of whole row groups)."""
READ_BUFFER = 1 << 20
"""Bytes read at once per column of the input."""


@dataclass(frozen=True)
class Share:
    """Part ``part`` of ``parts`` of the row groups of the input's file number ``file``."""

    file: int
    digest: str
    part: int
    parts: int
    rows: int
    """The share's rows as planned (the file's rows over its parts); the work counts the
    rows it really read."""

    def row_groups(self, count: int) -> list[int]:
        """The share's row groups of a file that has ``count``: a contiguous run, possibly
        none when the file has fewer row groups than parts."""
        return list(range(self.part * count // self.parts, (self.part + 1) * count // self.parts))

    @property
    def label(self) -> str:
        return f"batch predictions, file {self.file + 1} part {self.part + 1} of {self.parts}"


def check_sizes(batch_size: object, task_rows: object) -> None:
    """Refuse a batch size or a share size that is not a whole number >= 1."""
    for name, value in (("batch_size", batch_size), ("task_rows", task_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"{name} must be a whole number of rows >= 1, not {value!r}")


def plan_shares(files: Sequence[VersionFile], task_rows: int = TASK_ROWS) -> list[Share]:
    """The shares of a version's files, in the files' order: every row in exactly one."""
    shares: list[Share] = []
    for index, f in enumerate(files):
        if f.rows == 0:
            continue
        parts = max(1, math.ceil(f.rows / task_rows))
        shares.extend(
            Share(index, f.digest, part, parts, f.rows // parts + (part < f.rows % parts))
            for part in range(parts)
        )
    return shares


def plan_output(
    signature: Signature | None,
    available: Sequence[Column],
    *,
    columns: Sequence[str] | None,
    keep: Sequence[str] | None,
    proba: bool,
    has_proba: bool,
    where: str,
) -> OutputPlan:
    """What the model takes and what the output holds, checked against the input's columns
    (``where`` names the input in messages) before any work starts.

    ``columns``: the input columns given to the model, in order (default: the signature's
    inputs; without a signature, every column). ``keep``: the input columns copied into the
    output beside the predictions (default: every column the model does not take: keys,
    timestamps, labels).
    """
    names = [c.name for c in available]
    if columns is not None:
        columns = _names_list(columns, "columns")
        if not columns:
            raise InvalidInput("columns is empty: name the input columns the model takes")
    inputs = list(columns or ([c.name for c in signature.inputs] if signature else names))
    missing = [name for name in inputs if name not in names]
    if missing:
        raise InvalidInput(
            f"{where} lacks the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} the model takes; it has {_shown(names)}",
            details={"missing": missing},
        )
    if signature is not None and columns is not None:
        declared = [c.name for c in signature.inputs]
        left_out = [n for n in declared if n not in inputs]
        extra = [n for n in inputs if n not in declared]
        if left_out or extra:
            raise InvalidInput(
                "columns must be the model's inputs: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(left_out)}" if left_out else "",
                        f"not inputs of the model: {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
                + f" (it takes {', '.join(declared)})"
            )
    if keep is None:
        kept = [name for name in names if name not in inputs]
    else:
        kept = _names_list(keep, "keep")
        unknown = [name for name in kept if name not in names]
        if unknown:
            raise InvalidInput(
                f"keep names {', '.join(unknown)}, not columns of {where}; it has {_shown(names)}"
            )
    if PREDICTION in kept:
        raise InvalidInput(
            f"{where} has a column {PREDICTION!r}, which the output's predictions take: "
            "leave it out with keep=[...] (--keep)"
        )
    if proba and not has_proba:
        raise InvalidInput(
            "proba=True needs a model with predict_proba (a classifier that gives class "
            "probabilities); this one has none"
        )
    if signature is not None:
        _check_types(signature, available, inputs)
    return OutputPlan(inputs=tuple(inputs), keep=tuple(kept), proba=proba)


def _names_list(value: Sequence[str], what: str) -> list[str]:
    if isinstance(value, str) or not all(isinstance(n, str) for n in value):
        raise InvalidInput(f"{what} must be a list of column names, not {value!r}")
    names = list(value)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"{what} names {', '.join(twice)} more than once")
    return names


def _shown(names: Sequence[str]) -> str:
    return ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")


def _check_types(signature: Signature, available: Sequence[Column], inputs: list[str]) -> None:
    """Refuse, before any work, input columns whose type the model cannot take: the
    signature is enforced on no rows of the input's schema (a type only known from values,
    such as whole floats for an int column, is checked on the batches)."""
    import pyarrow as pa

    types = {c.name: c.type for c in available}
    fields = []
    for name in inputs:
        try:
            fields.append(pa.field(name, parse_type(types[name], name)))
        except InvalidInput:
            return  # a type the ingest names otherwise: the batches will tell
    empty = pa.schema(fields).empty_table().to_pandas()
    enforce(signature, empty)


def predict_share(
    path: Path,
    share: Share,
    model: LoadedModel,
    plan: OutputPlan,
    *,
    batch_size: int,
    workdir: Path,
    threads: bool = True,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[IngestedFile]]:
    """Predict the rows of ``share`` (of the Parquet file at ``path``) and write the output as
    ``part-*.parquet`` files in ``workdir``: the rows read and the files written (none when
    the share holds no row group). ``progress`` is called with each batch's row count.
    ``threads``: let Arrow decode with its thread pool.

    Memory: the input is read through a buffer of :data:`READ_BUFFER` bytes per column, not
    a row group at a time (Arrow's default pre-buffering holds the row group's column chunks
    whole); a few batches wait between the model and the writer, which holds one output row
    group (at most 64 MiB) before it encodes it."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER) as source:
        groups = share.row_groups(source.num_row_groups)
        if not groups:
            return 0, []
        wanted = list(dict.fromkeys(plan.inputs + plan.keep))
        batches = source.iter_batches(
            batch_size=batch_size, row_groups=groups, columns=wanted, use_threads=threads
        )
        done = [0]
        scored = _scored(batches, model, plan, done, progress)
        first = next(scored, None)
        if first is None:
            return 0, []
        reader = _reader(first, scored)
        written = to_parquet(reader, workdir)
        return done[0], written.files


def _scored(
    batches: Iterator[pa.RecordBatch],
    model: LoadedModel,
    plan: OutputPlan,
    done: list[int],
    progress: Callable[[int], None] | None,
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        if batch.num_rows == 0:
            continue
        out = score(model, batch, plan)
        done[0] += batch.num_rows
        if progress is not None:
            progress(batch.num_rows)
        yield out


def _reader(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    """One reader of every scored batch, each in the first one's schema (a batch the model
    typed otherwise is refused by name, not written into a file of another schema)."""
    import pyarrow as pa

    schema = first.schema

    def same_schema() -> Iterator[pa.RecordBatch]:
        for batch in itertools.chain([first], rest):
            if not batch.schema.equals(schema):
                raise InvalidInput(
                    "the model's output changed type between batches: "
                    f"{_difference(schema, batch.schema)}; give the model a signature whose "
                    "outputs fix their types"
                )
            yield batch

    return pa.RecordBatchReader.from_batches(schema, same_schema())


def _difference(before: pa.Schema, after: pa.Schema) -> str:
    changes = [
        f"{field.name} was {field.type}, now {after.field(field.name).type}"
        for field in before
        if field.name in after.names and after.field(field.name).type != field.type
    ]
    return "; ".join(changes) or f"columns {before.names} became {after.names}"
