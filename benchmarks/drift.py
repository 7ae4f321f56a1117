"""Drift of 50 columns: dockyard's monitoring engine beside Evidently and a plain SciPy loop.

Run from the project root:

    .venv/bin/python benchmarks/drift.py [--rows 1000000] [--skip-evidently] [--skip-floor]
    .venv/bin/python benchmarks/drift.py --smoke        # 100k rows

Data (written once under benchmarks/.data/drift/r<rows>/): a reference and a current Parquet
file of ``--rows`` rows x 50 columns: 40 numeric (normal, log-normal, uniform, exponential and
Poisson-count columns, 1% nulls in some) and 10 categorical (8 categories, skewed shares).
Ten columns drift in the current file: n00-n07 (mean shifted by 0.3-0.5 sd, or sd x 1.5) and
c00-c01 (a fifth of the rows moved from the first category to the second).

Each side runs in a fresh process, timed from reading the Parquet files (reading also shown
apart) to the list of flagged columns, with its peak RSS (``ru_maxrss``):

- dockyard: ``Binning.from_reference`` + ``summarize`` of both files + ``compare(method="auto")``
  (string columns read as Arrow dictionaries);
- floor: ``scipy.stats.ks_2samp`` per numeric column and ``chi2_contingency`` of the value
  counts per categorical column on the raw arrays (p < 0.05);
- Evidently 0.7 (``drift_evidently.py`` in ``.bench/evidently``, created with uv when missing):
  ``Report([DataDriftPreset()]).run(current, reference)`` on pandas frames.

Imports are outside the clock on every side (pyarrow's first table imports pandas: warmed up
first). Targets (dockyard): at 1M rows >= 20x faster than Evidently and <= 11 s; <= 2 GiB
peak RSS and exactly the ten drifted columns flagged at any size. Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data" / "drift"
PEER_VENV = ROOT / ".bench" / "evidently"
PEER_PY = PEER_VENV / "bin" / "python"
PEER = Path(__file__).resolve().parent / "drift_evidently.py"
PEER_PINS = ["evidently==0.7.23", "pandas<3"]  # 0.7.23 imports a helper pandas 3 removed
NUMERIC = [f"n{i:02d}" for i in range(40)]
CATEGORICAL = [f"c{i:02d}" for i in range(10)]
DRIFTED = [*NUMERIC[:8], *CATEGORICAL[:2]]
SHARES = np.array([0.35, 0.2, 0.15, 0.1, 0.08, 0.06, 0.04, 0.02])


def _numeric(rng: np.random.Generator, i: int, rows: int, drifted: bool) -> np.ndarray:
    """Column i: one of five distributions; a drifted one moves its mean or its spread."""
    shift = 0.3 + 0.05 * (i % 5) if drifted and i % 2 == 0 else 0.0
    scale = 1.5 if drifted and i % 2 == 1 else 1.0
    kind = i % 5
    if kind == 0:
        values = rng.normal(10, 2, rows)
        sd, mean = 2.0, 10.0
    elif kind == 1:
        values = rng.lognormal(3, 0.5, rows)
        sd, mean = float(np.exp(3.125) * np.sqrt(np.exp(0.25) - 1)), float(np.exp(3.125))
    elif kind == 2:
        values = rng.uniform(0, 100, rows)
        sd, mean = 100 / np.sqrt(12), 50.0
    elif kind == 3:
        values = rng.exponential(5, rows)
        sd, mean = 5.0, 5.0
    else:
        values = rng.poisson(6, rows).astype(np.float64)
        sd, mean = float(np.sqrt(6)), 6.0
    return (values - mean) * scale + mean + shift * sd


def generate(rows: int) -> Path:
    """Write reference.parquet and current.parquet for ``rows`` once; return their folder."""
    folder = DATA / f"r{rows}"
    if (folder / "current.parquet").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed in (("reference", 1), ("current", 2)):
        rng = np.random.default_rng(seed)
        current = name == "current"
        columns: dict[str, pa.Array] = {}
        for i, col in enumerate(NUMERIC):
            values = _numeric(rng, i, rows, current and col in DRIFTED)
            mask = rng.random(rows) < 0.01 if i % 4 == 3 else None
            columns[col] = pa.array(values, mask=mask)
        labels = np.array([f"cat_{k}" for k in range(len(SHARES))])
        for col in CATEGORICAL:
            shares = SHARES.copy()
            if current and col in DRIFTED:
                shares[0] -= 0.2
                shares[1] += 0.2
            columns[col] = pa.array(labels[rng.choice(len(shares), rows, p=shares)])
        pq.write_table(pa.table(columns), folder / f"{name}.parquet")
    return folder


def _warm_up() -> None:
    """pyarrow imports pandas when it builds its first table (~1 s here); Evidently's side has
    imported pandas before its clock starts, so every side does it before the clock."""
    pa.table({"warm": [0]})


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_dockyard(folder: Path) -> dict[str, Any]:
    """dockyard's side: bins from the reference, both summaries, compare(method="auto")."""
    from dockyard.monitoring.drift import compare
    from dockyard.monitoring.profile import Binning, summarize

    _warm_up()
    start = time.perf_counter()
    # string columns read as dictionaries: summaries count their codes, never build strings
    schema = pq.read_schema(folder / "reference.parquet")
    strings = [f.name for f in schema if pa.types.is_string(f.type)]
    reference = pq.read_table(folder / "reference.parquet", read_dictionary=strings)
    current = pq.read_table(folder / "current.parquet", read_dictionary=strings)
    read = time.perf_counter() - start
    binning = Binning.from_reference(reference)
    ref_summary = summarize(reference, binning)
    cur_summary = summarize(current, binning)
    drift = compare(ref_summary, cur_summary, binning, method="auto")
    total = time.perf_counter() - start
    return {
        "read_s": read,
        "total_s": total,
        "rss_mib": _peak_mib(),
        "flagged": sorted(d.column for d in drift if d.drifted),
        "methods": sorted({d.method for d in drift}),
    }


