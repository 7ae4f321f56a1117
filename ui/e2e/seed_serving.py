"""The serving part of the e2e seed (called from seed.py): the model ``ui-serving-model``
and a prediction log written by a real model server.

Two versions of a small classifier over ``fraud/ui_sample@2`` (so a prediction traces to a
dataset version), each trained in a git checkout with an uncommitted change (so it traces to
a commit and a diff); ``@challenger`` and then ``@champion`` point at v2 after ``@champion``
served v1. A model server (the app ``dockyard serve`` runs, in a thread, on a loopback port)
serves ``@champion``, answers requests from v1, follows the alias to v2, answers more, and
stops gracefully, which writes the whole log and records the server as stopped.

The e2e setup later starts a live ``dockyard serve`` on the same home and sends it
``example_inputs``, so the pages also have a live server and predictions of the last minutes
however long ago the home was seeded.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

MODEL = "ui-serving-model"
DATASET = "ui_sample"
REQUESTS_PER_VERSION = 25


def _checkout(work: Path) -> Path:
    """A git repository whose working tree holds an uncommitted change."""
    repo = work / "refund-models"
    repo.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "serving")
    git("config", "user.email", "seed@dockyard.local")
    git("config", "user.name", "seed")
    script = repo / "train_refunds.py"
    script.write_text("from sklearn.linear_model import LogisticRegression\n\nC = 1.0\n")
    git("add", "train_refunds.py")
    git("commit", "-q", "-m", "refund model")
    script.write_text(
        "from sklearn.linear_model import LogisticRegression\n\nC = 0.3  # fewer refunds\n"
    )
    return repo


def _register(client: Any, work: Path) -> list[tuple[int, str]]:
    """Two versions of the model: (version, run id) each."""
    from sklearn.linear_model import LogisticRegression

    import dockyard as dy

    data = dy.dataset(DATASET, project="fraud", client=client).version(2)
    repo = _checkout(work)
    made = []
    for c in (1.0, 0.3):
        with (
            contextlib.chdir(repo),
            dy.start_run(
                "fraud",
                experiment=DATASET,  # beside the ui-sample-model runs: no new experiment
                name=f"train-refunds-c{c:g}",
                params={"C": c},
                capture=dy.Capture(system_metrics=False),
                client=client,
            ) as run,
        ):
            frame = data.to_pandas()  # recorded as the run's input
            x = frame[["amount", "quantity"]].fillna(0.0)
            model = LogisticRegression(C=c).fit(x, frame["refunded"].astype(int))
            run.log_metrics({"train_accuracy": float(model.score(x, frame["refunded"]))}, step=0)
            dy.log_model(model, "model", input_example=x.head())
        version = dy.register_model(
            run, "model", name=MODEL, description=f"refund risk, C={c:g}", client=client
        )
        made.append((version.version, str(run.id)))
    return made


def example_inputs(i: int) -> dict[str, Any]:
    """The ``i``th request's row: an order's amount and quantity."""
    return {"amount": round(5.0 + (i * 37.3) % 400, 2), "quantity": 1 + i % 5}


def seed_serving(client: Any, work: Path, say: Any) -> dict[str, Any]:
    import httpx

    import dockyard as dy
    from dockyard.client.client import connect_with
    from dockyard.server.runner import serve_in_thread
    from dockyard.serving.app import create_app
    from dockyard.serving.config import ServeConfig

    say(f"registering {MODEL} and serving it: a prediction log and a stopped server")
    (v1, _), (v2, run2) = _register(client, work)
    dy.set_alias(MODEL, "champion", v1, reason="first refund model", client=client)
    config = ServeConfig(
        uris=[f"models:/{MODEL}@champion"], poll_seconds=0.2, log_flush_seconds=0.5
    )
    app = create_app(config, lambda: connect_with(client.settings))
    running = serve_in_thread(app)  # type: ignore[arg-type]
    ids: dict[int, list[str]] = {v1: [], v2: []}
    sent = 0
    try:
        with httpx.Client(base_url=running.url, timeout=30) as http:

            def predict() -> int:
                nonlocal sent
                answer = http.post(
                    f"/v1/models/{MODEL}/predict", json={"inputs": example_inputs(sent)}
                )
                answer.raise_for_status()
                body = answer.json()
                sent += 1
                ids[body["version"]].extend(body["prediction_ids"])
                return int(body["version"])

            for _ in range(REQUESTS_PER_VERSION):
                predict()
            # a request the model cannot take: counted among the server's errors
            bad = http.post(f"/v1/models/{MODEL}/predict", json={"inputs": {"amount": "a lot"}})
            assert bad.status_code == 422, bad.text
            dy.set_alias(MODEL, "challenger", v2, reason="C=0.3 on shadow first", client=client)
            dy.set_alias(MODEL, "champion", v2, reason="challenger wins on refunds", client=client)
            deadline = time.monotonic() + 60
            while predict() != v2:  # the server follows the alias within a poll or two
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"seed: the model server did not follow {MODEL}@champion to v{v2}"
                    )
                time.sleep(0.1)
            for _ in range(REQUESTS_PER_VERSION - 1):
                predict()
    finally:
        running.stop()  # graceful: the whole log is written, the server recorded as stopped
    logged = client.serving.predictions(MODEL, limit=1000).predictions
    if len(logged) != sent:
        raise SystemExit(f"seed: {sent} predictions sent to {MODEL}, {len(logged)} logged")
    return {
        "serving": {
            "model": MODEL,
            "alias": "champion",
            "versions": [v1, v2],
            "predictions": sent,
            "by_version": {str(v): len(found) for v, found in ids.items()},
            "prediction": ids[v2][-1],
            "run": run2,
            "dataset": f"fraud/{DATASET}",
            "dataset_version": 2,
            # what the e2e setup serves live and sends (models with the same inputs)
            "live_uris": [f"models:/{MODEL}@champion", "models:/ui-sample-model@staging"],
            "example_inputs": [example_inputs(i) for i in range(20)],
        }
    }
