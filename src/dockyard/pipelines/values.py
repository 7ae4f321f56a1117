"""Step values on disk: what a step returns is written as files in a safe format, and read
back for the steps that take it.

Tables (pandas, Polars, Arrow) become Parquet; JSON values JSON; numpy arrays ``.npy``
(without pickle); models of a known flavor a model folder. Anything else is refused
unless the step allows pickle. A model comes back as a loaded model (``predict`` and
``predict_proba`` whatever the flavor, ``.native`` for the framework's own object). A value
is identified by the sha256 of its main file (for a model, of its manifest), which is what
downstream cache keys use.

A :class:`ValueRef` comes back from the store (a step record, a cache entry anyone with
access can write), so it is checked where it is accepted (a closed set of kinds, digests,
relative file paths, the file layout of its kind) and where it is read: a ``pickle`` value
is unpickled, and a model value's code runs, only when the reader says the step that made
it allows it (``allow_pickle``, from that step's own ``@dy.step(pickle=True)``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from dockyard.blobs.hashing import file_sha256
from dockyard.core.errors import Forbidden, InvalidInput
from dockyard.core.paths import RelativePath, Sha256, confined
from dockyard.core.schemas import Model
from dockyard.registry.manifest import MANIFEST_NAME

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
    path: RelativePath
    digest: Sha256
    size: int = Field(ge=0)


class ValueRef(Model):
    """A stored step value: its kind and files (paths relative to its folder)."""

    kind: Kind
    digest: Sha256 = Field(description="sha256 of the main file (a model: of its manifest)")
    files: list[ValueFile] = Field(default_factory=list, max_length=100_000)
    inline: str | None = Field(
        default=None, description="a small JSON value, kept in the record instead of a file"
    )
    summary: str = Field(default="", max_length=1000, description="a short description")

    @model_validator(mode="after")
    def _layout(self) -> ValueRef:
        """The files a value of its kind is written as, the digest being the main file's."""
        if self.inline is not None:
            if self.kind != "json" or self.files:
                raise ValueError("only a json value is kept inline, and then with no files")
            if len(self.inline) > INLINE_LIMIT:
                raise ValueError(f"an inline value holds at most {INLINE_LIMIT} characters")
            if hashlib.sha256(self.inline.encode()).hexdigest() != self.digest:
                raise ValueError("digest is not the sha256 of the inline value")
            return self
        main = MANIFEST_NAME if self.kind == "model" else _FILES[self.kind]
        if not self.files or self.files[0].path != main:
            raise ValueError(f"a {self.kind} value's first file must be {main!r}")
        if self.kind != "model" and len(self.files) != 1:
            raise ValueError(f"a {self.kind} value has exactly one file, {main!r}")
        if self.files[0].digest != self.digest:
            raise ValueError(f"digest is not the sha256 of {main}")
        if len({f.path for f in self.files}) != len(self.files):
            raise ValueError("a value lists a file twice")
        return self


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
        from dockyard.registry.packaging import runs_stored_code, save_model

        folder.rmdir()
        try:
            manifest = save_model(value, folder)
        except InvalidInput:
            if not allow_pickle:  # e.g. a scikit-learn model skops does not load safely
                raise
            manifest = save_model(value, folder, trusted=True)
        if runs_stored_code(manifest) and not allow_pickle:
            raise InvalidInput(
                f"{where} returned a {manifest.flavor} model whose loading runs its stored "
                "code; declare @dy.step(pickle=True) so the steps that take it may load it"
            )
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


def parse_refs(raw: bytes, where: str = "a fan-out's list of values") -> list[ValueRef]:
    """The value references of a fan-out's stored list; InvalidInput when one is not valid."""
    try:
        listed = json.loads(raw)
        if not isinstance(listed, list):
            raise ValueError("not a JSON list")
        return [ValueRef.model_validate(r) for r in listed]
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidInput(f"{where} is not valid: {exc}") from None


def load(ref: ValueRef, folder: Path, *, allow_pickle: bool = False) -> Any:
    """Read a value written by :func:`dump` from its folder."""
    files = {f.path: confined(folder, f.path, "value file") for f in ref.files}
    return load_files(ref, files, allow_pickle=allow_pickle)


def pickle_refused(ref: ValueRef, where: str) -> Forbidden:
    """The error for a value whose reading would run stored code the reader did not allow."""
    what = (
        "a pickled value (unpickling runs any code it holds)"
        if ref.kind == "pickle"
        else "a model whose loading runs code stored with it (pickle or Python code)"
    )
    return Forbidden(
        f"{where} is {what}, but the step that made it does not declare pickle=True: "
        "nothing was loaded. Such values are read only for steps declared "
        "@dy.step(pickle=True); a stored value of this kind for any other step was not "
        "written by that step"
    )


def load_files(
    ref: ValueRef, files: dict[str, Path], *, allow_pickle: bool = False, where: str = "the value"
) -> Any:
    """Read a value from its files, given where each one is on local disk (a model's files
    must sit in their folder layout).

    ``allow_pickle`` says the step that made the value declared ``pickle=True``: only then
    is a ``pickle`` value unpickled, or a model whose loading runs stored code (pickle, a
    Python function model) loaded; otherwise :class:`Forbidden`.
    """
    if ref.inline is not None:
        if ref.kind != "json":
            raise InvalidInput(f"{where}: only a json value is kept inline, not a {ref.kind}")
        return json.loads(ref.inline)
    if ref.kind == "model":
        from dockyard.registry.packaging import load_folder, read_manifest, runs_stored_code

        folder = files[ref.files[0].path].parent
        if not allow_pickle and runs_stored_code(read_manifest(folder)):
            raise pickle_refused(ref, where)
        return load_folder(folder, trusted=allow_pickle)
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
    if ref.kind == "pickle":
        if not allow_pickle:
            raise pickle_refused(ref, where)
        import cloudpickle

        return cloudpickle.loads(path.read_bytes())
    raise InvalidInput(f"{where} has the unknown kind {ref.kind!r}; it cannot be read")
