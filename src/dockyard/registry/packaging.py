"""Save a model object into a folder (its flavor's files, an input example, ``model.json``)
and load it back, verifying every file's size and sha256 before anything is deserialized.

A model folder holds ``model.json`` (:class:`ModelManifest`) and the files it lists; a file
that is missing, changed or not listed refuses the load with :class:`DigestMismatch`.
"""

from __future__ import annotations

import datetime as dt
import platform
import shutil
from importlib.metadata import PackageNotFoundError, packages_distributions, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from dockyard.blobs.hashing import file_sha256
from dockyard.core.errors import DigestMismatch, Forbidden, InvalidInput
from dockyard.core.paths import check_relative_path, confined
from dockyard.registry.flavors.base import (
    Flavor,
    Predictor,
    SavedFlavor,
    SaveRequest,
    detect,
    flavor_named,
)
from dockyard.registry.manifest import (
    MANIFEST_NAME,
    FeatureLookup,
    ModelFile,
    ModelManifest,
    Signature,
)
from dockyard.registry.signature import enforce, infer_signature, numeric_matrix, to_frame
from dockyard.registry.uris import RunRef

__all__ = [
    "LoadedModel",
    "detect_flavor",
    "load_folder",
    "read_manifest",
    "runs_stored_code",
    "save_model",
    "verify_files",
]

EXAMPLE_PARQUET = "input_example.parquet"
EXAMPLE_NPY = "input_example.npy"


def detect_flavor(obj: Any) -> str:
    """The name of the flavor that saves ``obj``; InvalidInput when none knows it."""
    return detect(obj).name


def save_model(
    obj: Any,
    folder: Path,
    *,
    flavor: str | None = None,
    input_example: Any = None,
    signature: Signature | None = None,
    requirements: list[str] | None = None,
    trusted: bool = False,
    code_paths: list[Path] | None = None,
    artifacts: dict[str, Path] | None = None,
    features: FeatureLookup | None = None,
) -> ModelManifest:
    """Write ``obj`` into ``folder`` (new or empty) and return its manifest.

    ``flavor`` is detected from the object when None. ``input_example`` (a DataFrame, dict
    of lists, list of dicts, Arrow/polars table, or a numpy array whose columns are named
    "0", "1", ...) is stored beside the model and gives the signature when ``signature`` is
    None; the output part of the signature comes from the saved model's prediction on it,
    which also checks that the model loads back. ``requirements`` are added to the pinned
    versions of the libraries the flavor needs. ``trusted`` lets the sklearn flavor store
    pickle (the manifest then says ``needs_trust``). ``code_paths`` and ``artifacts`` are
    for the pyfunc flavor. ``features`` names the feature-store features the model takes,
    which a model server looks up for it.
    """
    chosen: Flavor
    if isinstance(obj, LoadedModel):  # saved again as it is, e.g. a pipeline step's output
        chosen = _Resaved(obj)
        features = features or obj.manifest.features
    else:
        chosen = flavor_named(flavor) if flavor is not None else detect(obj)
    if flavor is not None and not chosen.matches(obj):
        raise InvalidInput(
            f"the {chosen.name} flavor does not take a {type(obj).__module__}."
            f"{type(obj).__qualname__}; detected flavor: {_detected_name(obj)}"
        )
    folder = Path(folder)
    created = not folder.exists()
    if not created and (not folder.is_dir() or any(folder.iterdir())):
        raise InvalidInput(f"{folder} must be a new or empty folder to save a model into")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return _save(
            chosen,
            obj,
            folder,
            input_example=input_example,
            signature=signature,
            requirements=requirements or [],
            request_extras={"code_paths": code_paths or [], "artifacts": artifacts or {}},
            trusted=trusted,
            features=features,
        )
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            for child in folder.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


