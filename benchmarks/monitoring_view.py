"""A 30-day view of a monitor at hourly windows, from the windows' stored summaries.

Run from the project root:

    .venv/bin/python benchmarks/monitoring_view.py [--days 30] [--rows 500] [--repeat 5] [--reuse]

Builds (once per invocation, in ``benchmarks/.data/monitoring_view/``) an embedded home with a
model whose training run read a 50-column reference (40 numeric, 10 categorical, 100k rows),
writes ``--days`` x 24 hourly segments of its prediction log (``--rows`` predictions each, a
shift in the last week), labels a third of the predictions, and lets the monitor compute
every window (timed: windows per second, from the log's Parquet and JSON to the stored
results). Then, each in a fresh process (``import dockyard`` + ``connect`` included, bytecode
cached), medians of ``--repeat``:

- ``report``: ``client.monitoring.report(model, since=30 days)`` (the call, timed after
  ``connect``, and with the process's start): every window's summary merged per version
  and compared with the reference, quality counts, performance from every label of the
  period;
- ``windows``: ``client.monitoring.windows(...)`` of the same period (720 windows with their
  per-column drift and realised performance), what the web UI's monitoring tab reads;

embedded and through ``dockyard server`` (a subprocess); and ``served``: the same two GETs
made again and again by one HTTP client to the running server (what the web UI's monitoring
tab waits for once the server is up: the request, the merge on the server, the JSON).
Target (issue 17): the 30-day view from stored summaries <= 200 ms, judged on the served
report; the fresh-process figures, which add importing the monitoring modules (~0.2 s) and
first-call costs, are shown beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import dockyard as dy
from dockyard.serving.logformat import segment_table
from tracking_env import dockyard_server

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data" / "monitoring_view"
PY = ROOT / ".venv" / "bin" / "python"
MODEL = "watched"
TARGET_MS = 200.0


def _frame(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    columns: dict[str, object] = {}
    for i in range(40):
        columns[f"x{i}"] = rng.normal(i + (shift if i < 8 else 0.0), 1.0 + i / 40, n)
    for i in range(10):
        columns[f"c{i}"] = rng.choice([f"v{k}" for k in range(5 + i)], n)
    return pd.DataFrame(columns)


def _id(at: dt.datetime) -> str:
    return f"{int(at.timestamp() * 1000):012x}" + os.urandom(10).hex()


def build(home: Path, days: int, rows: int) -> float:
    """Make the home; returns the seconds the monitor took to compute every window."""
    from sklearn.linear_model import LogisticRegression

    shutil.rmtree(home, ignore_errors=True)
    client = dy.connect(home=home)
    rng = np.random.default_rng(0)
    reference = _frame(100_000, rng)
    reference["label"] = (reference.x0 + rng.normal(0, 1, len(reference)) > 0).astype(int)
    dy.dataset("reference", project="bench", client=client).add_version(reference)
    with dy.start_run(project="bench", capture=dy.Capture.off(), client=client):
        frame = dy.dataset("reference", project="bench", client=client).version().to_pandas()
        x = frame[["x0", "x1"]]
        logged = dy.log_model(LogisticRegression().fit(x, frame.label), "model", input_example=x)
    version = dy.register_model(logged, name=MODEL, client=client).version
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    hours = days * 24
    labels: dict[str, float] = {}
    print(f"writing {hours} hourly segments of {rows} predictions...", flush=True)
    for h in range(hours, 0, -1):
        start = now - dt.timedelta(hours=h)
        shift = 1.0 if h <= 7 * 24 else 0.0
        frame = _frame(rows, rng, shift)
        times = [start + dt.timedelta(seconds=3500 * i / rows) for i in range(rows)]
        ids = sorted(_id(t) for t in times)
        scores = rng.uniform(0, 1, rows)
        columns = {
            "prediction_id": ids,
            "at": times,
            "model": [MODEL] * rows,
            "version": [version] * rows,
            "alias": [""] * rows,
            "shadow": [False] * rows,
            "latency_ms": [1.0] * rows,
            "inputs": [json.dumps(r) for r in frame.to_dict("records")],
            "features": [None] * rows,
            "output": [json.dumps([1 - s, s]) for s in scores],
        }
        buffer = io.BytesIO()
        pq.write_table(segment_table(columns), buffer)
        blob = client.blobs.put(buffer.getvalue())
        client.serving.record_segment(
            model=MODEL,
            instance_id="0" * 32,
            digest=blob.digest,
            hour=start,
            rows=rows,
            first_id=ids[0],
            last_id=ids[-1],
            versions=[version],
        )
        for pid, score in list(zip(ids, scores, strict=True))[::3]:
            labels[pid] = float(rng.uniform() < score)
    started = time.perf_counter()
    for chunk in range(0, len(labels), 50_000):
        client.monitoring.log_labels(MODEL, dict(list(labels.items())[chunk : chunk + 50_000]))
    print(
        f"{len(labels)} labels stored in {time.perf_counter() - started:.1f} s (batches of "
        "50,000: each finds its predictions in the log, writes the rows and packs their hours)",
        flush=True,
    )
    client.monitoring.put(
        MODEL, window="1h", backfill=f"{days}d", performance={"metric": "auc", "min": 0.6}
    )
    started = time.perf_counter()
    computed = 0
    while True:
        result = client.monitoring.run(MODEL)
        computed += len(result.windows)
        if not result.windows:
            break
    seconds = time.perf_counter() - started
    client.close()
    print(
        f"the monitor computed {computed} windows in {seconds:.1f} s "
        f"({computed / seconds:.1f} windows/s)",
        flush=True,
    )
    return seconds


CHILD = """
import time, datetime as dt, json, sys
started = time.perf_counter()
import dockyard as dy
client = dy.connect(home=sys.argv[1], url=sys.argv[2] or None)
since = dt.datetime.now(dt.UTC) - dt.timedelta(days=int(sys.argv[4]))
connected = time.perf_counter()
if sys.argv[3] == "report":
    found = client.monitoring.report("watched", since=since)
    size = sum(v.windows for v in found.versions)
