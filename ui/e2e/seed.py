"""Seed a dockyard home for the UI's end-to-end tests.

    .venv/bin/python ui/e2e/seed.py HOME [--runs 100000]

On the embedded home HOME (SQLite and a blob folder): the fraud demo (project ``fraud``, the
dataset ``fraud/transactions``, the model ``fraud-detector`` with its ``champion`` alias and a
pipeline run), then RUNS runs in the project ``scale`` (a few experiments, params, metrics
with a few steps of history, tags) inserted straight into the tables by the benchmarks' bulk
seed, then in ``fraud`` a run with an artifact of every previewable kind (text, JSON, PNG,
Parquet, CSV, HTML, a model folder), a 20,000-point metric and system metrics; a run that
failed; a run started in a git checkout with uncommitted changes; the dataset
``fraud/ui_sample`` (three versions: a diff, a failed validation) with the model
``ui-sample-model`` (an alias history with a gate, a forced move and a rollback); the
feature view ``card_history`` over ``fraud/transactions`` (two versions, materialized, three
events pushed: a new version of the dataset) with the training set ``fraud/card_training``
built from ``fraud/card_labels``; a pipeline run whose fan-out failed on two items; and
the served model ``ui-serving-model`` with a prediction log (seed_serving.py); and the
model ``ui-monitored-model`` in ``retail`` with a prediction log of past hours, labels and a
monitor run over them (seed_monitoring.py). The
last line printed is a JSON summary (ids of the special runs, counts); progress goes to
stderr.

Seeding again with the same RUNS (and seed format) only prints the summary again
(HOME/.seeded holds it).
A home seeded with another RUNS, or left half-seeded, is emptied and seeded anew; a home
this script did not make is refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import shutil
import struct
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))  # its tracking_env and tracking_data: imported
# only when seeding, so that a home seeded already is answered at once

if TYPE_CHECKING:
    from tracking_data import SeedRun

SEEDED = ".seeded"  # the summary of a finished seed, with its run count and format
FORMAT = 10  # what a seed holds; a home seeded by an older format is seeded anew
SEEDING = ".seeding"  # present while seeding: a home with it (only) may be emptied
KEPT = {"seed-summary.json"}  # written next to the seed by the e2e setup

SCALE_PROJECT = "scale"
SCALE_EXPERIMENTS = ["baseline", "tuning", "ablation", "sweep-lr", "sweep-depth"]
SCALE_METRICS = ("loss", "accuracy", "auc")
SCALE_STEPS = 5
LONG_METRIC_POINTS = 20_000


def say(line: str) -> None:
    print(f"seed: {line}", file=sys.stderr, flush=True)


# --- the home -------------------------------------------------------------------------------


def prepare(home: Path, runs: int) -> dict[str, Any] | None:
    """The summary of an earlier seed of ``runs`` runs, else None once ``home`` is ready."""
    marker = home / SEEDED
    if marker.exists():
        try:
            done = json.loads(marker.read_text())
        except ValueError:
            done = {}
        fresh = done.get("runs") == runs and done.get("format") == FORMAT
        if fresh and isinstance(done.get("summary"), dict):
            return dict(done["summary"])
    leftovers = [p for p in home.iterdir() if p.name not in KEPT] if home.exists() else []
    if leftovers and not (marker.exists() or (home / SEEDING).exists()):
        raise SystemExit(
            f"seed: {home} holds files this script did not make ({leftovers[0].name}, ...); "
            "give an empty or new folder"
        )
    for path in leftovers:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    home.mkdir(parents=True, exist_ok=True)
    (home / SEEDING).write_text(json.dumps({"runs": runs}))
    return None


# --- the scale project: many runs straight into the tables ----------------------------------


def scale_runs(count: int) -> Iterator[SeedRun]:
    """``count`` runs, one a minute up to two hours ago: params, tags and three metrics of
    SCALE_STEPS points each (a loss going down, accuracy and auc going up)."""
    from tracking_data import SeedRun

    rng = random.Random(11)
    now_ms = int(time.time() * 1000)
    first = now_ms - 2 * 3_600_000 - count * 60_000
    users = ("alice", "bob", "carol", "dan", "erin")
    for i in range(count):
        lr = rng.choice((0.3, 0.1, 0.03, 0.01, 0.003, 0.001))
        depth = rng.randint(2, 12)
        quality = min(0.99, 0.6 + 0.3 * rng.random() + 0.02 * math.log10(1 / lr))
        loss = [
            round((1 - quality) + 0.8 * math.exp(-s) * rng.random(), 6) for s in range(SCALE_STEPS)
        ]
        accuracy = [round(quality * (1 - 0.3 * math.exp(-s)), 6) for s in range(SCALE_STEPS)]
        auc = [round(min(1.0, a + 0.02 * rng.random()), 6) for a in accuracy]
        history = dict(zip(SCALE_METRICS, (loss, accuracy, auc), strict=True))
        start = first + i * 60_000
        yield SeedRun(
            index=i,
            name=f"scale-{i:06d}",
            experiment=i % len(SCALE_EXPERIMENTS),
            user=users[i % len(users)],
            status="failed" if rng.random() < 0.05 else "finished",
            start_ms=start,
            end_ms=start + rng.randint(10_000, 3_600_000),
            params=[
                ("lr", repr(lr)),
                ("depth", str(depth)),
                ("batch_size", str(2 ** rng.randint(4, 9))),
                ("optimizer", rng.choice(("adam", "sgd", "rmsprop"))),
                ("dropout", repr(round(rng.random() * 0.5, 2))),
                ("model", rng.choice(("mlp", "cnn", "gbm"))),
                ("seed", str(i % 1000)),
                ("epochs", str(SCALE_STEPS)),
            ],
            metrics=[(key, v[-1], min(v), max(v)) for key, v in history.items()],
            history=history,
            tags=[
                ("team", rng.choice(("risk", "growth", "platform"))),
                ("stage", rng.choice(("dev", "staging", "prod"))),
                ("dataset", f"fraud/transactions@{1 + i % 3}"),
            ],
        )


# --- the special runs in fraud ----------------------------------------------------------------


def png(width: int = 64, height: int = 48) -> bytes:
    """A small RGB gradient as a valid PNG (no imaging library needed)."""
    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (x * 4 % 256, y * 5 % 256, 160))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def preview_files(folder: Path) -> list[Path]:
    """One file of each kind the UI previews, in ``folder``."""
    import pandas as pd

    rng = random.Random(3)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    frame = pd.DataFrame(
        {
            "transaction_id": list(range(1, 501)),
            "amount": [round(rng.lognormvariate(3, 1), 2) for _ in range(500)],
            "score": [rng.random() if i % 50 else float("nan") for i in range(500)],
            "merchant": [rng.choice(["acme", "globex", "initech", None]) for _ in range(500)],
            "is_fraud": [rng.random() < 0.03 for _ in range(500)],
            "at": [start + dt.timedelta(minutes=17 * i) for i in range(500)],
        }
    )
    files = {
        "notes.txt": "Notes of the preview run.\nEvery artifact kind the UI shows is here.\n",
        "config.json": json.dumps(
            {"model": "gbm", "params": {"lr": 0.05, "depth": 6}, "features": ["amount"]},
            indent=2,
        ),
        "report.html": (
            "<!doctype html><html><head><title>Report</title></head><body>"
            "<h1>Fraud report</h1><p>AUC <b>0.91</b> on the holdout.</p></body></html>"
        ),
    }
    made = []
    for name, text in files.items():
        (folder / name).write_text(text)
        made.append(folder / name)
    (folder / "roc.png").write_bytes(png())
    frame.to_parquet(folder / "predictions.parquet", index=False)
    frame.to_csv(folder / "predictions.csv", index=False)
    made += [folder / "roc.png", folder / "predictions.parquet", folder / "predictions.csv"]
    return made


def system_metrics(start_ms: int, points: int = 120) -> dict[str, Any]:
    """A run's system metrics as the SDK samples them (every 10 s): CPU, memory, RSS, a GPU."""
    from dockyard.tracking.schemas import MetricSeries

    def series(values: list[float]) -> MetricSeries:
        return MetricSeries(
            steps=list(range(points)),
            timestamps=[start_ms + 10_000 * i for i in range(points)],
            values=values,
        )

    wave = [math.sin(i / 9) for i in range(points)]
    return {
        "system/cpu_percent": series([min(100.0, 62 + 30 * w) for w in wave]),
        "system/memory_percent": series([41 + i * 0.15 for i in range(points)]),
        "system/process_rss_mib": series([820 + 4 * i + 30 * w for i, w in enumerate(wave)]),
        "system/gpu0_percent": series([max(0.0, 80 + 18 * w) for w in wave]),
    }


