"""The MLflow side of benchmarks/serving.py: runs in MLflow's venv, prints one JSON line.

    .bench/mlflow/bin/python benchmarks/serving_mlflow.py --out DIR

Trains the model of serving_data.py and saves it with ``mlflow.lightgbm.save_model`` (with an
input example, so MLflow infers and enforces a signature as dockyard does) into DIR, then
prints MLflow's and LightGBM's versions and the model's probabilities of the request rows
(compared with dockyard's copy). Not part of dockyard; no dockyard imports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightgbm
import mlflow
import mlflow.lightgbm
import pandas as pd

from serving_data import request_rows, train, training_data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    x, y = training_data()
    model = train(x, y)
    mlflow.lightgbm.save_model(model, str(args.out), input_example=x.head(5))
    rows = pd.DataFrame(request_rows())
    proba = model.predict_proba(rows)[:, 1].tolist()
    loaded = mlflow.pyfunc.load_model(str(args.out))
    labels = [int(v) for v in loaded.predict(rows)]
    info = {
        "mlflow": mlflow.__version__,
        "lightgbm": lightgbm.__version__,
        "proba": proba,
        "labels": labels,
    }
    print(json.dumps(info))


if __name__ == "__main__":
    main()
