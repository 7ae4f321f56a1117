"""Model flavors: ``load_folder`` time and single-row ``predict`` latency per flavor, beside
MLflow's ``mlflow.pyfunc.load_model`` + ``predict`` for the same sklearn, xgboost and
lightgbm models.

Run from the project root:

    .venv/bin/python benchmarks/models.py [--loads 20] [--calls 2000]

or ``--smoke`` (3 loads, 200 calls) for CI. Each side trains the models of
benchmarks/models_data.py (2,000 x 8 floats) in its own venv, saves them with its own
``save_model`` and an input example (so both infer and enforce a signature), then, in the
same process (in-process loads: the framework is already imported by the training, so the
times are the loading code and file reads, not Python imports): one first load, ``--loads``
more timed loads (median reported), 100 warm-up predict calls on one row, then ``--calls``
timed calls (p50 and p99). "native" is the framework's own predict on the same row (the
floor). MLflow runs in its own venv, ``.bench/mlflow``, through benchmarks/models_mlflow.py
(created, with scikit-learn, xgboost-cpu and lightgbm, if missing). No targets: the table
is for comparison.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from dockyard.registry.packaging import load_folder, save_model
from models_data import BUILDERS, training_data

ROOT = Path(__file__).resolve().parent.parent
MLFLOW_PYTHON = ROOT / ".bench" / "mlflow" / "bin" / "python"
WORK = ROOT / "benchmarks" / ".data" / "models"
PEER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONNOUSERSITE": "1"}
console = Console(width=150)

PYFUNC_SOURCE = '''
import json
from pathlib import Path

import numpy as np

from dockyard.registry.flavors.pyfunc import PythonModel


class Linear(PythonModel):
    """A logistic score of the columns with weights read from an artifact."""

    def load_context(self, context):
        self.weights = np.asarray(json.loads(Path(context.artifacts["weights"]).read_text()))

    def predict(self, data):
        return (data.to_numpy() @ self.weights > 0).astype("int64")
'''


@dataclass
class Row:
    flavor: str
    side: str
    first_load: float
    loads: list[float]
    predict: list[float]
    native: list[float] | None = None
    same: bool | None = None
    note: str = ""


def timed(fn: Callable[[], object], calls: int, warmup: int = 100) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return times


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def candidates(
    x: pd.DataFrame, y: np.ndarray
) -> dict[str, tuple[Any, Callable[[Any], Any], dict[str, Any]]]:
    """flavor -> (object to save, its native predict on a frame, save_model keywords)."""
    import torch
    from skl2onnx import to_onnx

    out: dict[str, tuple[Any, Callable[[Any], Any], dict[str, Any]]] = {}
    for name, build in BUILDERS.items():
        model = build(x, y)
        out[name] = (model, model.predict, {})
    pipe = out["sklearn"][0]
    proto = to_onnx(pipe, x.to_numpy(dtype="float32")[:1], options={"zipmap": False})
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    in_name = session.get_inputs()[0].name
    out["onnx"] = (
        proto,
        lambda frame: session.run(["label"], {in_name: frame.to_numpy(dtype="float32")})[0],
        {},
    )
    torch.manual_seed(0)
    net = torch.jit.script(
        torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
        ).eval()
    )

    def torch_native(frame: pd.DataFrame) -> Any:
        with torch.inference_mode():
            return net(torch.tensor(frame.to_numpy(dtype="float32"))).numpy()

    out["torch"] = (net, torch_native, {})
    source = WORK / "bench_pyfunc_model.py"
    source.write_text(PYFUNC_SOURCE)
    weights = WORK / "weights.json"
    weights.write_text(json.dumps([1.5, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]))
    spec = importlib.util.spec_from_file_location("bench_pyfunc_model", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    instance = module.Linear()
    instance.weights = np.asarray(json.loads(weights.read_text()))
    out["pyfunc"] = (instance, instance.predict, {"artifacts": {"weights": weights}})
    return out


def dockyard_rows(loads: int, calls: int) -> list[Row]:
    x, y = training_data()
    row = x.iloc[[0]]
    rows = []
    for flavor, (obj, native, extra) in candidates(x, y).items():
        folder = WORK / f"dockyard-{flavor}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyfunc: the instance's weights are not saved
            save_model(obj, folder, input_example=x.head(5), **extra)
        began = time.perf_counter()
        model = load_folder(folder)
        first = time.perf_counter() - began
        load_times = []
        for _ in range(loads):
            began = time.perf_counter()
            model = load_folder(folder)
            load_times.append(time.perf_counter() - began)
        predict = timed(lambda m=model: m.predict(row), calls)
        native_times = timed(lambda n=native: n(row), calls)
        expected = np.asarray(native(x)).ravel()
        same = (
            bool(np.array_equal(model.predict(x), expected))
            if flavor != "torch"
            else bool(np.allclose(model.predict(x), expected, rtol=1e-6))
        )
        rows.append(Row(flavor, "dockyard", first, load_times, predict, native_times, same))
        console.print(f"  dockyard {flavor} done", style="dim")
    return rows


PEER_PACKAGES = ["mlflow", "scikit-learn", "xgboost-cpu", "lightgbm"]


def ensure_peer() -> None:
    """MLflow's own venv (``.bench/mlflow``) with the model libraries, made if missing."""
    venv = MLFLOW_PYTHON.parent.parent
    if not MLFLOW_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = "import mlflow, sklearn, xgboost, lightgbm"
    if subprocess.run([str(MLFLOW_PYTHON), "-c", probe], capture_output=True).returncode:
        pip = [str(venv / "bin" / "pip"), "install", "-q", *PEER_PACKAGES]
        subprocess.run(pip, check=True)


