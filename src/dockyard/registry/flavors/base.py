"""The flavor plug-in seam: how one kind of model object is saved into a folder and loaded
back as something with ``predict``.

Flavors are found through the ``dockyard.model_flavors`` entry point group; the built-in
ones are registered there too (see pyproject.toml), so a third-party package adds a flavor
by declaring an entry point whose value is a class with no required constructor argument.
Flavor modules import their framework only inside their methods: loading a flavor must not
import scikit-learn or torch.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from dockyard.core.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from dockyard.registry.manifest import ModelManifest

GROUP = "dockyard.model_flavors"
# Detection tries these first, in this order (xgboost and lightgbm models are scikit-learn
# estimators too), then any other registered flavor by name.
BUILTIN_ORDER = ("pyfunc", "xgboost", "lightgbm", "torch", "onnx", "sklearn")


@dataclass(frozen=True)
class SaveRequest:
    """What ``save_model`` hands a flavor beside the object."""

    trusted: bool = False
    input_example: pd.DataFrame | None = None
    code_paths: list[Path] = field(default_factory=list)
    artifacts: dict[str, Path] = field(default_factory=dict)


@dataclass
class SavedFlavor:
    """What a flavor reports after writing its files."""

    options: dict[str, Any]
    """JSON-able; stored as the manifest's ``flavor_options`` and given back at load."""
    modules: list[str]
    """Import names the model needs at load (the first is the framework); their installed
    distributions are pinned in the manifest's requirements."""
    predict_proba: bool = False
    needs_trust: bool = False


@runtime_checkable
class Predictor(Protocol):
    """A loaded model."""

    @property
    def native(self) -> Any:
        """The framework's own object (Booster, ScriptModule, InferenceSession, ...)."""

    def predict(self, data: pd.DataFrame) -> Any:
        """Predictions for the rows of ``data`` (columns already in signature order)."""

    def predict_proba(self, data: pd.DataFrame) -> Any:
        """Class probabilities, one row per input row; raise InvalidInput when none."""


@runtime_checkable
class Flavor(Protocol):
    """One kind of model: scikit-learn, XGBoost, ONNX, a Python function, ..."""

    name: str
    """The short name stored in the manifest and passed as ``flavor=``."""
    framework: str
    """The library's name for people, e.g. ``scikit-learn``."""
    # A flavor whose ``load`` runs code stored with the model (as pyfunc imports its module)
    # also sets the class attribute ``runs_stored_code = True``: its models then load only
    # with trusted=True, whatever their manifest says.

    def matches(self, obj: Any) -> bool:
        """Whether ``obj`` is a model of this flavor; must not import the framework unless
        ``obj`` already comes from it."""

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        """Write ``obj``'s files into the existing empty ``folder``."""

    def load(self, folder: Path, manifest: ModelManifest) -> Predictor:
        """Load the model from ``folder`` whose files were already verified."""


def mro_modules(obj: Any) -> set[str]:
    """The top-level module names of every class ``obj`` is an instance of (cheap test of
    where an object comes from without importing anything)."""
    return {cls.__module__.split(".", 1)[0] for cls in type(obj).__mro__}


def no_proba(flavor: str) -> InvalidInput:
    """The error for predict_proba on a model that has none."""
    return InvalidInput(
        f"this {flavor} model has no predict_proba (only classifiers that expose class "
        "probabilities do); use predict"
    )


def registered_names() -> list[str]:
    """Names of every registered flavor."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


@functools.cache
def flavor_named(name: str) -> Flavor:
    """The flavor registered under ``name``; InvalidInput listing the known ones otherwise."""
    for ep in entry_points(group=GROUP, name=name):
        flavor = ep.load()()
        if not isinstance(flavor, Flavor):
            raise InvalidInput(f"the entry point {ep.value!r} for flavor {name!r} is no Flavor")
        return flavor
    known = registered_names()
    if not known:
        raise InvalidInput(
            "no model flavor is registered (entry point group dockyard.model_flavors); "
            "reinstall dockyard"
        )
    raise InvalidInput(f"unknown model flavor {name!r}; known flavors: {', '.join(known)}")


def all_flavors() -> list[Flavor]:
    """Every registered flavor in detection order; a plug-in that fails to load is skipped
    with a warning."""
    names = registered_names()
    ordered = [n for n in BUILTIN_ORDER if n in names] + [
        n for n in names if n not in BUILTIN_ORDER
    ]
    flavors: list[Flavor] = []
    for name in ordered:
        try:
            flavors.append(flavor_named(name))
        except Exception as exc:  # a broken third-party plug-in must not hide the others
            warnings.warn(f"model flavor {name!r} failed to load: {exc}", stacklevel=2)
    return flavors


def detect(obj: Any, flavors: Iterable[Flavor] | None = None) -> Flavor:
    """The first flavor that matches ``obj``."""
    for flavor in flavors if flavors is not None else all_flavors():
        if flavor.matches(obj):
            return flavor
    kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
    raise InvalidInput(
        f"no model flavor knows objects of type {kind}; known flavors: "
        f"{', '.join(registered_names())}. Wrap the model in a subclass of "
        "dockyard.registry.flavors.pyfunc.PythonModel (load_context + predict) and save "
        "that, or pass flavor= explicitly"
    )
