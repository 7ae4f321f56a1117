"""Batch inference: ``dy.predict_batch`` of a dataset version through a 200-tree LightGBM
model with 12 features, on this process (``local``), the process pool and Ray, rows/s and
peak memory, beside MLflow and a plain ``Booster.predict`` loop.

Run from the project root:

    .venv/bin/python benchmarks/predict_batch.py [--rows 10000000] [--batch-size 65536]
        [--executors local,pool,ray] [--repeat 1] [--no-mlflow]

or ``--smoke`` (200k rows, local only, no peer). The data (``--rows`` transactions: an id, 12
float features, a label) is generated once into an embedded home under
``benchmarks/.data/predict_batch/`` and ingested as ``bench/transactions``; the model is a
binary LightGBM booster of 200 trees (31 leaves) trained on 200k other rows, registered as
``fraud-detector@champion``. Each measurement runs in a fresh child process, from before
``predict_batch`` to the committed output version (the output dataset is deleted and its
blobs collected first, so each pays for its uploads), the output holding the id, the label
and ``prediction``. Ray's start (``ray.init``) is timed apart, before the job.

Memory: the child's own peak RSS (``VmHWM``), the largest worker's peak RSS and the peak of
the whole process tree (Ray's own processes included), sampled every 0.1 s.

Peers on the same files: MLflow's ``mlflow.pyfunc.load_model(...).predict`` over pandas
chunks of ``--batch-size`` rows in MLflow's own venv (``.bench/mlflow``, made by
benchmarks/models.py's helper if missing; benchmarks/predict_batch_mlflow.py), writing the
same output columns to Parquet (its batch path, ``spark_udf``, needs Spark); and the floor:
``lightgbm.Booster.predict`` on numpy arrays of the same chunks in one process, written the
same way. The mean prediction of every side must agree. No targets: the table compares.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".data" / "predict_batch"
FEATURES = [f"f{i}" for i in range(12)]
MODEL = "models:/fraud-detector@champion"
CHUNK = 1_000_000
console = Console(width=150)


# -- the data and the model (made once per row count) --------------------------------------


def _rows(n: int, seed: int, start: int) -> Any:
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    score = x[:, 0] + 0.5 * x[:, 1] * x[:, 2] - np.abs(x[:, 3]) + 0.3 * rng.normal(size=n)
    columns = {"transaction_id": pa.array(np.arange(start, start + n, dtype=np.int64))}
    columns.update({name: pa.array(x[:, i]) for i, name in enumerate(FEATURES)})
    columns["is_fraud"] = pa.array((score > 1.0).astype(np.int64))
    return pa.record_batch(columns)


def prepare(rows: int) -> Path:
    """The home holding ``bench/transactions`` (``rows`` rows) and the champion model."""
    import lightgbm as lgb
    import pyarrow as pa

    import dockyard as dy

    home = WORK / f"home-{rows}"
    if (home / "ready").is_file():
        return home
    home.mkdir(parents=True, exist_ok=True)
    with dy.connect(home=home) as client:
        train = _rows(200_000, seed=99, start=0).to_pandas()
        booster = lgb.train(
            {"objective": "binary", "num_leaves": 31, "verbose": -1, "seed": 0},
            lgb.Dataset(train[FEATURES], train.is_fraud),
            num_boost_round=200,
        )
        with dy.start_run("bench", client=client, capture=dy.Capture.off()) as run:
            dy.log_model(booster, "model", input_example=train[FEATURES].head())
        version = dy.register_model(run, "model", name="fraud-detector", client=client)
        dy.set_alias("fraud-detector", "champion", version.version, client=client)
        first = _rows(min(CHUNK, rows), 0, 0)

        def chunks() -> Iterator[Any]:
            yield first
            for seed, start in enumerate(range(CHUNK, rows, CHUNK), start=1):
                yield _rows(min(CHUNK, rows - start), seed, start)

        reader = pa.RecordBatchReader.from_batches(first.schema, chunks())
        client.datasets.ingest("bench", "transactions", reader)
    (home / "ready").write_text(str(rows))
    return home


# -- one measurement, in a child process ----------------------------------------------------


class Sampler:
    """Peak RSS of this process's descendants: the largest worker and the whole tree. A
    worker is a pool's (a fresh interpreter, or a child a zygote forked: it keeps the
    zygote's command line) or Ray's."""

    WORKERS = ("pool_worker", "default_worker", "ray::")
    ZYGOTE = "_zygote_main"

    def __init__(self) -> None:
        self.worker_peak = 0
        self.tree_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            total = me.memory_info().rss
            for process in me.children(recursive=True):
                try:
                    rss = process.memory_info().rss
                    line = " ".join(process.cmdline())
                    parent = " ".join(process.parent().cmdline())
                except (psutil.Error, AttributeError):
                    continue
                total += rss
                forked = self.ZYGOTE in line and self.ZYGOTE in parent
                if forked or any(mark in line for mark in self.WORKERS):
                    self.worker_peak = max(self.worker_peak, rss)
            self.tree_peak = max(self.tree_peak, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def child(kind: str, home: Path, batch_size: int) -> dict[str, Any]:
    # imported before the clock starts, as the peers import theirs: a job's imports in this
    # process are not its work (a pool's or Ray's workers import theirs on the clock)
    import lightgbm  # noqa: F401
    import pyarrow.compute as pc

    import dockyard as dy
    import dockyard.sdk.predict

    sampler = Sampler()
    result: dict[str, Any] = {}
    with dy.connect(home=home) as client:
        if kind == "floor":
            result = floor(client, batch_size)
        else:
            if kind == "ray":
                import ray

                began = time.perf_counter()
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
                result["ray_start"] = time.perf_counter() - began
            began = time.perf_counter()
            made = dy.predict_batch(
                MODEL,
                "bench/transactions",
                "bench/scores",
                executor=kind,
                batch_size=batch_size,
                client=client,
            )
            result["seconds"] = time.perf_counter() - began
            result["rows"] = made.rows
            result["digest"] = made.output.digest
            table = made.output.to_arrow(columns=["prediction"])
            result["mean"] = pc.mean(table.column("prediction")).as_py()
    sampler.stop()
    result["driver_peak"] = peak_rss()
    result["worker_peak"] = sampler.worker_peak
    result["tree_peak"] = sampler.tree_peak
    return result


def floor(client: Any, batch_size: int) -> dict[str, Any]:
    """``Booster.predict`` on numpy chunks of the same files, written to one Parquet file."""
    import tempfile

    import lightgbm as lgb
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    version = client.datasets.version("bench", "transactions")
    files = client.datasets.local_files(version)
    folder = client.models.download(MODEL)
    began = time.perf_counter()
    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    rows, total = 0, 0.0
    with tempfile.TemporaryDirectory(dir=WORK) as work:
        writer: pq.ParquetWriter | None = None
        for path in files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
                x = np.column_stack([batch.column(f).to_numpy() for f in FEATURES])
                out = pa.table(
                    {
                        "transaction_id": batch.column("transaction_id"),
                        "is_fraud": batch.column("is_fraud"),
                        "prediction": pa.array(booster.predict(x)),
                    }
                )
                if writer is None:
                    writer = pq.ParquetWriter(Path(work) / "scores.parquet", out.schema)
                writer.write_table(out)
                rows += batch.num_rows
                total += pc.sum(out.column("prediction")).as_py()
        if writer is not None:
            writer.close()
    return {"seconds": time.perf_counter() - began, "rows": rows, "mean": total / rows}


def peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM, which starts afresh at exec (``ru_maxrss``
    carries the forking parent's over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- the parent: measurements side by side --------------------------------------------------


def reset_output(home: Path) -> None:
    """Delete the output dataset and collect its blobs: the next job uploads its parts."""
    import dockyard as dy
    from dockyard.core.errors import NotFound

    with dy.connect(home=home) as client:
        with contextlib.suppress(NotFound):
            client.datasets.delete("bench", "scores")
        client.gc(grace_seconds=0)


def child_env() -> dict[str, str]:
    """The environment of the measured processes (and so of their workers): bytecode cached
    under benchmarks/.data/pycache, so that no side compiles its imports on the clock."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {"PYTHONPYCACHEPREFIX": str(WORK.parent / "pycache")}