def small_model() -> Any:
    """A fitted scikit-learn model, so the run has a model folder to preview."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    return LogisticRegression().fit(features, features[:, 0] + rng.normal(size=200) > 0)


def code_run(client: Any, work: Path) -> str:
    """A run started in a git checkout with uncommitted changes: its commit, branch, remote
    and diff (an edited file, an untracked one) are what the Code tab shows."""
    import contextlib
    import subprocess

    import dockyard as dy

    repo = work / "fraud-models"
    repo.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "seed@dockyard.local")
    git("config", "user.name", "seed")
    git("remote", "add", "origin", "https://github.com/example/fraud-models.git")
    script = repo / "train.py"
    script.write_text("import lightgbm\n\nLEARNING_RATE = 0.1\nDEPTH = 6\n")
    git("add", "train.py")
    git("commit", "-q", "-m", "a first model")
    script.write_text("import lightgbm\n\nLEARNING_RATE = 0.05  # slower, steadier\nDEPTH = 8\n")
    (repo / "notes.md").write_text("try a deeper tree\n")
    capture = dy.Capture(system_metrics=False)
    with (
        contextlib.chdir(repo),
        dy.start_run(
            "fraud",
            experiment="previews",
            name="uncommitted-change",
            capture=capture,
            client=client,
        ) as run,
    ):
        run.log_params({"learning_rate": 0.05, "depth": 8})
        return str(run.id)


def special_runs(client: Any, work: Path) -> dict[str, Any]:
    """The preview run (artifacts of every kind, a 20k-point metric) and a failed run."""
    import dockyard as dy
    from dockyard.tracking.schemas import MetricBatch, MetricSeries

    capture = dy.Capture(git=False, system_metrics=False)
    with dy.start_run(
        "fraud",
        experiment="previews",
        name="artifact-previews",
        params={"lr": 0.05, "depth": 6},
        tags={"purpose": "ui-e2e"},
        capture=capture,
        client=client,
    ) as run:
        print("logging one artifact of each kind and a long metric", file=sys.stderr)
        artifacts = []
        for path in preview_files(work):
            run.log_artifact(path, f"previews/{path.name}")
            artifacts.append(f"previews/{path.name}")
        steps = list(range(LONG_METRIC_POINTS))
        now_ms = int(time.time() * 1000) - LONG_METRIC_POINTS * 100
        values = [math.exp(-s / 4000) + 0.05 * math.sin(s / 40) for s in steps]
        values[12_345] = 3.0  # a spike a downsampled chart must keep
        series = MetricSeries(
            steps=steps, timestamps=[now_ms + 100 * s for s in steps], values=values
        )
        client.runs.log_batch(run.id, MetricBatch(series={"train/loss": series}))
        run.log_metrics({"auc": 0.91, "accuracy": 0.97}, step=0)
        client.runs.log_batch(run.id, MetricBatch(series=system_metrics(now_ms)))
        dy.log_model(small_model(), "model")
        preview_id = run.id
    failed_id = None
    try:
        with dy.start_run(
            "fraud",
            experiment="previews",
            name="deliberately-failed",
            tags={"purpose": "ui-e2e"},
            capture=capture,
            client=client,
        ) as run:
            failed_id = run.id
            run.log_metrics({"loss": 0.9}, step=0)
            print("about to fail on purpose", file=sys.stderr)
            raise RuntimeError("this run fails on purpose (ui/e2e/seed.py)")
    except RuntimeError:
        pass
    return {
        "preview_run": preview_id,
        "preview_artifacts": sorted(artifacts),
        "long_metric": {"run": preview_id, "key": "train/loss", "points": LONG_METRIC_POINTS},
        "failed_run": failed_id,
    }


# --- the datasets and models pages' samples, a failed pipeline ------------------------

UI_SAMPLE_DATASET = "ui_sample"
UI_SAMPLE_MODEL = "ui-sample-model"
UI_SAMPLE_COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "PL", "NL"]


def ui_samples(client: Any) -> dict[str, Any]:
    """fraud/ui_sample (v2 drops 100 rows, adds 300, changes 100 amounts and adds a column;
    v3 fails its rules) and ui-sample-model (three versions evaluated on it, @champion moved
    through its gate, forced past it and rolled back; @staging without a policy): what the
    Diff and Validation tabs and the alias history need."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import dockyard as dy

    def orders(ids: np.ndarray, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        n = len(ids)
        start = dt.datetime(2025, 3, 1)
        amount = np.round(rng.lognormal(3.5, 0.9, n), 2)
        amount[rng.random(n) < 0.02] = np.nan
        minutes = np.sort(rng.integers(0, 60 * 24 * 30, n))
        return pd.DataFrame(
            {
                "order_id": ids.astype("int64"),
                "customer": [f"c{int(x):05d}" for x in rng.integers(0, 600, n)],
                "country": rng.choice(
                    UI_SAMPLE_COUNTRIES, n, p=[0.35, 0.15, 0.12, 0.1, 0.08, 0.08, 0.07, 0.05]
                ),
                "amount": amount,
                "quantity": rng.integers(1, 6, n).astype("int64"),
                "refunded": rng.random(n) < 0.04,
                "created_at": [start + dt.timedelta(minutes=int(m)) for m in minutes],
            }
        )

    say("adding the dataset fraud/ui_sample and the model ui-sample-model")
    ds = dy.dataset(UI_SAMPLE_DATASET, project="fraud", client=client)
    v1 = orders(np.arange(0, 2000), seed=1)
    ds.add_version(v1, message="initial export: 2,000 orders")
    ds.set_rules(
        [
            {"check": "not_null", "column": "order_id"},
            {"check": "unique", "columns": ["order_id"]},
            {"check": "range", "column": "amount", "min": 0, "name": "amounts are not negative"},
            {"check": "allowed_values", "column": "country", "values": UI_SAMPLE_COUNTRIES},
            {"check": "row_count", "min": 1000},
            {"check": "sql", "expression": "quantity BETWEEN 1 AND 10", "name": "sane quantities"},
        ]
    )
    v2 = pd.concat([v1[v1.order_id >= 100], orders(np.arange(2000, 2300), seed=2)])
    v2 = v2.reset_index(drop=True)
    changed = v2.order_id.between(100, 199)
    v2.loc[changed, "amount"] = np.round(v2.loc[changed, "amount"] * 1.1, 2)
    v2["channel"] = np.random.default_rng(3).choice(
        ["web", "app", "store"], len(v2), p=[0.5, 0.35, 0.15]
    )
    ds.add_version(
        v2, message="March refresh: 300 new orders, 100 dropped, amounts corrected, channel column"
    )
    v3 = v2.copy()
    v3.loc[v3.order_id.between(500, 511), "amount"] *= -1
    v3.loc[v3.order_id.between(600, 604), "country"] = "XX"
    ds.add_version(v3, message="bad extract: negative amounts and an unknown country")

    frame = ds.version(2).to_pandas()
    X = frame[["amount", "quantity"]].fillna(0.0)
    y = frame["refunded"].astype(int)
    capture = dy.Capture(git=False, system_metrics=False)
    versions = []
    for c, auc in [(0.1, 0.74), (1.0, 0.81), (10.0, 0.69)]:
        with dy.start_run(
            "fraud",
            experiment=UI_SAMPLE_DATASET,
            name=f"train-c{c:g}",
            params={"C": c},
            capture=capture,
            client=client,
        ) as run:
            ds.version(2).to_pandas()  # recorded as the run's input
            model = LogisticRegression(C=c).fit(X, y)
            run.log_metrics({"train_accuracy": float(model.score(X, y))}, step=0)
            dy.log_model(model, "model", input_example=X.head())
        mv = dy.register_model(
            run,
            "model",
            name=UI_SAMPLE_MODEL,
            description=f"logistic regression, C={c:g}",
            client=client,
        )
        versions.append(mv.version)
        with dy.start_run(
            "fraud",
            experiment=UI_SAMPLE_DATASET,
            name=f"evaluate-v{mv.version}",
            capture=capture,
            client=client,
        ) as evaluation:
            dy.load_model(f"models:/{UI_SAMPLE_MODEL}/{mv.version}", client=client)
            ds.version(2).to_pandas()
            evaluation.log_metrics({"auc": auc, "precision_at_k": auc - 0.2}, step=0)
    gate = {"metric": "auc", "threshold": 0.7, "dataset": UI_SAMPLE_DATASET}
    dy.set_alias_policy(
        UI_SAMPLE_MODEL,
        "champion",
        {"gates": [{**gate, "not_worse_than_current": True}]},
        client=client,
    )
    dy.set_alias(
        UI_SAMPLE_MODEL, "champion", versions[0], reason="first model over the gate", client=client
    )
    dy.set_alias(
        UI_SAMPLE_MODEL, "champion", versions[1], reason="v2 beats v1 on holdout auc", client=client
    )
    dy.set_alias(
        UI_SAMPLE_MODEL,
        "champion",
        versions[2],
        force=True,
        reason="needed for the March campaign despite the lower auc",
        client=client,
    )
    dy.rollback_alias(UI_SAMPLE_MODEL, "champion", reason="v3 misbehaves on refunds", client=client)
    dy.set_alias(
        UI_SAMPLE_MODEL, "staging", versions[2], reason="try v3 on shadow traffic", client=client
    )
    return {
        "ui_sample": {
            "dataset": f"fraud/{UI_SAMPLE_DATASET}",
            "versions": 3,
            "model": UI_SAMPLE_MODEL,
        }
    }


# --- the feature store: a view over fraud/transactions -------------------------------------

FEATURE_VIEW = "card_history"
FEATURE_LABELS = "card_labels"
TRAINING_SET = "card_training"
STORED_FEATURES = [
    "amount_sum_24h",
    "amount_mean_7d",
    "transactions_all",
    "frauds_known",
    "last_amount",
]


def amount_vs_mean(amount: float | None, mean: float | None) -> float | None:
    """How many times the card's 7-day mean amount a purchase is (the on-demand feature)."""
    return None if amount is None or not mean else amount / mean


def feature_store(client: Any, dataset: str) -> dict[str, Any]:
    """The entity ``card`` and the view ``card_history`` over ``fraud/<dataset>``: applied
    twice (v2 widens a window, adds a feature and changes the lateness), materialized, three
    events pushed now (a new version of the source), and the training set ``card_training``
    built from the labelled purchases ``card_labels``: what the feature pages show."""
    import pandas as pd

    import dockyard as dy
    from dockyard.demo.pipeline import PROJECT

    say("defining, materializing and pushing to the feature view fraud/card_history")
    card = dy.Entity("card", keys=["card_hash"])
    share = dy.OnDemand(
        "amount_vs_mean", amount_vs_mean, inputs=["amount", f"{FEATURE_VIEW}:amount_mean_7d"]
    )

    def view(changed: bool) -> Any:
        features = [
            dy.Aggregate("amount", "sum", window="24h"),
            dy.Aggregate("amount", "mean", window="7d"),
            dy.Aggregate("transaction_id", "count", name="transactions_all"),
            dy.Aggregate(
                "is_fraud",
                "sum",
                window="90d" if changed else "30d",
                available_at="label_available_at",
                name="frauds_known",
            ),
            dy.Field("amount", name="last_amount"),
        ]
        if changed:
            features.append(dy.Aggregate("amount", "max", window="7d"))
        return dy.FeatureView(
            FEATURE_VIEW,
            entities=[card],
            source=dataset,
            timestamp="ts",
            features=[*features, share],
            ttl="30d",
            lateness="2h" if changed else "1h",
        )

    dy.features.apply([view(changed=False)], project=PROJECT, client=client)
    dy.features.apply([view(changed=True)], project=PROJECT, client=client)
    materialized = dy.features.materialize(FEATURE_VIEW, project=PROJECT, client=client)

    events = dy.dataset(dataset, project=PROJECT, client=client).version("latest").to_pandas()
    busiest = events["card_hash"].value_counts().index[:2].tolist()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    rows = []
    for i, (card_hash, amount) in enumerate(
        [(busiest[0], 120.0), (busiest[0], 80.5), (busiest[1], 42.0)]
    ):
        row = events.iloc[-1].copy()
        row["transaction_id"] = f"pushed-{i}"
        row["card_hash"] = card_hash
        row["ts"] = now - dt.timedelta(minutes=30 - 10 * i)
        row["amount"] = amount
        row["is_fraud"] = False
        row["label_available_at"] = now + dt.timedelta(days=30)
        rows.append(row)
    pushed = pd.DataFrame(rows).astype(events.dtypes.to_dict())
    push = dy.features.push(FEATURE_VIEW, pushed, project=PROJECT, client=client)

    sample = events.sample(n=min(400, len(events)), random_state=5).sort_values("ts")
    labels = dy.dataset(FEATURE_LABELS, project=PROJECT, client=client).add_version(
        sample[["card_hash", "ts", "amount", "is_fraud"]].reset_index(drop=True),
        message=f"labelled purchases for the {FEATURE_VIEW} training set",
    )
    built = dy.features.training_set(
        f"{FEATURE_LABELS}@{labels.number}",
        [*(f"{FEATURE_VIEW}:{name}" for name in STORED_FEATURES), share],
        project=PROJECT,
        output=TRAINING_SET,
        message=f"{FEATURE_VIEW} features of the labelled purchases",
        client=client,
    )
    return {
        "features": {
            "project": PROJECT,
            "view": FEATURE_VIEW,
            "versions": 2,
            "source": dataset,
            "materialized_events": materialized.events,
            "materialized_version": materialized.source_version,
            "pushed_events": push.events,
            "card": busiest[0],
            "labels": labels.ref,
            "training_set": TRAINING_SET,
            "training_set_version": built.number,
        }
    }


def failed_fan_out(client: Any) -> str:
    """A pipeline run whose fan-out fails on two of its twelve items: what the pipeline page
    shows for failures (the failed items' logs and tracebacks, the skipped step after)."""
    import dockyard as dy

    @dy.step
    def batches(count: int) -> list[int]:
        return list(range(count))

    @dy.step(cache=False)
    def score_batch(batch: int) -> int:
        print(f"scoring batch {batch}")
        if batch in (3, 7):
            raise ValueError(f"batch {batch}: 12 rows have a negative amount")
        return batch * 10

    @dy.step
    def publish(scores: list[int]) -> int:
        return sum(scores)

    @dy.pipeline
    def nightly_scoring(count: int = 12) -> None:
        publish(score_batch.map(batches(count)))

    say("running a pipeline whose fan-out fails on two items")
    result = dy.run(nightly_scoring, project="fraud", executor="inprocess", client=client)
    if result.status != "failed":
        raise SystemExit(f"seed: the failing pipeline ended {result.status}")
    return result.id


# --- all of it ------------------------------------------------------------------------------


def seed(home: Path, runs: int) -> dict[str, Any]:
    from seed_monitoring import seed_monitoring
    from seed_serving import seed_serving

    from dockyard.client.client import connect_with
    from dockyard.core.config import load_settings
    from dockyard.demo.pipeline import ALIAS, DATASET, MODEL, PROJECT
    from dockyard.demo.run import run_demo
    from tracking_env import seed_tracking

    began = time.perf_counter()
    settings = load_settings(home=home, environ={})
    say(f"running the fraud demo on {home}")
    with connect_with(settings) as client:
        demo = run_demo(client, say=say)
        if not demo.succeeded:
            raise SystemExit(f"seed: the demo's pipeline ended {demo.pipeline.status}")
    demo_seconds = time.perf_counter() - began
    say(f"demo done in {demo_seconds:.1f} s; inserting {runs:,} runs into {SCALE_PROJECT!r}")
    scale_seconds = seed_tracking(
        home,
        settings.db,
        runs,
        project=SCALE_PROJECT,
        experiments=SCALE_EXPERIMENTS,
        make_runs=scale_runs,
    )
    say(f"{runs:,} runs in {scale_seconds:.1f} s; adding the preview and failed runs")
    work = home / "cache" / "seed-previews"
    work.mkdir(parents=True, exist_ok=True)
    with connect_with(settings) as client:
        special = special_runs(client, work)
        special["code_run"] = code_run(client, work)
        samples = ui_samples(client)
        serving = seed_serving(client, work, say)
        monitoring = seed_monitoring(client, say)
        features = feature_store(client, DATASET)
        failed_pipeline = failed_fan_out(client)
        champion = client.models.get(MODEL).aliases.get(ALIAS)
        fraud_runs = client.runs.search(projects=[PROJECT], limit=1, count=True).total
    shutil.rmtree(work)
    return {
        "home": str(home),
        "runs": runs,
        **special,
        **samples,
        **features,
        **serving,
        **monitoring,
        "failed_pipeline_run": failed_pipeline,
        "demo": {
            "project": PROJECT,
            "dataset": f"{PROJECT}/{DATASET}",
            "dataset_version": demo.version.number,
            "model": MODEL,
            "alias": ALIAS,
            "champion_version": champion,
            "pipeline_run": demo.pipeline.id,
            "runs": fraud_runs,
        },
        "scale": {
            "project": SCALE_PROJECT,
            "runs": runs,
            "experiments": SCALE_EXPERIMENTS,
            "metrics": list(SCALE_METRICS),
            "steps": SCALE_STEPS,
        },
        "seconds": {
            "demo": round(demo_seconds, 1),
            "scale": round(scale_seconds, 1),
            "total": round(time.perf_counter() - began, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("home", type=Path, help="the dockyard home to create")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in project 'scale'")
    args = parser.parse_args()
    if args.runs < 0:
        parser.error("--runs must be >= 0")
    home = args.home.resolve()
    os.environ["DOCKYARD_HOME"] = str(home)  # pipeline workers open the same home
    os.environ.pop("DOCKYARD_URL", None)
    summary = prepare(home, args.runs)
    if summary is None:
        summary = seed(home, args.runs)
        (home / SEEDED).write_text(
            json.dumps({"runs": args.runs, "format": FORMAT, "summary": summary})
        )
        (home / SEEDING).unlink()
    else:
        say(f"{home} is already seeded with {args.runs:,} runs")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
