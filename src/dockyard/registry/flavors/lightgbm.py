"""LightGBM models in LightGBM's own text format: a ``Booster``, an ``LGBMRegressor`` or an
``LGBMClassifier`` (its class labels are kept in the manifest, so predict returns labels
and predict_proba the probabilities, as the classifier does)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.registry.flavors.base import SavedFlavor, SaveRequest, mro_modules, no_proba

if TYPE_CHECKING:
    import pandas as pd

    from dockyard.registry.manifest import ModelManifest

MODEL_FILE = "model.txt"


@dataclass
class LightGBMPredictor:
    """A loaded Booster; with ``classes`` it answers like an LGBMClassifier."""

    booster: Any
    classes: list[Any] | None = None
    kind: str = "Booster"
    _labels: Any = field(default=None, repr=False)

    @property
    def native(self) -> Any:
        return self.booster

    def predict(self, data: pd.DataFrame) -> Any:
        if self.classes is None:
            return self.booster.predict(data)
        import numpy as np

        if self._labels is None:
            self._labels = np.asarray(self.classes)
        return self._labels[np.argmax(self.predict_proba(data), axis=1)]

    def predict_proba(self, data: pd.DataFrame) -> Any:
        if self.classes is None:
            raise no_proba(f"LightGBM {self.kind}")
        import numpy as np

        scores = np.asarray(self.booster.predict(data))
        if scores.ndim == 1:  # binary: the probability of the second class
            return np.vstack((1.0 - scores, scores)).T
        return scores

    # A float matrix in signature order gives the same answers without a DataFrame (what a
    # model server uses for numeric signatures).
    predict_array = predict
    predict_proba_array = predict_proba


class LightGBMFlavor:
    """LightGBM Booster, LGBMClassifier, LGBMRegressor."""

    name = "lightgbm"
    framework = "lightgbm"

    def matches(self, obj: Any) -> bool:
        if "lightgbm" not in mro_modules(obj):
            return False
        import lightgbm as lgb

        return isinstance(obj, lgb.Booster | lgb.LGBMModel)

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        import lightgbm as lgb

        options: dict[str, Any] = {"file": MODEL_FILE}
        if isinstance(obj, lgb.Booster):
            booster, options["class"] = obj, "Booster"
        elif isinstance(obj, lgb.LGBMClassifier):
            booster, options["class"] = obj.booster_, "LGBMClassifier"
            options["classes"] = obj.classes_.tolist()
        elif isinstance(obj, lgb.LGBMModel):
            booster, options["class"] = obj.booster_, type(obj).__name__
        else:
            raise InvalidInput(f"the lightgbm flavor cannot store a {type(obj).__qualname__}")
        booster.save_model(folder / MODEL_FILE)
        return SavedFlavor(
            options=options, modules=["lightgbm"], predict_proba="classes" in options
        )

    def load(self, folder: Path, manifest: ModelManifest) -> LightGBMPredictor:
        import lightgbm as lgb

        options = manifest.flavor_options
        booster = lgb.Booster(model_file=folder / MODEL_FILE)
        classes = options.get("classes")
        return LightGBMPredictor(
            booster,
            classes=list(classes) if classes is not None else None,
            kind=str(options.get("class", "Booster")),
        )
