"""Step values on disk: what a step returns is written as files in a safe format, and read
back for the steps that take it.

Tables (pandas, Polars, Arrow) become Parquet; JSON values JSON; numpy arrays ``.npy``
(without pickle); models of a known flavor a model folder. Anything else is refused
unless the step allows pickle. A model comes back as a loaded model (``predict`` and
``predict_proba`` whatever the flavor, ``.native`` for the framework's own object). A value
is identified by the sha256 of its main file (for a model, of its manifest), which is what
downstream cache keys use.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dockyard.blobs.hashing import file_sha256
from dockyard.core.errors import InvalidInput
from dockyard.core.schemas import Model

Kind = Literal["json", "pandas", "series", "arrow", "polars", "numpy", "model", "pickle"]
INLINE_LIMIT = 16 * 1024
_FILES = {
    "json": "value.json",
    "pandas": "value.parquet",
    "series": "value.parquet",
    "arrow": "value.parquet",
    "polars": "value.parquet",
    "numpy": "value.npy",
    "pickle": "value.pickle",
}


class ValueFile(Model):
    path: str
    digest: str
    size: int


class ValueRef(Model):
    """A stored step value: its kind and files (paths relative to its folder)."""

    kind: Kind
    digest: str = Field(description="sha256 of the main file (a model: of its manifest)")
    files: list[ValueFile] = Field(default_factory=list)
    inline: str | None = Field(
        default=None, description="a small JSON value, kept in the record instead of a file"
    )
    summary: str = Field(default="", description="a short description for people")


def _is_json(value: Any, depth: int = 0) -> bool:
    if depth > 64:
        return False
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_json(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth + 1) for k, v in value.items())
    return False


def _module_of(value: Any) -> str:
    return type(value).__module__.split(".")[0]


def _write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path, compression="zstd", write_statistics=True)


def _summary(kind: str, value: Any) -> str:
    shape = getattr(value, "shape", None)
    if kind == "json":
        text = json.dumps(value, allow_nan=True, default=str)
        return text if len(text) <= 120 else text[:117] + "..."
    if shape is not None:
        return f"{type(value).__name__} {tuple(shape)}"
    return type(value).__name__


def dump(value: Any, folder: Path, *, allow_pickle: bool = False, where: str = "step") -> ValueRef:
    """Write ``value`` into the new folder ``folder`` and describe it (a small JSON value
    is kept inline, with no file)."""
    kind = kind_of(value, allow_pickle=allow_pickle, where=where)
    if kind == "json":
        data = json.dumps(_plain(value), allow_nan=True, sort_keys=True, separators=(",", ":"))
        if len(data) <= INLINE_LIMIT:
            digest = hashlib.sha256(data.encode()).hexdigest()
            return ValueRef(kind="json", digest=digest, inline=data, summary=_summary(kind, value))
    folder.mkdir(parents=True, exist_ok=False)
    if kind == "model":
        from dockyard.registry.manifest import MANIFEST_NAME
        from dockyard.registry.packaging import save_model

        folder.rmdir()
        manifest = save_model(value, folder)
        files = [ValueFile(path=f.path, digest=f.digest, size=f.size) for f in manifest.files]
        main = folder / MANIFEST_NAME
        files.insert(
            0, ValueFile(path=MANIFEST_NAME, digest=file_sha256(main), size=main.stat().st_size)
        )
        return ValueRef(kind="model", digest=files[0].digest, files=files, summary=manifest.flavor)
    path = folder / _FILES[kind]
    if kind == "json":
        path.write_text(data, encoding="utf-8")
    elif kind == "pandas":
        import pyarrow as pa

        _write_parquet(pa.Table.from_pandas(value), path)
    elif kind == "series":
        import pyarrow as pa

        _write_parquet(pa.Table.from_pandas(value.to_frame()), path)
    elif kind == "arrow":
        _write_parquet(value, path)
    elif kind == "polars":
        _write_parquet(value.to_arrow(), path)
    elif kind == "numpy":
        import numpy as np

        np.save(path, value, allow_pickle=False)
    else:
        import cloudpickle

        path.write_bytes(cloudpickle.dumps(value))
    digest = file_sha256(path)
    return ValueRef(
        kind=kind,
        digest=digest,
        files=[ValueFile(path=path.name, digest=digest, size=path.stat().st_size)],
        summary=_summary(kind, value),
    )


def _plain(value: Any) -> Any:
    """Tuples become lists, as JSON has only lists."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def kind_of(value: Any, *, allow_pickle: bool = False, where: str = "step") -> Kind:
    """How ``value`` is stored; InvalidInput when it cannot be stored safely."""
    if _is_json(value):
        return "json"
    module = _module_of(value)
    name = type(value).__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "pandas" and name == "Series":
        return "series"
    if module == "pyarrow" and name == "Table":
        return "arrow"
    if module == "polars" and name == "DataFrame":
        return "polars"
    if module == "numpy" and name == "ndarray":
        if value.dtype.hasobject:
            if allow_pickle:
                return "pickle"
            raise InvalidInput(
                f"{where} returned a numpy array of Python objects, which is not stored "
                "without pickle: use a numeric dtype, or @dy.step(pickle=True)"
            )
        return "numpy"
    from dockyard.registry.packaging import detect_flavor

    try:
        detect_flavor(value)
        return "model"
    except InvalidInput:
        pass
    if allow_pickle:
        return "pickle"
    raise InvalidInput(
        f"{where} returned a {module}.{name}, which dockyard does not store without pickle: "
        "return a DataFrame, an Arrow table, a numpy array, a JSON value or a model, or "
        "declare @dy.step(pickle=True) to allow pickling it"
    )


def load(ref: ValueRef, folder: Path) -> Any:
    """Read a value written by :func:`dump` from its folder."""
    return load_files(ref, {f.path: folder / f.path for f in ref.files})


def load_files(ref: ValueRef, files: dict[str, Path]) -> Any:
    """Read a value from its files, given where each one is on local disk (a model's files
    must sit in their folder layout)."""
    if ref.inline is not None:
        return json.loads(ref.inline)
    if ref.kind == "model":
        from dockyard.registry.packaging import load_folder

        return load_folder(files[ref.files[0].path].parent)
    path = files[ref.files[0].path]
    if ref.kind == "json":
        return json.loads(path.read_text(encoding="utf-8"))
    if ref.kind in ("pandas", "series", "arrow", "polars"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if ref.kind == "arrow":
            return table
        if ref.kind == "polars":
            import polars as pl

            return pl.from_arrow(table)
        frame = table.to_pandas()
        return frame.iloc[:, 0] if ref.kind == "series" else frame
    if ref.kind == "numpy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    import cloudpickle

    return cloudpickle.loads(path.read_bytes())
