"""ONNX graphs run with onnxruntime on the CPU.

The model is an ``onnx.ModelProto`` or the path of a ``.onnx`` file. A graph with one
input gets all the DataFrame's columns, in signature order, as one 2-D tensor of the
input's element type; a graph with several inputs gets each column under its name, as an
(n, 1) tensor. ``predict`` returns the first output; a second output holding
probabilities (as skl2onnx writes for classifiers; a ZipMap list of dicts too) is
``predict_proba``.

An ONNX graph runs no Python; the one thing a stored graph could do outside its folder is
name external tensor data by a path, so every such path must stay inside the model's
folder (where the manifest lists and verifies it) before onnxruntime opens the graph.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.core.errors import InvalidInput
from dockyard.core.paths import confined
from dockyard.registry.flavors.base import SavedFlavor, SaveRequest, mro_modules, no_proba

if TYPE_CHECKING:
    import pandas as pd

    from dockyard.registry.manifest import ModelManifest

MODEL_FILE = "model.onnx"
_TENSOR_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


@dataclass
class OnnxPredictor:
    """An onnxruntime InferenceSession and how to feed it."""

    session: Any
    predict_output: str
    proba_output: str | None

    @property
    def native(self) -> Any:
        return self.session

    def _feed(self, data: pd.DataFrame) -> dict[str, Any]:
        inputs = self.session.get_inputs()
        if len(inputs) == 1:
            dtype = _TENSOR_DTYPES.get(inputs[0].type, "float32")
            return {inputs[0].name: data.to_numpy(dtype=dtype)}
        feed = {}
        for spec in inputs:
            if spec.name not in data.columns:
                raise InvalidInput(
                    f"the ONNX graph takes an input {spec.name!r} that is not a column; "
                    f"given {', '.join(map(str, data.columns))}"
                )
            dtype = _TENSOR_DTYPES.get(spec.type, "float32")
            feed[spec.name] = data[spec.name].to_numpy(dtype=dtype).reshape(-1, 1)
        return feed

    def predict(self, data: pd.DataFrame) -> Any:
        return self.session.run([self.predict_output], self._feed(data))[0]

    def predict_proba(self, data: pd.DataFrame) -> Any:
        if self.proba_output is None:
            raise no_proba("ONNX")
        result = self.session.run([self.proba_output], self._feed(data))[0]
        if isinstance(result, list):  # ZipMap: one {class: probability} dict per row
            import pandas as pd

            return pd.DataFrame(result).to_numpy()
        return result


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor of a graph (or a function): initializers and node attributes, subgraphs
    included."""
    yield from getattr(graph, "initializer", ())
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for sub in attribute.graphs:
                yield from _tensors(sub)


def check_external_data(path: Path, folder: Path) -> None:
    """InvalidInput when a tensor of the graph at ``path`` names external data outside
    ``folder`` (read before onnxruntime would open it)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for graph in (model.graph, *model.functions):
        for tensor in _tensors(graph):
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                continue
            for entry in tensor.external_data:
                if entry.key == "location":
                    confined(folder, entry.value, "ONNX external data")


def _is_onnx_path(obj: Any) -> bool:
    return isinstance(obj, str | Path) and str(obj).endswith(".onnx") and Path(obj).is_file()


class OnnxFlavor:
    """ONNX graphs (onnx.ModelProto or a .onnx file), run with onnxruntime."""

    name = "onnx"
    framework = "onnxruntime"

    def matches(self, obj: Any) -> bool:
        if _is_onnx_path(obj):
            return True
        if "onnx" not in mro_modules(obj):
            return False
        import onnx

        return isinstance(obj, onnx.ModelProto)

    def save(self, obj: Any, folder: Path, request: SaveRequest) -> SavedFlavor:
        import onnx

        path = folder / MODEL_FILE
        if _is_onnx_path(obj):
            shutil.copyfile(obj, path)
            model = onnx.load(path)
        elif isinstance(obj, onnx.ModelProto):
            model = obj
            onnx.save(model, path)
        else:
            raise InvalidInput(f"the onnx flavor cannot store a {type(obj).__qualname__}")
        try:
            onnx.checker.check_model(path)
        except onnx.checker.ValidationError as exc:
            raise InvalidInput(f"the ONNX model does not pass onnx.checker: {exc}") from exc
        outputs = [o.name for o in model.graph.output]
        if not outputs:
            raise InvalidInput("the ONNX graph has no output")
        proba = next((n for n in outputs[1:] if "prob" in n.lower()), None)
        if proba is None and len(outputs) == 2:
            proba = outputs[1]
        return SavedFlavor(
            options={
                "file": MODEL_FILE,
                "inputs": [i.name for i in model.graph.input],
                "predict_output": outputs[0],
                "proba_output": proba,
            },
            modules=["onnxruntime", "onnx"],
            predict_proba=proba is not None,
        )

    def load(self, folder: Path, manifest: ModelManifest) -> OnnxPredictor:
        import onnxruntime as ort

        options = manifest.flavor_options
        check_external_data(folder / MODEL_FILE, folder)
        session = ort.InferenceSession(str(folder / MODEL_FILE), providers=["CPUExecutionProvider"])
        proba = options.get("proba_output")
        return OnnxPredictor(session, str(options["predict_output"]), str(proba) if proba else None)