class _Resaved:
    """A loaded model saved again: its files copied as they are (no framework round trip,
    so nothing is lost), under its own flavor."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.name = loaded.manifest.flavor
        self.framework = loaded.manifest.framework
        self._flavor = flavor_named(self.name)

    def matches(self, obj: Any) -> bool:
        return obj is self.loaded

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        old = self.loaded.manifest
        for f in old.files:
            if f.path == old.input_example:
                continue
            target = folder / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.loaded.folder / f.path, target)
        pinned = [r.split("==")[0] for r in old.requirements if "==" in r]
        return SavedFlavor(
            options=dict(old.flavor_options),
            modules=[_module_of(d) for d in pinned],
            predict_proba=old.predict_proba,
            needs_trust=old.needs_trust,
        )

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        return self._flavor.load(folder, manifest)


def _module_of(distribution: str) -> str:
    """The import name of a distribution (scikit-learn -> sklearn), or the name itself."""
    for module, dists in packages_distributions().items():
        if distribution in dists:
            return module
    return distribution.replace("-", "_")


def _detected_name(obj: Any) -> str:
    try:
        return detect_flavor(obj)
    except InvalidInput:
        return "none"


def _save(
    flavor: Flavor,
    obj: Any,
    folder: Path,
    *,
    input_example: Any,
    signature: Signature | None,
    requirements: list[str],
    request_extras: dict[str, Any],
    trusted: bool,
    features: FeatureLookup | None = None,
) -> ModelManifest:
    example = _example_frame(input_example)
    request = SaveRequest(trusted=trusted, input_example=example, **request_extras)
    saved = flavor.save(obj, folder, request)
    example_file = _write_example(input_example, example, folder)
    pins = _pinned(saved.modules)
    framework_pin = pins[0] if pins else ""
    manifest = ModelManifest(
        flavor=flavor.name,
        framework=framework_pin.split("==")[0] or flavor.framework,
        framework_version=framework_pin.split("==")[1] if "==" in framework_pin else "",
        python_version=platform.python_version(),
        requirements=_merge_requirements(pins, requirements),
        signature=signature,
        input_example=example_file,
        predict_proba=saved.predict_proba,
        needs_trust=saved.needs_trust,
        flavor_options=saved.options,
        created_at=dt.datetime.now(dt.UTC),
        features=features,
    )
    if example is not None and (signature is None or not signature.outputs):
        # load what was written and predict on the example: the output signature, and a
        # check that the saved model loads and runs
        predictor = flavor.load(folder, manifest)
        inputs = signature or infer_signature(example)
        output = _as_output(predictor.predict(enforce(inputs, example)))
        manifest.signature = infer_signature(example, output)
        if signature is not None:
            manifest.signature = Signature(
                inputs=signature.inputs, outputs=manifest.signature.outputs
            )
    manifest.files = _list_files(folder)
    (folder / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n")
    return manifest


def _example_frame(example: Any) -> pd.DataFrame | None:
    if example is None:
        return None
    if isinstance(example, np.ndarray):
        array = example.reshape(1, -1) if example.ndim == 1 else example
        if array.ndim != 2:
            raise InvalidInput(f"an array input example must be 1-D or 2-D, not {array.ndim}-D")
        return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
    return to_frame(example).copy()


def _write_example(example: Any, frame: pd.DataFrame | None, folder: Path) -> str | None:
    if frame is None:
        return None
    if isinstance(example, np.ndarray):
        np.save(folder / EXAMPLE_NPY, example, allow_pickle=False)
        return EXAMPLE_NPY
    frame.to_parquet(folder / EXAMPLE_PARQUET, index=False)
    return EXAMPLE_PARQUET


def _pinned(modules: list[str]) -> list[str]:
    """``dist==version`` of the installed distributions that provide ``modules``."""
    providers = packages_distributions()
    pins: list[str] = []
    for module in modules:
        for dist in providers.get(module, []):
            try:
                pin = f"{dist}=={version(dist)}"
            except PackageNotFoundError:
                continue
            if pin not in pins:
                pins.append(pin)
    return pins


def _merge_requirements(pins: list[str], extra: list[str]) -> list[str]:
    def key(requirement: str) -> str:
        name = requirement.split(";")[0]
        for sep in "<>=!~[ @":
            name = name.split(sep)[0]
        return name.strip().lower().replace("_", "-")

    given = {key(r) for r in extra}
    return [p for p in pins if key(p) not in given] + list(extra)


def _folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if (p.is_file() or p.is_symlink()))


def _list_files(folder: Path) -> list[ModelFile]:
    files = []
    for path in _folder_files(folder):
        relative = path.relative_to(folder).as_posix()
        if relative == MANIFEST_NAME:
            continue
        if path.is_symlink():
            raise InvalidInput(f"{relative} is a symbolic link; a model folder holds files only")
        check_relative_path(relative, "model file")  # e.g. a backslash in a code path's names
        files.append(ModelFile(path=relative, digest=file_sha256(path), size=path.stat().st_size))
    return files


def read_manifest(folder: Path) -> ModelManifest:
    """The manifest of the model in ``folder``, not yet verified against its files."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise InvalidInput(f"{folder} holds no {MANIFEST_NAME}: not a saved model folder")
    try:
        return ModelManifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise InvalidInput(f"{path} is not a valid model manifest: {exc}") from exc


