"""Estimated vs realised AUC on the production demo's shifted traffic, dockyard beside NannyML.

Run from the project root:

    .venv/bin/python benchmarks/estimate_nannyml.py [--repeat 5]

Data: ``dockyard demo --production`` run once on a home under benchmarks/.data/estimate/
(reused when its marker ``demo.done`` is there; about 6 minutes). The champion's first version
served a stretch of normal purchases, then one minute of shifted ones (amounts x a currency
factor, a new fraud ring at new sellers), and every prediction's true label was logged. Read
back through the client: the monitor's windows of that version (the last one holds the
shifted minute) and the labels table (score, label, time of each labelled prediction).

Two splits of those predictions:

- ``shifted``: reference = the normal traffic (scores + labels), analysis = the shifted minute;
- ``undrifted`` (a sanity check): the normal traffic in time order, first half as reference,
  second half as analysis.

On each: the realised AUC of the analysis (scikit-learn, from its labels), dockyard's
``estimate_classification`` calibrated on the reference, and NannyML's CBPE fit on the
reference (``estimate_nannyml_peer.py`` in ``.bench/nannyml``, created with uv when missing),
both from the analysis scores only, with y_pred = score >= the monitor's threshold; the
absolute error of each estimate and the median time of each (fit + estimate, imports
excluded). Also the estimate the monitor itself stored in the shifted window. Prints a table;
no targets, exits 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data" / "estimate"
HOME = DATA / "home"
DONE = DATA / "demo.done"
SPLITS = DATA / "splits"
PEER_VENV = ROOT / ".bench" / "nannyml"
PEER_PY = PEER_VENV / "bin" / "python"
PEER = Path(__file__).resolve().parent / "estimate_nannyml_peer.py"
# nannyml 0.13.1 imports statsmodels without declaring it, and pins nothing that keeps pandas 3
# out (its import of pandas 3 was not tried here): both named
PEER_PINS = ["nannyml==0.13.1", "statsmodels==0.15.0", "pandas==2.3.3"]
MODEL = "fraud-detector"
FULL = 1000  # rows of a window of a minute of traffic (the demo sends 150/s)


def ensure_demo() -> None:
    """Run ``dockyard demo --production`` on HOME unless a finished run is there."""
    if DONE.exists():
        return
    if HOME.exists():  # a run that did not finish: its windows may be missing
        shutil.rmtree(HOME)
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"running dockyard demo --production on {HOME} (one-off, ~6 minutes)...", flush=True)
    command = [
        sys.executable,
        "-c",
        "from dockyard.cli.main import main; main()",
        "--home",
        str(HOME),
        "demo",
        "--production",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with (DATA / "demo.log").open("w") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
    DONE.write_text(dt.datetime.now(dt.UTC).isoformat() + "\n")


def ensure_nannyml() -> None:
    """Create NannyML's venv with uv when missing."""
    if PEER_PY.exists():
        return
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    print(f"creating {PEER_VENV} with {' '.join(PEER_PINS)} (one-off)...", flush=True)
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(PEER_VENV)], check=True)
    env = {**os.environ, "VIRTUAL_ENV": str(PEER_VENV)}
    subprocess.run([uv, "pip", "install", "-q", *PEER_PINS], check=True, env=env)