def measure(kind: str, home: Path, batch_size: int) -> dict[str, Any]:
    if kind != "floor":
        reset_output(home)
    argv = [sys.executable, __file__, "--child", kind, "--home", str(home)]
    argv += ["--batch-size", str(batch_size)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=child_env())
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_mlflow(home: Path, batch_size: int) -> dict[str, Any]:
    import tempfile

    import dockyard as dy
    from models import MLFLOW_PYTHON, PEER_ENV, ensure_peer

    ensure_peer()
    with dy.connect(home=home) as client:
        files = client.datasets.local_files(client.datasets.version("bench", "transactions"))
        folder = client.models.download(MODEL)
    with tempfile.TemporaryDirectory(dir=WORK) as work:
        argv = [str(MLFLOW_PYTHON), str(ROOT / "benchmarks" / "predict_batch_mlflow.py")]
        argv += ["--model-file", str(folder / "model.txt"), "--work", work]
        argv += ["--batch-size", str(batch_size), *map(str, files)]
        env = {k: v for k, v in child_env().items() if k != "PYTHONPATH"} | PEER_ENV
        done = subprocess.run(argv, capture_output=True, text=True, cwd=work, env=env)
    if done.returncode:
        raise SystemExit(f"mlflow failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def mib(value: float | None) -> str:
    return "-" if not value else f"{value / 2**20:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch-size", type=int, default=65_536)
    parser.add_argument("--executors", default="local,pool,ray")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="200k rows, local only, no peer")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.home, args.batch_size)))
        return
    if args.smoke:
        args.rows, args.executors, args.no_mlflow = 200_000, "local", True
    WORK.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    home = prepare(args.rows)
    console.print(f"data and model ready in {time.perf_counter() - began:.0f} s: {home}")
    sides = [*args.executors.split(","), "floor"] + ([] if args.no_mlflow else ["mlflow"])
    results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for _ in range(args.repeat):
        for side in sides:
            if side == "mlflow":
                got = measure_mlflow(home, args.batch_size)
            else:
                got = measure(side, home, args.batch_size)
            results[side].append(got)
            console.print(f"{side}: {json.dumps(got)}")
    show(results, args)


