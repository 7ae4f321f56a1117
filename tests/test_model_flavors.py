"""Model flavors with the real libraries: save_model -> load_folder -> the same predictions;
tampered folders, pickle trust and unknown objects refused."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dockyard.core.errors import DigestMismatch, Forbidden, InvalidInput
from dockyard.registry.flavors import all_flavors, flavor_named
from dockyard.registry.manifest import MANIFEST_NAME, ModelManifest
from dockyard.registry.packaging import detect_flavor, load_folder, save_model


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    x = pd.DataFrame(
        {
            "age": rng.integers(18, 80, 300),
            "income": rng.normal(50.0, 15.0, 300),
            "score": rng.random(300),
        }
    )
    y = ((x["income"] / 50 + x["score"] - x["age"] / 80) > 1.0).astype(int).to_numpy()
    return x, y


def roundtrip(obj: Any, folder: Path, x: pd.DataFrame, **kwargs: Any) -> Any:
    manifest = save_model(obj, folder, input_example=x.head(5), **kwargs)
    assert (folder / MANIFEST_NAME).is_file()
    model = load_folder(folder, trusted=kwargs.get("trusted", False))
    assert model.manifest == manifest
    return model


def test_sklearn_pipeline_classifier(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = data
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    assert detect_flavor(pipe) == "sklearn"
    model = roundtrip(pipe, tmp_path / "m", x)
    assert model.flavor == "sklearn"
    np.testing.assert_array_equal(model.predict(x), pipe.predict(x))
    np.testing.assert_array_equal(model.predict_proba(x), pipe.predict_proba(x))
    manifest = model.manifest
    assert manifest.predict_proba and not manifest.needs_trust
    assert manifest.flavor_options["format"] == "skops"
    assert any(r.startswith("scikit-learn==") for r in manifest.requirements)
    assert any(r.startswith("skops==") for r in manifest.requirements)
    assert manifest.framework == "scikit-learn" and manifest.framework_version
    assert manifest.python_version.startswith("3.")
    assert manifest.created_at is not None
    assert {f.path for f in manifest.files} == {"model.skops", "input_example.parquet"}
    assert manifest.signature is not None
    assert [c.name for c in manifest.signature.inputs] == ["age", "income", "score"]
    assert [c.type for c in manifest.signature.outputs] == ["int64"]
    pd.testing.assert_frame_equal(model.input_example(), x.head(5))
    assert "sklearn" in repr(model) and "income: float64" in repr(model)
    # reordered columns and a single row as a dict of lists go through the signature
    row = {"score": [0.5], "income": [40.0], "age": [30]}
    assert model.predict(row).tolist() == pipe.predict(pd.DataFrame(row)[x.columns]).tolist()


def test_sklearn_regressor_has_no_predict_proba(
    tmp_path: Path, data: tuple[pd.DataFrame, Any]
) -> None:
    from sklearn.ensemble import RandomForestRegressor

    x, _ = data
    target = x["income"] * 2 + x["score"]
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(x, target)
    model = roundtrip(forest, tmp_path / "m", x)
    np.testing.assert_array_equal(model.predict(x), forest.predict(x))
    assert not model.manifest.predict_proba
    with pytest.raises(InvalidInput, match="sklearn model has no predict_proba"):
        model.predict_proba(x)


def test_xgboost_classifier_and_booster(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    import xgboost as xgb

    x, y = data
    clf = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(x, y)
    assert detect_flavor(clf) == "xgboost"
    model = roundtrip(clf, tmp_path / "clf", x)
    assert isinstance(model.native, xgb.XGBClassifier)
    np.testing.assert_array_equal(model.predict(x), clf.predict(x))
    np.testing.assert_array_equal(model.predict_proba(x), clf.predict_proba(x))
    assert any(r.startswith("xgboost") for r in model.manifest.requirements)

    reg = xgb.XGBRegressor(n_estimators=10).fit(x, x["income"])
    booster = reg.get_booster()
    model = roundtrip(booster, tmp_path / "booster", x)
    np.testing.assert_array_equal(model.predict(x), booster.predict(xgb.DMatrix(x)))
    assert not model.manifest.predict_proba


def test_lightgbm_classifier_and_booster(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    import lightgbm as lgb

    x, y = data
    labels = np.where(y == 1, "yes", "no")
    clf = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(x, labels)
    assert detect_flavor(clf) == "lightgbm"
    model = roundtrip(clf, tmp_path / "clf", x)
    np.testing.assert_array_equal(model.predict(x), clf.predict(x))
    np.testing.assert_allclose(model.predict_proba(x), clf.predict_proba(x))

    booster = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(x, x["income"]), 10)
    model = roundtrip(booster, tmp_path / "booster", x)
    np.testing.assert_array_equal(model.predict(x), booster.predict(x))
    with pytest.raises(InvalidInput, match="no predict_proba"):
        model.predict_proba(x)


def test_onnx_from_skl2onnx(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    x, y = data
    x = x.astype("float64")
    clf = LogisticRegression().fit(x, y)
    proto = to_onnx(clf, x.to_numpy(dtype="float32")[:1], options={"zipmap": False})
    assert detect_flavor(proto) == "onnx"
    model = roundtrip(proto, tmp_path / "m", x)
    np.testing.assert_array_equal(model.predict(x), clf.predict(x))
    np.testing.assert_allclose(model.predict_proba(x), clf.predict_proba(x), atol=1e-5)
    assert model.native.get_providers() == ["CPUExecutionProvider"]

    path = tmp_path / "file.onnx"
    path.write_bytes(proto.SerializeToString())
    from_file = roundtrip(path, tmp_path / "from-file", x)
    np.testing.assert_array_equal(from_file.predict(x), clf.predict(x))


def test_onnx_graph_with_named_inputs(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Sub", ["a", "b"], ["diff"])],
        "diff",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 1]),
        ],
        [helper.make_tensor_value_info("diff", TensorProto.FLOAT, [None, 1])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    x = pd.DataFrame({"b": [1.0, 2.0, 3.0], "a": [10.0, 20.0, 30.5]})
    model = roundtrip(proto, tmp_path / "m", x)
    np.testing.assert_allclose(model.predict(x), [9.0, 18.0, 27.5])
    with pytest.raises(InvalidInput, match="onnx model has no predict_proba"):
        model.predict_proba(x)


@pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")
def test_torchscript_module(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    torch = pytest.importorskip(
        "torch", reason="torch is not installed (scripts/setup-torch.sh says how to get it)"
    )

    x, _ = data
    x = x.astype("float64")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    scripted = torch.jit.script(net.eval())
    assert detect_flavor(scripted) == "torch"
    model = roundtrip(scripted, tmp_path / "m", x)
    with torch.no_grad():
        expected = scripted(torch.tensor(x.to_numpy(), dtype=torch.float32)).numpy().ravel()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-6)
    # a plain nn.Module is scripted on save
    plain = roundtrip(net, tmp_path / "plain", x)
    np.testing.assert_allclose(plain.predict(x), expected, rtol=1e-6)


PYFUNC_SOURCE = '''
from pathlib import Path

import numpy as np

from dockyard.registry.flavors.pyfunc import PythonModel


class Threshold(PythonModel):
    """Predicts 1 where income exceeds a threshold read from an artifact."""

    def load_context(self, context):
        self.limit = float(Path(context.artifacts["limit"]).read_text())

    def predict(self, data):
        return (data["income"].to_numpy() > self.limit).astype("int64")

    def predict_proba(self, data):
        p = 1.0 / (1.0 + np.exp(self.limit - data["income"].to_numpy()))
        return np.column_stack([1.0 - p, p])
'''


def import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_pyfunc_with_artifact(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    x, _ = data
    source = tmp_path / "src" / "threshold_model.py"
    source.parent.mkdir()
    source.write_text(PYFUNC_SOURCE)
    module = import_file(source, "threshold_model")
    limit = tmp_path / "limit.txt"
    limit.write_text("55.0")
    instance = module.Threshold()
    instance.limit = 55.0
    assert detect_flavor(instance) == "pyfunc"
    paths_before = list(sys.path)
    with pytest.warns(UserWarning, match="attributes limit are not saved"):
        model = roundtrip(instance, tmp_path / "m", x, artifacts={"limit": limit}, trusted=True)
    assert sys.path == paths_before
    assert sys.modules["threshold_model"] is module  # the installed module stays in place
    assert type(model.native).__module__.startswith("_dockyard_pyfunc_")
    np.testing.assert_array_equal(model.predict(x), instance.predict(x))
    np.testing.assert_allclose(model.predict_proba(x), instance.predict_proba(x))
    files = {f.path for f in model.manifest.files}
    assert {"code/threshold_model.py", "artifacts/limit/limit.txt"} <= files
    # loading again writes no __pycache__ into the folder (it would fail verification) and
    # reuses the privately named module of the same code
    assert type(load_folder(tmp_path / "m", trusted=True).native) is type(model.native)


def test_pyfunc_imports_its_code_paths(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    x, _ = data
    lib = tmp_path / "src" / "scoring_helpers"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("def double(v):\n    return v * 2\n")
    (lib / "model.py").write_text(
        textwrap.dedent(
            """
            from dockyard.registry.flavors.pyfunc import PythonModel
            from scoring_helpers import double

            class Doubler(PythonModel):
                def predict(self, data):
                    return double(data["score"].to_numpy())
            """
        )
    )
    sys.path.insert(0, str(lib.parent))
    try:
        module = importlib.import_module("scoring_helpers.model")
    finally:
        sys.path.remove(str(lib.parent))
    instance = module.Doubler()
    model = roundtrip(instance, tmp_path / "m", x, code_paths=[lib], trusted=True)
    np.testing.assert_array_equal(model.predict(x), x["score"].to_numpy() * 2)
    assert model.manifest.flavor_options["module"] == "scoring_helpers.model"
    assert sys.modules["scoring_helpers.model"] is module


def tampered(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> Path:
    from sklearn.linear_model import LinearRegression

    x, _ = data
    folder = tmp_path / "m"
    save_model(LinearRegression().fit(x, x["income"]), folder, input_example=x.head(3))
    return folder


def test_changed_byte_is_refused_naming_the_file(
    tmp_path: Path, data: tuple[pd.DataFrame, Any]
) -> None:
    folder = tampered(tmp_path, data)
    path = folder / "model.skops"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DigestMismatch, match=r"model\.skops does not match its sha256"):
        load_folder(folder)


def test_missing_and_unlisted_files_are_refused(
    tmp_path: Path, data: tuple[pd.DataFrame, Any]
) -> None:
    folder = tampered(tmp_path, data)
    (folder / "extra.py").write_text("print('hi')\n")
    with pytest.raises(DigestMismatch, match=r"extra\.py is in the model folder but not listed"):
        load_folder(folder)
    (folder / "extra.py").unlink()
    (folder / "input_example.parquet").unlink()
    with pytest.raises(DigestMismatch, match=r"input_example\.parquet is listed .* but missing"):
        load_folder(folder)


def test_manifest_path_outside_folder_is_refused(
    tmp_path: Path, data: tuple[pd.DataFrame, Any]
) -> None:
    folder = tampered(tmp_path, data)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    manifest["files"][0]["path"] = "../elsewhere"
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(InvalidInput, match=r"(?s)not a valid model manifest.*'\.\.' part"):
        load_folder(folder)


def test_pickled_sklearn_needs_trust(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    from sklearn.tree import DecisionTreeClassifier

    x, y = data
    tree = DecisionTreeClassifier(max_depth=3).fit(x, y)
    manifest = save_model(tree, tmp_path / "m", trusted=True)
    assert manifest.needs_trust and manifest.flavor_options["format"] == "joblib"
    with pytest.raises(Forbidden, match="Pass trusted=True only for a model from a trusted"):
        load_folder(tmp_path / "m")
    model = load_folder(tmp_path / "m", trusted=True)
    np.testing.assert_array_equal(model.predict(x), tree.predict(x))
    assert model.signature is None and model.input_example() is None


UNTRUSTED_SOURCE = """
def shift(values):
    return values + 1.0