def verify_files(folder: Path, manifest: ModelManifest) -> None:
    """DigestMismatch unless the folder holds exactly the listed files, each of its size
    and sha256."""
    root = Path(folder).resolve()
    listed = set()
    for entry in manifest.files:
        path = (root / entry.path).resolve()
        if not path.is_relative_to(root) or entry.path == MANIFEST_NAME:
            raise DigestMismatch(f"the manifest lists {entry.path!r}, outside the model files")
        listed.add(path)
        if not path.is_file():
            raise DigestMismatch(f"{entry.path} is listed in {MANIFEST_NAME} but missing")
        size = path.stat().st_size
        if size != entry.size:
            raise DigestMismatch(
                f"{entry.path} has {size} bytes, {MANIFEST_NAME} says {entry.size}: "
                "the file was changed"
            )
        if file_sha256(path) != entry.digest:
            raise DigestMismatch(
                f"{entry.path} does not match its sha256 in {MANIFEST_NAME}: the file was changed"
            )
    for path in _folder_files(root):
        if path.resolve() not in listed and path.relative_to(root).as_posix() != MANIFEST_NAME:
            raise DigestMismatch(
                f"{path.relative_to(root).as_posix()} is in the model folder but not listed "
                f"in {MANIFEST_NAME}; refusing to load"
            )


def runs_stored_code(manifest: ModelManifest) -> bool:
    """Whether loading the model runs code stored with it: pickle (the manifest says
    ``needs_trust``) or a flavor whose models are code (pyfunc), whatever the manifest says."""
    flavor = flavor_named(manifest.flavor)
    return manifest.needs_trust or bool(getattr(flavor, "runs_stored_code", False))


