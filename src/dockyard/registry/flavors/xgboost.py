"""XGBoost models in XGBoost's own UBJSON format: a ``Booster`` or one of its scikit-learn
wrappers, reloaded as the same wrapper class so ``predict_proba`` and the class labels
work as before."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.registry.flavors.base import SavedFlavor, SaveRequest, mro_modules, no_proba

if TYPE_CHECKING:
    import pandas as pd

    from dockyard.registry.manifest import ModelManifest

MODEL_FILE = "model.ubj"
# The classes a manifest may name: never import a class name read from a file.
WRAPPERS = ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")


@dataclass
class XGBoostPredictor:
    """A loaded Booster or scikit-learn wrapper."""

    model: Any

    @property
    def native(self) -> Any:
        return self.model

    def predict(self, data: pd.DataFrame) -> Any:
        import xgboost as xgb

        if isinstance(self.model, xgb.Booster):
            return self.model.predict(xgb.DMatrix(data))
        return self.model.predict(data)

    def predict_proba(self, data: pd.DataFrame) -> Any:
        if not hasattr(self.model, "predict_proba"):
            raise no_proba("XGBoost")
        return self.model.predict_proba(data)

    def predict_array(self, data: Any) -> Any:
        """A float matrix in signature order (a model server's numeric fast path)."""
        import xgboost as xgb

        if isinstance(self.model, xgb.Booster):
            return self.model.inplace_predict(data, validate_features=False)
        return self.model.predict(data)

    predict_proba_array = predict_proba


class XGBoostFlavor:
    """XGBoost Booster, XGBClassifier, XGBRegressor, ..."""

    name = "xgboost"
    framework = "xgboost"

    def matches(self, obj: Any) -> bool:
        if "xgboost" not in mro_modules(obj):
            return False
        import xgboost as xgb

        return isinstance(obj, xgb.Booster | xgb.XGBModel)

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        import xgboost as xgb

        if isinstance(obj, xgb.Booster):
            kind = "Booster"
        else:
            kind = next((c.__name__ for c in type(obj).__mro__ if c.__name__ in WRAPPERS), "")
            if not kind:
                raise InvalidInput(
                    f"the xgboost flavor stores a Booster or one of {', '.join(WRAPPERS)}, "
                    f"not a {type(obj).__qualname__}"
                )
        obj.save_model(folder / MODEL_FILE)
        return SavedFlavor(
            options={"class": kind, "file": MODEL_FILE},
            modules=["xgboost"],
            predict_proba=hasattr(obj, "predict_proba"),
        )

    def load(self, folder: Path, manifest: ModelManifest) -> XGBoostPredictor:
        import xgboost as xgb

        kind = manifest.flavor_options.get("class")
        path = folder / MODEL_FILE
        if kind == "Booster":
            return XGBoostPredictor(xgb.Booster(model_file=path))
        if kind not in WRAPPERS:
            raise InvalidInput(f"unknown xgboost model class {kind!r} in the manifest")
        model = getattr(xgb, str(kind))()
        model.load_model(path)
        return XGBoostPredictor(model)
