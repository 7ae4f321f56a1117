"""One batch of batch inference: the model's predictions on a record batch, as the output's
columns.

The output holds the kept input columns as they were read (Arrow arrays, never through
pandas), then the predictions: ``prediction`` for one value per row, ``prediction_0``,
``prediction_1``... for several, or the columns of a DataFrame a Python function model
returns; with ``proba``, ``proba_<class>`` per class (the classes the model knows, else
``proba_0``, ``proba_1``...). A single ``prediction`` takes the type the model's signature
declares for it, so every batch and every share write the same schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dockyard.core.errors import InvalidInput

if TYPE_CHECKING:
    import pyarrow as pa

    from dockyard.registry.packaging import LoadedModel

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
_ARROW_TYPES = {
    "bool": "bool_",
    **{f"int{w}": f"int{w}" for w in (8, 16, 32, 64)},
    **{f"uint{w}": f"uint{w}" for w in (8, 16, 32, 64)},
    "float32": "float32",
    "float64": "float64",
    "string": "string",
    "binary": "binary",
}


@dataclass(frozen=True)
class OutputPlan:
    """What a batch job gives the model and writes: ``inputs`` (the input columns the model
    takes, in order), ``keep`` (input columns copied into the output, in order) and
    ``proba`` (add class probabilities)."""

    inputs: tuple[str, ...]
    keep: tuple[str, ...]
    proba: bool = False


def score(model: LoadedModel, batch: pa.RecordBatch, plan: OutputPlan) -> pa.RecordBatch:
    """The output rows of ``batch``: its kept columns, then the model's predictions."""
    import pyarrow as pa

    frame = batch.select(list(plan.inputs)).to_pandas()
    rows = batch.num_rows
    columns: dict[str, pa.Array] = {name: batch.column(name) for name in plan.keep}
    for name, values in prediction_columns(model, model.predict(frame), rows):
        _add(columns, name, values)
    if plan.proba:
        for name, values in proba_columns(model, model.predict_proba(frame), rows):
            _add(columns, name, values)
    return pa.RecordBatch.from_pydict(columns)


def _add(columns: dict[str, pa.Array], name: str, values: pa.Array) -> None:
    if name in columns:
        raise InvalidInput(
            f"the output would hold two columns {name!r}: an input column kept and the "
            "model's output; leave it out with keep=[...] (--keep)"
        )
    columns[name] = values


def prediction_columns(model: LoadedModel, output: Any, rows: int) -> list[tuple[str, pa.Array]]:
    """``(name, values)`` of the model's ``predict`` output on ``rows`` rows."""
    if isinstance(output, pd.DataFrame):
        _check_rows(len(output), rows, "predict")
        return [(str(name), _arrow(output[name])) for name in output.columns]
    array = np.asarray(output)
    _check_rows(array.shape[0] if array.ndim else 0, rows, "predict")
    if array.ndim == 1:
        return [(PREDICTION, _typed(_arrow(array), _declared_type(model)))]
    if array.ndim == 2:
        return [(f"{PREDICTION}_{i}", _arrow(array[:, i])) for i in range(array.shape[1])]
    raise InvalidInput(
        f"the model's predict returned a {array.ndim}-D array; batch inference writes one "
        "value or one row of values per input row"
    )


def proba_columns(model: LoadedModel, output: Any, rows: int) -> list[tuple[str, pa.Array]]:
    """``(proba_<class>, values)`` of the model's ``predict_proba`` output."""
    array = np.asarray(output)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    _check_rows(array.shape[0], rows, "predict_proba")
    labels = class_labels(model, array.shape[1])
    return [(f"{PROBA_PREFIX}{label}", _arrow(array[:, i])) for i, label in enumerate(labels)]


def class_labels(model: LoadedModel, count: int) -> list[str]:
    """The model's class labels as text (the flavor's record of them, else the estimator's
    ``classes_``), or ``0``..``count - 1`` when it keeps none that fit."""
    classes = model.manifest.flavor_options.get("classes")
    if classes is None:
        classes = getattr(model.native, "classes_", None)
    if classes is not None and len(classes) == count:
        return [str(c.item() if isinstance(c, np.generic) else c) for c in classes]
    return [str(i) for i in range(count)]


def _check_rows(got: int, rows: int, method: str) -> None:
    if got != rows:
        raise InvalidInput(f"the model's {method} returned {got} rows for a batch of {rows}")


def _arrow(values: Any) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"the model's output cannot be written as a column: {exc}") from None


def _declared_type(model: LoadedModel) -> str | None:
    """The logical type the signature declares for a single prediction, if it does."""
    signature = model.signature
    if signature is None or len(signature.outputs) != 1:
        return None
    return signature.outputs[0].type


def _typed(values: pa.Array, logical: str | None) -> pa.Array:
    import pyarrow as pa

    name = _ARROW_TYPES.get(logical or "")
    if name is None:
        return values
    wanted = getattr(pa, name)()
    if values.type == wanted:
        return values
    try:
        return values.cast(wanted)  # safe: refuses a cast that would change a value
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidInput(
            f"the model predicted {values.type} values where its signature declares {logical}"
        ) from None