def load_folder(folder: Path, *, trusted: bool = False) -> LoadedModel:
    """Load the model saved in ``folder`` after verifying every file it lists.

    A model whose loading runs code stored with it (pickle, ``needs_trust``; a Python
    function model's module) loads only with ``trusted=True``.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    if runs_stored_code(manifest) and not trusted:
        how = (
            "its Python code"
            if manifest.flavor == "pyfunc"
            else f"pickle ({manifest.flavor} flavor, trusted=True at save)"
        )
        raise Forbidden(
            f"the model in {folder} was stored with {how}: loading it runs any code it "
            "holds. Pass trusted=True only for a model from a trusted source (you trust "
            "whoever logged it)"
        )
    flavor = flavor_named(manifest.flavor)
    return LoadedModel(folder, manifest, flavor.load(folder, manifest))


def _as_output(result: Any) -> Any:
    """A DataFrame stays a DataFrame; anything else becomes a numpy array, a single output
    column (n, 1) flattened to (n,)."""
    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, pd.Series):
        return result.to_numpy()
    array = np.asarray(result)
    if array.ndim == 2 and array.shape[1] == 1:
        return array.ravel()
    return array


class LoadedModel:
    """A model loaded from its folder.

    ``predict`` and ``predict_proba`` take a pandas DataFrame (or a dict of lists, a list
    of dicts, a pyarrow Table, a polars DataFrame, or a 2-D numpy array whose columns are
    taken in signature order), check it against the signature when there is one (see
    :func:`dockyard.registry.signature.enforce`) and return a numpy array: 1-D with one
    prediction per row, 2-D (rows x outputs) when the model gives several values per row,
    e.g. class probabilities. A pyfunc model returning a DataFrame returns it as it is.
    """

    def __init__(self, folder: Path, manifest: ModelManifest, predictor: Predictor) -> None:
        self.folder = folder
        self.manifest = manifest
        self._predictor = predictor
        self.origin: RunRef | None = None
        """Where the model is logged, when known: the run whose artifacts hold it (for a
        model a pipeline step returned, that step's run). ``dy.register_model`` registers
        it from there, so the version names the run that made it."""

    @property
    def flavor(self) -> str:
        """The flavor's name."""
        return self.manifest.flavor

    @property
    def signature(self) -> Signature | None:
        """The model's signature, None when it was saved without an example or signature."""
        return self.manifest.signature

    @property
    def native(self) -> Any:
        """The framework's own object."""
        return self._predictor.native

    def _frame(self, data: Any) -> pd.DataFrame:
        signature = self.manifest.signature
        if signature is None:
            return to_frame(data)
        return enforce(signature, data)

    def predict(self, data: Any) -> Any:
        """Predictions for the rows of ``data``."""
        return _as_output(self._predictor.predict(self._frame(data)))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities (rows x classes); InvalidInput when the model has none."""
        if not self.manifest.predict_proba:
            raise InvalidInput(
                f"this {self.flavor} model has no predict_proba (only classifiers that expose "
                "class probabilities do); use predict"
            )
        return _as_output(self._predictor.predict_proba(self._frame(data)))

    def predict_columns(self, columns: dict[str, list[Any]], *, proba: bool = False) -> Any:
        """``predict`` (or ``predict_proba``) of rows given column by column as plain Python
        values, checked against the signature. When every input is numeric and the flavor
        takes a matrix, the rows go to it as one float matrix without a DataFrame (the same
        answers, a fraction of the time for a few rows: a model server's fast path)."""
        signature = self.manifest.signature
        fast = getattr(self._predictor, "predict_proba_array" if proba else "predict_array", None)
        if fast is not None and signature is not None:
            matrix = numeric_matrix(signature, columns)
            if matrix is not None:
                if proba and not self.manifest.predict_proba:
                    return self.predict_proba(columns)  # raises the usual error
                return _as_output(fast(matrix))
        return self.predict_proba(columns) if proba else self.predict(columns)

    def input_example(self) -> pd.DataFrame | None:
        """The stored input example, None when the model was saved without one."""
        name = self.manifest.input_example
        if name is None:
            return None
        path = confined(self.folder, name, "input example")
        if name.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
            return _example_frame(array)
        return pd.read_parquet(path)

    def __repr__(self) -> str:
        manifest = self.manifest
        version_note = f" {manifest.framework_version}" if manifest.framework_version else ""
        inputs = (
            ", ".join(f"{c.name}: {c.type}" for c in manifest.signature.inputs)
            if manifest.signature
            else "no signature"
        )
        return (
            f"<LoadedModel {manifest.flavor} ({manifest.framework}{version_note}) "
            f"from {self.folder}; inputs {inputs}>"
        )