def read_back() -> dict[str, Any]:
    """The first champion version's labelled predictions and windows, through the client."""
    from sqlalchemy import select

    import dockyard as dy
    from dockyard.store.tables import PredictionLabelRow, RegisteredModelRow

    client = dy.connect(home=HOME)
    monitor = client.monitoring.get(MODEL)
    windows = client.monitoring.windows(MODEL, since=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    version = min(w.version for w in windows)
    mine = sorted((w for w in windows if w.version == version and w.rows), key=lambda w: w.start)
    # the shifted minute is the version's last full window (then it was replaced); the few
    # answers sent just after the minute ended fall in a later window and are left out
    shifted = [w for w in mine if w.rows >= FULL][-1]

    def fetch(session: Any) -> list[Any]:
        stmt = (
            select(
                PredictionLabelRow.predicted_at,
                PredictionLabelRow.label,
                PredictionLabelRow.score,
            )
            .join(RegisteredModelRow, RegisteredModelRow.id == PredictionLabelRow.model_id)
            .where(RegisteredModelRow.name == MODEL, PredictionLabelRow.version == version)
            .order_by(PredictionLabelRow.predicted_at)
        )
        return list(session.execute(stmt).all())

    # the labels table has no listing operation: read it through the service's database,
    # as the monitor's own calibration does
    rows = client.transport.services.db.query(fetch)  # type: ignore[attr-defined]
    at = pd.to_datetime([r[0] for r in rows], utc=True)
    frame = pd.DataFrame(
        {
            "at": at,
            "label": np.array([r[1] for r in rows], dtype=np.int64),
            "score": np.array([r[2] for r in rows], dtype=np.float64),
        }
    )
    first = at.min().to_pydatetime()
    log = dy.prediction_log(MODEL, since=first, until=shifted.end, client=client)
    logged = int(np.sum(np.asarray(log["version"].to_pylist()) == version))  # labelled or not
    client.close()
    return {
        "frame": frame,
        "version": version,
        "threshold": float(monitor.config.performance.threshold),
        "windows": mine,
        "shifted": shifted,
        "logged": logged,
    }


def splits(frame: pd.DataFrame, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    normal = frame[frame["at"] < pd.Timestamp(start)].reset_index(drop=True)
    analysis = frame[(frame["at"] >= pd.Timestamp(start)) & (frame["at"] < pd.Timestamp(end))]
    half = len(normal) // 2
    return {
        "shifted": (normal, analysis.reset_index(drop=True)),
        "undrifted": (normal.iloc[:half].reset_index(drop=True), normal.iloc[half:]),
    }


def dockyard_side(reference: pd.DataFrame, analysis: pd.DataFrame, threshold: float, repeat: int):
    from dockyard.monitoring.performance import estimate_classification

    ref_s, ref_y = reference["score"].to_numpy(), reference["label"].to_numpy(dtype=float)
    scores = analysis["score"].to_numpy()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        found = estimate_classification(ref_s, ref_y, scores, threshold=threshold)
        seconds.append(time.perf_counter() - start)
    return found, statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ensure_demo()
    ensure_nannyml()
    got = read_back()
    shifted = got["shifted"]
    parts = splits(got["frame"], shifted.start, shifted.end)
    threshold = got["threshold"]
    SPLITS.mkdir(parents=True, exist_ok=True)
    for name, (reference, analysis) in parts.items():
        for role, part in (("reference", reference), ("analysis", analysis)):
            part = part.assign(y_pred=(part["score"] >= threshold).astype(np.int64))
            part.to_parquet(SPLITS / f"{name}_{role}.parquet", index=False)

    command = [str(PEER_PY), str(PEER), str(SPLITS), *parts, "--repeat", str(args.repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"nannyml failed:\n{done.stderr[-3000:]}")
    peer = json.loads(done.stdout.strip().splitlines()[-1])

    console = Console(width=200)
    console.print(
        f"{MODEL} v{got['version']}: {len(got['frame']):,} labelled predictions "
        f"({got['logged']:,} logged), threshold {threshold}; shifted window "
        f"{shifted.start:%H:%M}-{shifted.end:%H:%M} UTC ({shifted.rows:,} rows, drifted: "
        f"{', '.join(shifted.drifted) or 'none'})"
    )
    table = Table(title=f"estimated vs realised AUC (dockyard, NannyML {peer['version']})")
    for heading in (
        "split",
        "reference / analysis rows",
        "frauds ref / analysis (expected)",
        "realised AUC",
        "dockyard est.",
        "|err|",
        "NannyML est. (± s.e.)",
        "|err|",
        "dockyard ms",
        "NannyML ms",
    ):
        table.add_column(heading, justify="right")
    for name, (reference, analysis) in parts.items():
        realised = float(roc_auc_score(analysis["label"], analysis["score"]))
        mine, seconds = dockyard_side(reference, analysis, threshold, args.repeat)
        theirs = peer[name]
        cal = "" if theirs["calibrated"] else " (uncalibrated)"
        table.add_row(
            name,
            f"{len(reference):,} / {len(analysis):,}",
            f"{int(reference['label'].sum())} / {int(analysis['label'].sum())} "
            f"({mine.expected_positives:.0f})",
            f"{realised:.3f}",
            f"{mine.auc:.3f}",
            f"{abs(mine.auc - realised):.3f}",
            f"{theirs['auc']:.3f} ± {theirs['sampling_error']:.3f}{cal}",
            f"{abs(theirs['auc'] - realised):.3f}",
            f"{seconds * 1000:.1f}",
            f"{theirs['seconds'] * 1000:.1f}",
        )
    console.print(table)
    for w in got["windows"]:
        perf = w.performance
        est, real = perf.estimated.get("auc"), perf.realised.get("auc")
        console.print(
            f"monitor window {w.start:%H:%M}-{w.end:%H:%M} v{w.version} ({w.rows:,} rows, "
            f"{perf.labelled:,} labelled): stored estimate "
            f"{'none' if est is None else f'{est:.3f}'}, realised "
            f"{'none' if real is None else f'{real:.3f}'}, computed {w.computed_at:%H:%M:%S}"
        )


if __name__ == "__main__":
    main()