def child_floor(folder: Path) -> dict[str, Any]:
    """The naive floor: one SciPy test per column on the raw arrays."""
    import pyarrow.compute as pc
    from scipy.stats import chi2_contingency, ks_2samp

    _warm_up()
    start = time.perf_counter()
    reference = pq.read_table(folder / "reference.parquet")
    current = pq.read_table(folder / "current.parquet")
    read = time.perf_counter() - start
    flagged = []
    for col in NUMERIC:
        a = pc.drop_null(reference.column(col)).to_numpy()
        b = pc.drop_null(current.column(col)).to_numpy()
        if ks_2samp(a, b).pvalue < 0.05:
            flagged.append(col)
    for col in CATEGORICAL:
        counts = []
        for table in (reference, current):
            vc = pc.value_counts(table.column(col))
            values, freq = vc.field("values").to_pylist(), vc.field("counts").to_pylist()
            counts.append(dict(zip(values, freq, strict=True)))
        keys = sorted(set(counts[0]) | set(counts[1]))
        matrix = np.array([[c.get(k, 0) for k in keys] for c in counts])
        if chi2_contingency(matrix, correction=False).pvalue < 0.05:
            flagged.append(col)
    total = time.perf_counter() - start
    return {
        "read_s": read,
        "total_s": total,
        "rss_mib": _peak_mib(),
        "flagged": sorted(flagged),
        "methods": ["ks_2samp", "chi2_contingency"],
    }


def ensure_evidently() -> str:
    """Create Evidently's venv with uv when missing; return its version."""
    if not PEER_PY.exists():
        uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
        print(f"creating {PEER_VENV} with {' '.join(PEER_PINS)} (one-off)...", flush=True)
        subprocess.run([uv, "venv", "-q", "--python", "3.11", str(PEER_VENV)], check=True)
        env = {**os.environ, "VIRTUAL_ENV": str(PEER_VENV)}
        subprocess.run([uv, "pip", "install", "-q", *PEER_PINS], check=True, env=env)
    out = subprocess.run(
        [str(PEER_PY), "-c", "import importlib.metadata as m; print(m.version('evidently'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def run_side(side: str, folder: Path) -> dict[str, Any]:
    """Run one side in a fresh process and return its JSON line."""
    if side == "evidently":
        command = [str(PEER_PY), str(PEER), str(folder)]
    else:
        command = [sys.executable, __file__, "--child", side, str(folder)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help="100k rows")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, folder = args.child
        child = child_dockyard if side == "dockyard" else child_floor
        print(json.dumps(child(Path(folder))))
        return
    rows = 100_000 if args.smoke else args.rows
    folder = generate(rows)
    sides = ["dockyard"]
    if not args.skip_floor:
        sides.append("floor")
    if not args.skip_evidently:
        print(f"evidently {ensure_evidently()}", flush=True)
        sides.append("evidently")
    results = {}
    for side in sides:
        print(f"running {side} on {rows:,} rows...", flush=True)
        results[side] = run_side(side, folder)

    table = Table(title=f"drift of 50 columns, {rows:,} + {rows:,} rows (fresh process each)")
    for heading in ("side", "total s", "read s", "drift s", "peak RSS MiB", "flagged", "methods"):
        table.add_column(heading)
    expected = set(DRIFTED)
    for side, r in results.items():
        flagged = set(r["flagged"])
        verdict = (
            "the 10 drifted"
            if flagged == expected
            else (f"{len(flagged & expected)}/10 drifted + {len(flagged - expected)} others")
        )
        table.add_row(
            side,
            f"{r['total_s']:.2f}",
            f"{r['read_s']:.2f}",
            f"{r['total_s'] - r['read_s']:.2f}",
            f"{r['rss_mib']:.0f}",
            verdict,
            ", ".join(r["methods"]),
        )
    console = Console()
    console.print(table)
    for side, r in results.items():
        console.print(f"{side} flagged: {', '.join(r['flagged']) or '-'}")
    mine = results["dockyard"]
    checks = {
        "exactly the 10 drifted columns flagged": set(mine["flagged"]) == expected,
        "peak RSS <= 2 GiB": mine["rss_mib"] <= 2048,
    }
    if rows >= 1_000_000:
        checks["<= 11 s at 1M rows"] = mine["total_s"] <= 11
    if "evidently" in results:
        ratio = results["evidently"]["total_s"] / mine["total_s"]
        console.print(f"Evidently / dockyard: {ratio:.1f}x")
        if rows >= 1_000_000:
            checks[">= 20x faster than Evidently at 1M rows"] = ratio >= 20
    for name, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
