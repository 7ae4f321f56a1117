"""Model flavors: one module per built-in flavor, found like any plug-in through the
``dockyard.model_flavors`` entry point group (see :mod:`dockyard.registry.flavors.base`)."""

from dockyard.registry.flavors.base import (
    Flavor,
    Predictor,
    SavedFlavor,
    SaveRequest,
    all_flavors,
    flavor_named,
)

__all__ = ["Flavor", "Predictor", "SaveRequest", "SavedFlavor", "all_flavors", "flavor_named"]