def mlflow_rows(loads: int, calls: int) -> list[Row]:
    ensure_peer()
    argv = [
        str(MLFLOW_PYTHON),
        str(ROOT / "benchmarks" / "models_mlflow.py"),
        "--work",
        str(WORK),
        "--loads",
        str(loads),
        "--calls",
        str(calls),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "MLFLOW_"))}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=WORK, env=env | PEER_ENV)
    if done.returncode != 0:
        raise RuntimeError(f"MLflow side failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rows = []
    for flavor in BUILDERS:
        got = result[flavor]
        if "missing" in got:
            rows.append(Row(flavor, f"mlflow {result['mlflow']}", 0, [0], [0], note=got["missing"]))
            continue
        side = f"mlflow {result['mlflow']}"
        rows.append(
            Row(flavor, side, got["first_load"], got["loads"], got["predict"], same=got["same"])
        )
    return rows


def report(rows: list[Row], loads: int, calls: int) -> None:
    table = Table(
        title=f"load_folder / load_model ({loads} loads) and one-row predict ({calls} calls)"
    )
    for header in (
        "flavor",
        "side",
        "first load ms",
        "load median ms",
        "predict p50 µs",
        "predict p99 µs",
        "native p50 µs",
        "same predictions",
    ):
        table.add_column(header, justify="left" if header in ("flavor", "side") else "right")
    order = {name: i for i, name in enumerate([*BUILDERS, "onnx", "torch", "pyfunc"])}
    for row in sorted(rows, key=lambda r: (order.get(r.flavor, 99), r.side)):
        if row.note:
            table.add_row(row.flavor, row.side, row.note, "", "", "", "", "")
            continue
        table.add_row(
            row.flavor,
            row.side,
            f"{row.first_load * 1e3:.1f}",
            f"{statistics.median(row.loads) * 1e3:.2f}",
            f"{p(row.predict, 50) * 1e6:.0f}",
            f"{p(row.predict, 99) * 1e6:.0f}",
            f"{p(row.native, 50) * 1e6:.0f}" if row.native else "",
            "" if row.same is None else ("yes" if row.same else "NO"),
        )
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="3 loads, 200 calls")
    args = parser.parse_args()
    loads, calls = (3, 200) if args.smoke else (args.loads, args.calls)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    try:
        rows = dockyard_rows(loads, calls) + mlflow_rows(loads, calls)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    report(rows, loads, calls)
    return 0 if all(r.same is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
