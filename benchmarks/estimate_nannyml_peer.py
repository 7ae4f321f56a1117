"""NannyML's side of ``estimate_nannyml.py``: CBPE's estimated ROC AUC of each split.

Run by ``.bench/nannyml/bin/python`` (NannyML's own venv), never the project's:

    .bench/nannyml/bin/python benchmarks/estimate_nannyml_peer.py FOLDER SPLIT [SPLIT ...] \
        [--repeat 5]

Each split is two Parquet files in FOLDER, ``<split>_reference.parquet`` and
``<split>_analysis.parquet``, with the columns ``score`` (the model's probability of fraud),
``y_pred`` (0/1 at the monitor's threshold), ``label`` (0/1) and ``at`` (the prediction's time).
``nml.CBPE(problem_type="classification_binary", metrics=["roc_auc"], chunk_number=1)`` is fit
on the reference and estimates the analysis without its labels; the fit and the estimate are
timed together (median of ``--repeat``, a new estimator each time, imports outside the clock).
Prints one JSON line: per split the estimate, NannyML's sampling error, whether it calibrated
the scores (it does only when its calibration check says the reference needs it) and seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import nannyml as nml
import pandas as pd


def estimate(reference: pd.DataFrame, analysis: pd.DataFrame) -> tuple[Any, Any]:
    estimator = nml.CBPE(
        problem_type="classification_binary",
        y_pred_proba="score",
        y_pred="y_pred",
        y_true="label",
        metrics=["roc_auc"],
        chunk_number=1,
    )
    estimator.fit(reference)
    return estimator, estimator.estimate(analysis)


def run_split(folder: Path, split: str, repeat: int) -> dict[str, Any]:
    columns = ["score", "y_pred", "label"]
    reference = pd.read_parquet(folder / f"{split}_reference.parquet", columns=columns)
    analysis = pd.read_parquet(folder / f"{split}_analysis.parquet", columns=columns[:2])
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        estimator, result = estimate(reference, analysis)
        seconds.append(time.perf_counter() - start)
    row = result.filter(period="analysis").to_df().iloc[0]
    return {
        "auc": float(row[("roc_auc", "value")]),
        "sampling_error": float(row[("roc_auc", "sampling_error")]),
        "calibrated": bool(estimator.needs_calibration),
        "seconds": statistics.median(seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("splits", nargs="+")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # "the resulting number of chunks is too low": 1 is meant
    out = {split: run_split(args.folder, split, args.repeat) for split in args.splits}
    out["version"] = nml.__version__
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