else:
    size = len(client.monitoring.windows("watched", since=since, limit=10000))
done = time.perf_counter()
print(json.dumps({"seconds": done - started, "call": done - connected, "windows": size}))
"""


def measure(home: Path, url: str, what: str, days: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(DATA / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [str(PY), "-c", CHILD, str(home), url, what, str(days)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    found: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return found


def served(url: str, days: int, repeat: int) -> dict[str, list[float]]:
    """Milliseconds of each GET of the report and the windows, from one warm HTTP client."""
    import httpx

    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat()
    asks = {
        "report": ("/monitoring/report", {"model": MODEL, "since": since}),
        "windows": ("/monitoring/windows", {"model": MODEL, "since": since, "limit": 10000}),
    }
    found: dict[str, list[float]] = {}
    with httpx.Client(base_url=f"{url}/api/v1", timeout=120) as http:
        for what, (path, params) in asks.items():
            http.get(path, params=params).raise_for_status()  # the server's first call
            for _ in range(repeat):
                started = time.perf_counter()
                http.get(path, params=params).raise_for_status()
                found.setdefault(what, []).append((time.perf_counter() - started) * 1000)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reuse", action="store_true", help="measure on the home a previous run built"
    )
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    home = DATA / "home"
    if not (args.reuse and (home / "dockyard.db").exists()):
        build(home, args.days, args.rows)
    measure(home, "", "report", args.days)  # warm the bytecode cache
    results: dict[tuple[str, str], list[float]] = {}
    modes = [("embedded", "")]
    with dockyard_server(home) as url:
        modes.append(("server", url))
        for _ in range(args.repeat):
            for mode, address in modes:
                for what in ("report", "windows"):
                    got = measure(home, address, what, args.days)
                    results.setdefault((mode, what), []).append(got["call"] * 1000)
                    results.setdefault((mode, what + " +start"), []).append(got["seconds"] * 1000)
        for what, values in served(url, args.days, max(args.repeat, 7)).items():
            results[("served", what)] = values
    print(
        f"\n{args.days}-day view at hourly windows, {args.rows} predictions each, "
        f"50 columns; embedded/server: a fresh process each, the call alone and '+start' with "
        f"import + connect, medians of {args.repeat}; served: one warm HTTP client's GETs, "
        f"medians of {max(args.repeat, 7)} (ms)"
    )
    failed = False
    for (mode, what), values in results.items():
        median = statistics.median(values)
        verdict = ""
        if mode == "served" and what == "report":  # the view a running server gives
            verdict = "PASS" if median <= TARGET_MS else "FAIL"
            failed |= median > TARGET_MS
        print(f"  {mode:9} {what:16} median {median:8.1f}  min {min(values):8.1f}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
