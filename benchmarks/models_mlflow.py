"""The MLflow side of benchmarks/models.py; runs in MLflow's venv, prints one JSON line.

    .bench/mlflow/bin/python benchmarks/models_mlflow.py --work DIR --loads 20 --calls 2000

For each of sklearn, xgboost and lightgbm that this venv has: the model of models_data is
trained and saved with ``mlflow.<flavor>.save_model`` (with an input example, so MLflow
infers and enforces a signature as dockyard does), then ``mlflow.pyfunc.load_model`` is
timed (first load, then ``--loads`` more in the same process) and ``predict`` on one row
(``--calls`` calls after 100 warm-up calls). Not part of dockyard; no dockyard imports.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc

from models_data import BUILDERS, training_data


def measure(name: str, work: Path, loads: int, calls: int) -> dict[str, Any]:
    x, y = training_data()
    model = BUILDERS[name](x, y)
    path = work / f"mlflow-{name}"
    getattr(mlflow, name).save_model(model, str(path), input_example=x.head(5))
    began = time.perf_counter()
    loaded = mlflow.pyfunc.load_model(str(path))
    first = time.perf_counter() - began
    load_times = []
    for _ in range(loads):
        began = time.perf_counter()
        loaded = mlflow.pyfunc.load_model(str(path))
        load_times.append(time.perf_counter() - began)
    row = x.iloc[[0]]
    for _ in range(100):
        loaded.predict(row)
    predict_times = []
    for _ in range(calls):
        began = time.perf_counter()
        loaded.predict(row)
        predict_times.append(time.perf_counter() - began)
    same = bool((loaded.predict(x) == model.predict(x)).all())
    return {"first_load": first, "loads": load_times, "predict": predict_times, "same": same}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--loads", type=int, default=20)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, Any] = {"mlflow": mlflow.__version__}
    for name in BUILDERS:
        if importlib.util.find_spec(name) is None:
            results[name] = {"missing": f"{name} is not installed in MLflow's venv"}
            continue
        results[name] = measure(name, args.work, args.loads, args.calls)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
