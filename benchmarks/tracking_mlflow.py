"""The MLflow side of benchmarks/tracking.py; runs in MLflow's venv, prints one JSON line.

    .bench/mlflow/bin/python benchmarks/tracking_mlflow.py write --uri URI --runs 2 --steps 200
    .bench/mlflow/bin/python benchmarks/tracking_mlflow.py search --db FILE --runs 100000
    .bench/mlflow/bin/python benchmarks/tracking_mlflow.py history --db FILE --points 25000
    .bench/mlflow/bin/python benchmarks/tracking_mlflow.py concurrency --db FILE --procs 32

write: the usual user API (`mlflow.start_run`, `mlflow.log_metrics(dict, step=...)`) against
``URI`` (``sqlite:///...`` or a `mlflow server` URL); wall time from the first log call to the
end of the last ``with`` block. search: MLflow creates its schema and one template run through
its API, then the runs of tracking_data.seed_runs are inserted straight into its SQLite tables
(its API would take hours for 100k runs), then `MlflowClient.search_runs` is timed. history:
one metric of ``--points`` points logged with `MlflowClient.log_batch`, then
`MlflowClient.get_metric_history` is timed. concurrency: MLflow creates its schema in a new
SQLite file, then ``--procs`` writer processes (``concurrency-writer``) start together, each
`mlflow.start_run()` in the default experiment and `mlflow.log_metrics(dict, step=...)`;
afterwards the points stored per run and key are counted in its `metrics` table. Not part of
dockyard; no dockyard imports.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

from tracking_data import (
    MLFLOW_FILTER,
    STEPS_PER_RUN,
    TOP,
    history_point,
    report,
    seed_runs,
    start_together,
    wait_for_go,
)


def timings(fn: Callable[[], object], repeat: int, budget_s: float) -> list[float]:
    """One warm-up call, then up to ``repeat`` timed calls (at least 3, within the budget)."""
    fn()
    times: list[float] = []
    deadline = time.monotonic() + budget_s
    while len(times) < repeat and (len(times) < 3 or time.monotonic() < deadline):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def write(args: argparse.Namespace) -> dict[str, Any]:
    mlflow.set_tracking_uri(args.uri)
    mlflow.set_experiment("e")  # creates the schema on a new SQLite file (untimed)
    keys = [f"m{i}" for i in range(args.metrics)]
    rnd = random.Random(0).random
    logging = starting = 0.0
    for r in range(args.runs):
        began = time.perf_counter()
        with mlflow.start_run():
            mlflow.log_params({"lr": "0.01", "batch": 64, "run": r})
            first = time.perf_counter()
            for step in range(args.steps):
                mlflow.log_metrics({k: rnd() for k in keys}, step=step)
        logging += time.perf_counter() - first
        starting += first - began
    points = args.runs * args.steps * args.metrics
    return {"points": points, "seconds": logging, "start_run": starting}


def columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def insert(db: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    names = list(rows[0])
    quoted = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" for _ in names)
    db.executemany(
        f"INSERT INTO {table} ({quoted}) VALUES ({marks})", [tuple(r.values()) for r in rows]
    )


def seed(path: str, count: int) -> list[str]:
    """Seed ``count`` runs into MLflow's SQLite file; return the experiment ids."""
    client = MlflowClient(f"sqlite:///{path}")
    experiments = [client.create_experiment(f"e{i}") for i in range(10)]
    template = client.create_run(client.create_experiment("template"), run_name="template")
    client.set_terminated(template.info.run_id)
    tid = template.info.run_id
    db = sqlite3.connect(path)
    cursor = db.execute("SELECT * FROM runs WHERE run_uuid = ?", (tid,))
    base = dict(zip(columns(db, "runs"), cursor.fetchone(), strict=True))
    rng = random.Random(11)
    batch: dict[str, list[dict[str, Any]]] = {t: [] for t in ("runs", "tags", "params")}
    batch |= {"latest_metrics": [], "metrics": []}
    for run in seed_runs(count):
        rid = f"{rng.getrandbits(128):032x}"
        batch["runs"].append(
            base
            | {
                "run_uuid": rid,
                "name": run.name,
                "user_id": run.user,
                "status": run.status.upper(),
                "start_time": run.start_ms,
                "end_time": run.end_ms,
                "lifecycle_stage": "active",
                "artifact_uri": str(base["artifact_uri"]).replace(tid, rid),
                "experiment_id": int(experiments[run.experiment]),
            }
        )
        for key, value in (("mlflow.runName", run.name), ("mlflow.user", run.user)):
            batch["tags"].append({"key": key, "value": value, "run_uuid": rid})
        for key, value in run.params:
            batch["params"].append({"key": key, "value": value, "run_uuid": rid})
        for key, last, _, _ in run.metrics:
            point = {"key": key, "value": last, "timestamp": run.end_ms, "step": STEPS_PER_RUN - 1}
            batch["latest_metrics"].append(point | {"is_nan": 0, "run_uuid": rid})
            batch["metrics"].append(point | {"is_nan": 0, "run_uuid": rid})
        if len(batch["runs"]) >= 5000 or run.index == count - 1:
            for table, rows in batch.items():
                insert(db, table, rows)
                rows.clear()
    db.commit()
    db.close()
    return experiments