def show(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    def median(side: str, key: str) -> float:
        values = [r[key] for r in results[side] if r.get(key) is not None]
        return statistics.median(values) if values else 0.0

    peer = "mlflow" if "mlflow" in results else "floor"
    peer_rate = args.rows / median(peer, "seconds")
    table = Table(
        title=f"batch inference, {args.rows:,} rows x 12 features, 200-tree LightGBM, "
        f"batches of {args.batch_size:,}, {os.cpu_count()} CPUs, median of {args.repeat}"
    )
    for header in ("side", "rows/s", "seconds", f"x {peer}", "driver MiB", "worker MiB"):
        table.add_column(header, justify="right" if header != "side" else "left")
    table.add_column("tree MiB", justify="right")
    table.add_column("note")
    means = set()
    for side in results:
        seconds = median(side, "seconds")
        rate = args.rows / seconds
        means.add(round(median(side, "mean"), 9))
        note = f"Ray start {median(side, 'ray_start'):.1f} s apart" if side == "ray" else ""
        table.add_row(
            side,
            f"{rate:,.0f}",
            f"{seconds:.1f}",
            f"{rate / peer_rate:.2f}",
            mib(median(side, "driver_peak")),
            mib(median(side, "worker_peak")),
            mib(median(side, "tree_peak")),
            note,
        )
    console.print(table)
    digests = {r["digest"] for runs in results.values() for r in runs if "digest" in r}
    console.print(
        f"same output version on every executor: {len(digests) == 1}; "
        f"same mean prediction on every side: {len(means) == 1} ({sorted(means)[0]:.9f})"
    )
    load = os.getloadavg()
    console.print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
