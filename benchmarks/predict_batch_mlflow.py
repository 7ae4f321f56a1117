"""The MLflow side of benchmarks/predict_batch.py; runs in MLflow's venv, prints one JSON line.

    .bench/mlflow/bin/python benchmarks/predict_batch_mlflow.py --model-file model.txt \
        --work DIR --batch-size 65536 FILE.parquet...

The LightGBM booster dockyard scores with (its ``model.txt``) is saved with
``mlflow.lightgbm.save_model`` and an input example (so MLflow infers and enforces a
signature, as dockyard does); then, timed: ``mlflow.pyfunc.load_model`` and its ``predict``
over pandas chunks of ``--batch-size`` rows of the same Parquet files, each chunk's keys and
predictions written to one Parquet file, as dockyard's output is. ``mlflow.pyfunc.spark_udf``
is MLflow's batch path but needs Spark, which this machine does not have. Not part of
dockyard; no dockyard imports.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import mlflow.pyfunc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def peak_rss() -> int:
    """Peak RSS in bytes: VmHWM, which starts afresh at exec (``ru_maxrss`` carries the
    forking parent's over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-file", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=65_536)
    parser.add_argument("--features", type=int, default=12)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    features = [f"f{i}" for i in range(args.features)]
    booster = lgb.Booster(model_file=str(args.model_file))
    example = pq.ParquetFile(args.files[0]).read_row_group(0, columns=features).slice(0, 5)
    saved = args.work / "mlflow-model"
    mlflow.lightgbm.save_model(booster, str(saved), input_example=example.to_pandas())

    began = time.perf_counter()
    model = mlflow.pyfunc.load_model(str(saved))
    rows = 0
    total = 0.0
    writer: pq.ParquetWriter | None = None
    for path in args.files:
        source = pq.ParquetFile(path)
        for batch in source.iter_batches(batch_size=args.batch_size):
            predicted = model.predict(batch.select(features).to_pandas())
            out = pa.table(
                {
                    "transaction_id": batch.column("transaction_id"),
                    "is_fraud": batch.column("is_fraud"),
                    "prediction": pa.array(predicted),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(args.work / "mlflow-scores.parquet", out.schema)
            writer.write_table(out)
            rows += batch.num_rows
            total += pc.sum(out.column("prediction")).as_py()
    if writer is not None:
        writer.close()
    seconds = time.perf_counter() - began
    peak = peak_rss()
    print(
        json.dumps(
            {
                "mlflow": mlflow.__version__,
                "rows": rows,
                "seconds": seconds,
                "driver_peak": peak,
                "mean": total / max(rows, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
