"""scikit-learn estimators and pipelines, stored with skops (no pickle).

skops refuses, at load, every type outside its default-trusted set unless listed. The
types it reports untrusted at save time are stored in ``flavor_options["trusted_types"]``;
at load the file's untrusted types must all be in that list, else loading is refused. With
``trusted=True`` at save the estimator is written with joblib (pickle) instead, and the
manifest says ``needs_trust``: loading it runs arbitrary code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import Forbidden, InvalidInput
from dockyard.registry.flavors.base import SavedFlavor, SaveRequest, mro_modules, no_proba

if TYPE_CHECKING:
    import pandas as pd

    from dockyard.registry.manifest import ModelManifest

SKOPS_FILE = "model.skops"
JOBLIB_FILE = "model.joblib"


@dataclass
class SklearnPredictor:
    """A loaded scikit-learn estimator."""

    estimator: Any

    @property
    def native(self) -> Any:
        return self.estimator

    def predict(self, data: pd.DataFrame) -> Any:
        return self.estimator.predict(data)

    def predict_proba(self, data: pd.DataFrame) -> Any:
        if not hasattr(self.estimator, "predict_proba"):
            raise no_proba("scikit-learn")
        return self.estimator.predict_proba(data)


class SklearnFlavor:
    """scikit-learn estimators (classifiers, regressors, pipelines)."""

    name = "sklearn"
    framework = "scikit-learn"

    def matches(self, obj: Any) -> bool:
        if "sklearn" not in mro_modules(obj):
            return False
        from sklearn.base import BaseEstimator

        return isinstance(obj, BaseEstimator) and hasattr(obj, "predict")

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        proba = hasattr(obj, "predict_proba")
        if request.trusted:
            import joblib

            joblib.dump(obj, folder / JOBLIB_FILE)
            return SavedFlavor(
                options={"format": "joblib", "file": JOBLIB_FILE},
                modules=["sklearn", "joblib"],
                predict_proba=proba,
                needs_trust=True,
            )
        import skops.io as sio

        path = folder / SKOPS_FILE
        try:
            sio.dump(obj, path)
        except Exception as exc:
            raise InvalidInput(
                f"skops cannot store this {type(obj).__qualname__}: {exc}. Pass "
                "trusted=True to store it with joblib (pickle) instead"
            ) from exc
        trusted_types = sorted(sio.get_untrusted_types(file=path))
        return SavedFlavor(
            options={"format": "skops", "file": SKOPS_FILE, "trusted_types": trusted_types},
            modules=["sklearn", "skops"],
            predict_proba=proba,
        )

    def load(self, folder: Path, manifest: ModelManifest) -> SklearnPredictor:
        options = manifest.flavor_options
        fmt = options.get("format")
        if fmt == "joblib":
            if not manifest.needs_trust:
                raise Forbidden("a joblib (pickle) sklearn model must be marked needs_trust")
            import joblib

            return SklearnPredictor(joblib.load(folder / JOBLIB_FILE))
        if fmt != "skops":
            raise InvalidInput(f"unknown sklearn model format {fmt!r} in the manifest")
        import skops.io as sio

        path = folder / SKOPS_FILE
        allowed = [str(t) for t in options.get("trusted_types", [])]
        found = sio.get_untrusted_types(file=path)
        unexpected = sorted(set(found) - set(allowed))
        if unexpected:
            raise Forbidden(
                f"{SKOPS_FILE} holds types that were not in it when it was saved: "
                f"{', '.join(unexpected)}; refusing to load it"
            )
        return SklearnPredictor(sio.load(path, trusted=allowed))