"""


def test_skops_type_not_listed_at_save_is_refused(
    tmp_path: Path, data: tuple[pd.DataFrame, Any]
) -> None:
    import hashlib

    import skops.io as sio
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x, _ = data
    folder = tampered(tmp_path, data)
    # swap in a skops file whose pipeline calls a function of an arbitrary module, and fix
    # the digests, as someone who can write the folder could
    (tmp_path / "payload_funcs.py").write_text(UNTRUSTED_SOURCE)
    funcs = import_file(tmp_path / "payload_funcs.py", "payload_funcs")
    evil = make_pipeline(FunctionTransformer(funcs.shift), LinearRegression()).fit(x, x["income"])
    path = folder / "model.skops"
    sio.dump(evil, path)
    assert sio.get_untrusted_types(file=path)
    manifest = ModelManifest.model_validate_json((folder / MANIFEST_NAME).read_bytes())
    for entry in manifest.files:
        if entry.path == "model.skops":
            entry.digest = hashlib.sha256(path.read_bytes()).hexdigest()
            entry.size = path.stat().st_size
    (folder / MANIFEST_NAME).write_text(manifest.model_dump_json())
    with pytest.raises(Forbidden, match=r"payload_funcs\.shift"):
        load_folder(folder)


def test_unknown_object_and_unknown_flavor(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        detect_flavor(object())
    message = str(err.value)
    assert "builtins.object" in message and "sklearn" in message and "PythonModel" in message
    with pytest.raises(InvalidInput, match=r"unknown model flavor 'keras'; known flavors: .*onnx"):
        save_model(object(), tmp_path / "m", flavor="keras")
    assert not (tmp_path / "m").exists()


def test_flavor_given_for_the_wrong_object(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(
        InvalidInput, match=r"xgboost flavor does not take .*detected flavor: sklearn"
    ):
        save_model(model, tmp_path / "m", flavor="xgboost")


def test_save_into_non_empty_folder_is_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    (tmp_path / "keep.txt").write_text("x")
    model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(InvalidInput, match="new or empty folder"):
        save_model(model, tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_builtin_flavors_are_registered_plugins() -> None:
    names = [f.name for f in all_flavors()]
    assert names[:6] == ["pyfunc", "xgboost", "lightgbm", "torch", "onnx", "sklearn"]
    assert flavor_named("sklearn").framework == "scikit-learn"


def test_importing_the_manifest_stays_light() -> None:
    import subprocess

    code = (
        "import sys, dockyard.registry.manifest, dockyard.registry.flavors;"
        "heavy = {'sklearn', 'torch', 'xgboost', 'lightgbm', 'onnx', 'onnxruntime', 'skops'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
