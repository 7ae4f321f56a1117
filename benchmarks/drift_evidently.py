"""Evidently's side of drift.py, run by Evidently's own interpreter (``.bench/evidently``).

    .bench/evidently/bin/python benchmarks/drift_evidently.py DATA_DIR

Reads DATA_DIR/reference.parquet and DATA_DIR/current.parquet, runs
``Report([DataDriftPreset()]).run(current, reference)`` (Evidently 0.7's API, its default
method per column) and prints one JSON line: seconds reading (Parquet to pandas), seconds
of the whole run, peak RSS in MiB and the columns it flagged.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main() -> None:
    folder = Path(sys.argv[1])
    start = time.perf_counter()
    reference = pq.read_table(folder / "reference.parquet").to_pandas()
    current = pq.read_table(folder / "current.parquet").to_pandas()
    read = time.perf_counter() - start
    numeric = [c for c in reference.columns if c.startswith("n")]
    categorical = [c for c in reference.columns if c.startswith("c")]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    total = time.perf_counter() - start
    flagged = []
    methods = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        methods[config["column"]] = method
        test = "p_value" in method
        if (value < threshold) if test else (value >= threshold):
            flagged.append(config["column"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "read_s": read,
                "total_s": total,
                "rss_mib": peak,
                "flagged": sorted(flagged),
                "methods": sorted(set(methods.values())),
            }
        )
    )


if __name__ == "__main__":
    main()
