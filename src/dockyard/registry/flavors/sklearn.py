"""scikit-learn estimators and pipelines, stored with skops (no pickle).

skops refuses, at load, every type outside its default-trusted set unless listed. The
list we give it is fixed here (:data:`SAFE_TYPES`: scikit-learn's and numpy's internal
types that hold data, never a function or a class of another package) and never read from
the model's manifest, which whoever logged the model wrote. A model holding any other
type is refused at save (with advice) and at load. With ``trusted=True`` at save the
estimator is written with joblib (pickle) instead, and the manifest says ``needs_trust``:
loading it runs arbitrary code, so it loads only with ``trusted=True``.
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
_DISTANCES = (
    "BrayCurtis",
    "Canberra",
    "Chebyshev",
    "Dice",
    "Euclidean",
    "Hamming",
    "Haversine",
    "Jaccard",
    "Kulsinski",
    "Mahalanobis",
    "Manhattan",
    "Matching",
    "Minkowski",
    "RogersTanimoto",
    "RussellRao",
    "SEuclidean",
    "SokalMichener",
    "SokalSneath",
)
SAFE_TYPES: frozenset[str] = frozenset(
    (
        "numpy.dtype",
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._kd_tree.KDTree64",
        "sklearn.neighbors._kd_tree.KDTree32",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._ball_tree.BallTree64",
        "sklearn.neighbors._ball_tree.BallTree32",
        *(f"sklearn.metrics._dist_metrics.{d}Distance{b}" for d in _DISTANCES for b in (32, 64)),
    )
)
"""Types skops does not trust by default that a scikit-learn model may hold and that load
as data: trees, neighbour indexes, distance metrics (not PyFuncDistance, which calls a
Python function), numpy dtypes. Beside skops's own defaults, nothing else loads."""


def _refused_types(found: list[str]) -> list[str]:
    return sorted(set(found) - SAFE_TYPES)


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
        refused = _refused_types(sio.get_untrusted_types(file=path))
        if refused:
            raise InvalidInput(
                f"this {type(obj).__qualname__} holds types skops does not load safely: "
                f"{', '.join(refused)}. Pass trusted=True to store it with joblib (pickle); "
                "loading it then also needs trusted=True"
            )
        return SavedFlavor(
            options={"format": "skops", "file": SKOPS_FILE},
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
        found = sio.get_untrusted_types(file=path)
        refused = _refused_types(found)
        if refused:
            raise Forbidden(
                f"{SKOPS_FILE} holds types that could run code when loaded: "
                f"{', '.join(refused)}; refusing to load it (dockyard loads skops files "
                "holding scikit-learn's own types only)"
            )
        return SklearnPredictor(sio.load(path, trusted=sorted(found)))