def search(args: argparse.Namespace) -> dict[str, Any]:
    began = time.perf_counter()
    experiments = seed(args.db, args.runs)
    seeded = time.perf_counter() - began
    client = MlflowClient(f"sqlite:///{args.db}")
    found: list[str] = []

    def once() -> None:
        runs = client.search_runs(
            experiment_ids=experiments,
            filter_string=MLFLOW_FILTER,
            order_by=["metrics.m2 DESC"],
            max_results=TOP,
        )
        found[:] = [r.info.run_name for r in runs]

    times = timings(once, args.repeat, args.budget)
    return {"seed_seconds": seeded, "times": times, "top": found}


def history(args: argparse.Namespace) -> dict[str, Any]:
    client = MlflowClient(f"sqlite:///{args.db}")
    run_id = client.create_run(client.create_experiment("history")).info.run_id
    rng = random.Random(3)
    began = time.perf_counter()
    for start in range(0, args.points, 1000):  # MLflow takes at most 1000 metrics a batch
        stop = min(args.points, start + 1000)
        steps = range(start, stop)
        points = [Metric("loss", history_point(s, rng), 1_000_000 + s, s) for s in steps]
        client.log_batch(run_id, metrics=points)
    logged = time.perf_counter() - began
    sizes: list[int] = []

    def once() -> None:
        sizes.append(len(client.get_metric_history(run_id, "loss")))

    times = timings(once, args.repeat, args.budget)
    return {"log_seconds": logged, "times": times, "returned": sizes[-1]}


def concurrency(args: argparse.Namespace) -> dict[str, Any]:
    uri = f"sqlite:///{args.db}"
    MlflowClient(uri).search_experiments()  # creates the schema and the default experiment
    argv = [sys.executable, __file__, "concurrency-writer", "--uri", uri]
    argv += ["--steps", str(args.steps), "--metrics", str(args.metrics)]
    work = Path(args.db).resolve().parent
    go, outcomes = start_together(
        [argv] * args.procs, env=os.environ, cwd=work, timeout=args.timeout
    )
    db = sqlite3.connect(args.db)
    series: dict[str, dict[str, list[int]]] = {}
    query = "SELECT run_uuid, key, COUNT(*), COUNT(DISTINCT step) FROM metrics GROUP BY 1, 2"
    for run_id, key, count, distinct in db.execute(query):
        series.setdefault(run_id, {})[key] = [count, distinct]
    statuses = dict(db.execute("SELECT run_uuid, status FROM runs").fetchall())
    db.close()
    return {"go": go, "outcomes": outcomes, "series": series, "statuses": statuses}


def concurrency_writer(args: argparse.Namespace) -> None:
    """One writer: what tracking_env.writer does on dockyard's side, with MLflow's API."""
    mlflow.set_tracking_uri(args.uri)
    keys = [f"m{i}" for i in range(args.metrics)]
    rnd = random.Random(os.getpid()).random
    result: dict[str, Any] = {"run_id": None, "logged": 0, "error": None}
    result["began"] = wait_for_go()
    try:
        with mlflow.start_run() as run:
            result["run_id"] = run.info.run_id
            result["started"] = time.time()
            for step in range(args.steps):
                mlflow.log_metrics({k: rnd() for k in keys}, step=step)
                result["logged"] += args.metrics
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:1000]
    result["ended"] = time.time()
    report(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    w = sub.add_parser("write")
    w.add_argument("--uri", required=True)
    w.add_argument("--runs", type=int, default=2)
    w.add_argument("--steps", type=int, default=200)
    w.add_argument("--metrics", type=int, default=10)
    for name, size in (("search", "--runs"), ("history", "--points")):
        p = sub.add_parser(name)
        p.add_argument("--db", required=True, help="a new SQLite file")
        p.add_argument(size, type=int, required=True)
        p.add_argument("--repeat", type=int, default=20)
        p.add_argument("--budget", type=float, default=120.0, help="seconds for timed calls")
    c = sub.add_parser("concurrency")
    c.add_argument("--db", required=True, help="a new SQLite file")
    c.add_argument("--procs", type=int, default=32)
    c.add_argument("--steps", type=int, default=100)
    c.add_argument("--metrics", type=int, default=10)
    c.add_argument("--timeout", type=float, default=900.0, help="seconds before a kill")
    cw = sub.add_parser("concurrency-writer")
    cw.add_argument("--uri", required=True)
    cw.add_argument("--steps", type=int, required=True)
    cw.add_argument("--metrics", type=int, default=10)
    args = parser.parse_args()
    if args.mode == "concurrency-writer":
        concurrency_writer(args)
        return
    modes = {"write": write, "search": search, "history": history, "concurrency": concurrency}
    result = modes[args.mode](args)
    result["mlflow"] = mlflow.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
