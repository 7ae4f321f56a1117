"""PyTorch models as TorchScript, loaded on the CPU.

A ``torch.jit.ScriptModule`` is saved as it is; a plain ``nn.Module`` is scripted, or
traced on the input example when scripting fails. ``predict`` feeds the DataFrame's
columns, in signature order, as one float32 tensor and returns the output as numpy.

Loading uses ``torch.jit.load``, never ``torch.load``: a TorchScript archive holds
TorchScript (compiled by torch, no Python runs) and tensors read by torch's own restricted
unpickler, so it needs no ``trusted=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.registry.flavors.base import SavedFlavor, SaveRequest, mro_modules, no_proba

if TYPE_CHECKING:
    import pandas as pd

    from dockyard.registry.manifest import ModelManifest

MODEL_FILE = "model.pt"


@dataclass
class TorchPredictor:
    """A TorchScript module in eval mode on the CPU."""

    module: Any

    @property
    def native(self) -> Any:
        return self.module

    def predict(self, data: pd.DataFrame) -> Any:
        import torch

        tensor = torch.tensor(
            data.to_numpy(dtype="float32")
        )  # a copy: pandas may hand a read-only view
        with torch.inference_mode():
            output = self.module(tensor)
        if isinstance(output, tuple | list):
            output = output[0]
        return output.detach().cpu().numpy()

    def predict_proba(self, data: pd.DataFrame) -> Any:
        raise no_proba("torch")


class TorchFlavor:
    """PyTorch modules, stored as TorchScript."""

    name = "torch"
    framework = "torch"

    def matches(self, obj: Any) -> bool:
        if "torch" not in mro_modules(obj):
            return False
        import torch

        return isinstance(obj, torch.nn.Module | torch.jit.ScriptModule)

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        import torch

        module = obj
        if not isinstance(obj, torch.jit.ScriptModule):
            module = self._script(obj, request)
        torch.jit.save(module, str(folder / MODEL_FILE))
        return SavedFlavor(options={"file": MODEL_FILE, "format": "torchscript"}, modules=["torch"])

    @staticmethod
    def _script(obj: Any, request: SaveRequest) -> Any:
        import torch

        obj = obj.eval()
        try:
            return torch.jit.script(obj)
        except Exception as exc:
            if request.input_example is None:
                raise InvalidInput(
                    f"torch.jit.script fails on this {type(obj).__qualname__} ({exc}); pass "
                    "input_example so it can be traced instead, or save a ScriptModule"
                ) from exc
            example = torch.tensor(request.input_example.to_numpy(dtype="float32"))
            with torch.no_grad():
                return torch.jit.trace(obj, example)

    def load(self, folder: Path, manifest: ModelManifest) -> TorchPredictor:
        import torch

        module = torch.jit.load(str(folder / MODEL_FILE), map_location="cpu")
        module.eval()
        return TorchPredictor(module)
