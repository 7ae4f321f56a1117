"""Batch inference (``dy.predict_batch``, ``dockyard predict``): a dataset version through a
registered model into a new version, in record batches, on this process, a process pool and
a real local Ray (the same output on each), with lineage, one model version per job even if
its alias moves, nothing committed when a job fails, bad input refused before any work, and
once through a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import dockyard as dy
from cli_support import run_cli
from conftest import ADMIN_TOKEN
from dockyard.client.client import Client, connect, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.data.schemas import VersionFile
from dockyard.server.app import create_app
from dockyard.server.runner import serve_in_thread
from dockyard.services import Services

OFF = dy.Capture.off()
FEATURES = ["amount", "card_reports", "hour"]


def transactions(n: int, seed: int = 0, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"t{start + i}" for i in range(n)],
            "amount": rng.gamma(2.0, 50.0, n),
            "card_reports": rng.integers(0, 5, n).astype("int64"),
            "hour": rng.integers(0, 24, n).astype("int64"),
        }
    )
    frame["is_fraud"] = ((frame.amount > 120) & (frame.card_reports > 1)).astype("int64")
    return frame


def register(client: Client, model: Any, name: str = "fraud-detector") -> dy.ModelVersion:
    x = transactions(400, seed=1)
    model.fit(x[FEATURES], x.is_fraud)
    with dy.start_run(project="fraud", client=client, capture=OFF) as run:
        dy.log_model(model, "model", input_example=x[FEATURES].head())
    return dy.register_model(run, "model", name=name, client=client)


def lightgbm_model(seed: int = 0) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(n_estimators=15, num_leaves=8, random_state=seed, verbose=-1)


def commit_parts(client: Client, dataset: str, parts: list[tuple[pd.DataFrame, int]]) -> str:
    """A version of ``dataset`` in project fraud made of one Parquet file per part, each
    written with row groups of the given size: several files, several row groups each."""
    files = []
    for i, (frame, group_rows) in enumerate(parts):
        path = Path(client.settings.home) / f"{dataset}-{i}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=group_rows
        )
        info = client.blobs.put_file(path)
        files.append(VersionFile(digest=info.digest, size=info.size, rows=len(frame)))
    client.projects.create("fraud") if not _has_project(client) else None
    return client.datasets.commit("fraud", dataset, files).ref


def _has_project(client: Client) -> bool:
    return any(p.name == "fraud" for p in client.projects.list())


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    made = connect(home=tmp_path / "home")
    yield made
    made.close()


@pytest.fixture
def scored(client: Client) -> tuple[dy.ModelVersion, pd.DataFrame]:
    """A LightGBM classifier as fraud-detector@champion, and 3,000 transactions in two files
    (the first in row groups of 400 rows) as fraud/transactions@1."""
    version = register(client, lightgbm_model())
    dy.set_alias("fraud-detector", "champion", version.version, client=client)
    frame = transactions(3000, seed=2)
    commit_parts(client, "transactions", [(frame[:1800], 400), (frame[1800:], 5000)])
    return version, frame


def expected(client: Client, uri: str, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    model = dy.load_model(uri, client=client)
    return model.predict(frame[FEATURES]), model.predict_proba(frame[FEATURES])


def test_scores_a_version_into_a_new_version_with_lineage(
    client: Client, scored: tuple[dy.ModelVersion, pd.DataFrame]
) -> None:
    _, frame = scored
    seen: list[tuple[int, int]] = []
    result = dy.predict_batch(
        "models:/fraud-detector@champion",
        "fraud/transactions@latest",
        "fraud/scores",
        proba=True,
        batch_size=256,
        progress=lambda done, total: seen.append((done, total)),
        client=client,
    )
    out = result.to_pandas()
    # keys and labels carried over (every column the model does not take), then predictions
    assert list(out.columns) == ["transaction_id", "is_fraud", "prediction", "proba_0", "proba_1"]
    labels, proba = expected(client, "models:/fraud-detector/1", frame)
    assert out.transaction_id.tolist() == frame.transaction_id.tolist()
    np.testing.assert_array_equal(out.prediction.to_numpy(), labels)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), proba)
    assert (result.rows, result.output.ref, result.input.ref) == (
        3000,
        "fraud/scores@1",
        "fraud/transactions@1",
    )
    # streamed: progress after every batch of at most 256 rows, up to every row
    steps = np.diff([0] + [done for done, _ in seen])
    assert seen[-1] == (3000, 3000) and steps.max() <= 256 and len(seen) >= 3000 // 256

    run = client.runs.get(result.run_id)
    assert (run.experiment, run.status, run.name) == (
        "batch-inference",
        "finished",
        "predict fraud-detector/v1",
    )
    assert run.params["model"] == "models:/fraud-detector/1"
    io = {(i.direction, i.kind, i.label) for i in client.runs.io(result.run_id)}
    assert io == {
        ("input", "dataset_version", "fraud/transactions@1"),
        ("input", "model_version", "fraud-detector/v1"),
        ("output", "dataset_version", "fraud/scores@1"),
    }
    assert result.output.info.run_id == result.run_id
    lineage = client.datasets.lineage("fraud", "scores", 1, direction="upstream")
    labels_seen = {n.label for n in lineage.nodes}
    assert {"fraud/transactions@1", "fraud-detector/v1"} <= labels_seen


def test_same_output_on_every_executor(
    client: Client, scored: tuple[dy.ModelVersion, pd.DataFrame], local_ray: None
) -> None:
    # shares of ~500 rows: the first file's row groups in runs, the second file whole
    digests = set()
    for executor in ("local", "pool", "ray"):
        result = dy.predict_batch(
            "models:/fraud-detector@champion",
            "fraud/transactions",
            "fraud/scores",
            executor=executor,
            batch_size=300,
            task_rows=500,
            keep=["transaction_id"],
            proba=True,
            client=client,
        )
        assert result.rows == 3000 and result.executor == executor
        digests.add(result.output.digest)
        assert client.runs.get(result.run_id).status == "finished"
    assert len(digests) == 1  # byte for byte the same files: one version
    # the first file's 5 row groups in 4 shares; the second file's one row group in the
    # last of its 3 shares (the other two hold none)
    assert [f.rows for f in result.output.info.files] == [400, 400, 400, 600, 1200]
    out = result.to_pandas()
    labels, _ = expected(client, "models:/fraud-detector/1", scored[1])
    np.testing.assert_array_equal(out.prediction.to_numpy(), labels)


def test_an_alias_is_resolved_once_for_the_whole_job(
    client: Client, scored: tuple[dy.ModelVersion, pd.DataFrame]
) -> None:
    first, frame = scored
    second = register(client, LogisticRegression(max_iter=500))
    moved: list[int] = []

    def move_the_alias(done: int, total: int) -> None:
        if not moved:  # after the first batch, the champion changes
            dy.set_alias("fraud-detector", "champion", second.version, client=client)
            moved.append(done)

    result = dy.predict_batch(
        "models:/fraud-detector@champion",
        "fraud/transactions",
        "fraud/scores",
        batch_size=500,
        progress=move_the_alias,
        client=client,
    )
    assert moved and client.models.version("fraud-detector", "@champion").version == 2
    assert result.model.version == first.version == 1
    labels, _ = expected(client, "models:/fraud-detector/1", frame)
    np.testing.assert_array_equal(result.to_pandas().prediction.to_numpy(), labels)
    models = [i.label for i in client.runs.io(result.run_id) if i.kind == "model_version"]
    assert models == ["fraud-detector/v1"]


def test_inside_a_run_the_run_records_the_job(
    client: Client, scored: tuple[dy.ModelVersion, pd.DataFrame]
) -> None:
    regressor = register(client, LinearRegression(), name="amount-model")
    with dy.start_run(project="fraud", client=client, capture=OFF) as run:
        result = dy.predict_batch(
            f"models:/amount-model/{regressor.version}",
            "transactions",
            "amounts",
            project="fraud",
            keep=[],
        )
    assert result.run_id == run.id
    assert list(result.to_pandas().columns) == ["prediction"]
    assert result.to_pandas().prediction.dtype == np.float64
    io = {(i.direction, i.label) for i in client.runs.io(run.id)}
    assert io == {
        ("input", "fraud/transactions@1"),
        ("input", "amount-model/v1"),
        ("output", "fraud/amounts@1"),
    }


def test_a_failing_job_commits_nothing(
    client: Client, scored: tuple[dy.ModelVersion, pd.DataFrame]
) -> None:
    # hour as floats: whole in the first file, fractional in the second, which the model
    # (declaring int64) refuses only when it reaches those rows
    frame = scored[1].astype({"hour": "float64"})
    frame.loc[2000:, "hour"] = 3.5
    commit_parts(client, "odd", [(frame[:1800], 600), (frame[1800:], 600)])
    seen: list[int] = []
    with pytest.raises(InvalidInput, match="'hour' should be int64"):
        dy.predict_batch(
            "models:/fraud-detector@champion",
            "fraud/odd",
            "fraud/scores",
            batch_size=300,
            progress=lambda done, total: seen.append(done),
            client=client,
        )
    assert seen and seen[-1] >= 1800  # the first file was scored, then the job failed
    with pytest.raises(NotFound):
        client.datasets.get("fraud", "scores")
    (failed,) = client.runs.search(projects=["fraud"], experiments=["batch-inference"]).items
    assert failed.status == "failed"


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"model": "models:/nobody@champion"}, NotFound, "nobody"),
        ({"model": "models:/fraud-detector@staging"}, NotFound, "staging"),
        ({"model": "models:/fraud-detector/7"}, NotFound, "7"),
        ({"model": "runs:/abc/model"}, InvalidInput, "registered version"),
        ({"model": "fraud-detector"}, InvalidInput, "not a model URI"),
        ({"input": "fraud/nothing"}, NotFound, "no dataset 'nothing'"),
        ({"input": "fraud/transactions@9"}, NotFound, "no version '9'"),
        ({"input": "transactions"}, InvalidInput, "names no project"),
        ({"input": "fraud/narrow"}, InvalidInput, "lacks the columns card_reports, hour"),
        ({"input": "fraud/empty"}, InvalidInput, "has no rows"),
        ({"input": "fraud/textual"}, InvalidInput, "'amount' should be float64, given string"),
        ({"output": "fraud/bad name!"}, InvalidInput, "output dataset name"),
        ({"output": "fraud/scores@2"}, InvalidInput, "names a version"),
        ({"batch_size": 0}, InvalidInput, "batch_size must be a whole number"),
        ({"batch_size": -5}, InvalidInput, "batch_size"),
        ({"batch_size": True}, InvalidInput, "batch_size"),
        ({"task_rows": 0}, InvalidInput, "task_rows"),
        ({"keep": ["transaction_id", "nope"]}, InvalidInput, "keep names nope"),
        ({"keep": "transaction_id"}, InvalidInput, "list of column names"),
        ({"columns": ["amount", "hour"]}, InvalidInput, "missing card_reports"),
        ({"columns": [*FEATURES, "is_fraud"]}, InvalidInput, "not inputs of the model"),
        ({"executor": "kubernetes"}, InvalidInput, "unknown executor 'kubernetes'"),
        ({"executor": 42}, InvalidInput, "executor must be"),
        ({"input": "fraud/predicted"}, InvalidInput, "column 'prediction'"),
    ],
)
def test_bad_input_is_refused_before_any_work(
    client: Client,
    scored: tuple[dy.ModelVersion, pd.DataFrame],
    arguments: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    frame = scored[1]
    client.datasets.ingest("fraud", "narrow", frame[["transaction_id", "amount"]])
    client.datasets.ingest("fraud", "empty", frame[:0])
    client.datasets.ingest("fraud", "textual", frame.astype({"amount": "str"}))
    client.datasets.ingest("fraud", "predicted", frame.assign(prediction=1))
    call = {
        "model": "models:/fraud-detector@champion",
        "input": "fraud/transactions",
        "output": "fraud/scores",
        **arguments,
    }
    with pytest.raises(error, match=message):
        dy.predict_batch(
            call.pop("model"), call.pop("input"), call.pop("output"), client=client, **call
        )
    with pytest.raises(NotFound):
        client.datasets.get("fraud", "scores")
    assert client.runs.search(projects=["fraud"], experiments=["batch-inference"]).items == []


def test_proba_needs_a_classifier(
    client: Client, scored: tuple[dy.ModelVersion, pd.DataFrame]
) -> None:
    register(client, LinearRegression(), name="amount-model")
    with pytest.raises(InvalidInput, match="predict_proba"):
        dy.predict_batch(
            "models:/amount-model", "fraud/transactions", "fraud/x", proba=True, client=client
        )


def test_cli_predicts_with_a_progress_bar_and_says_what_it_made(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect() as made:
        register(made, lightgbm_model())
        dy.set_alias("fraud-detector", "champion", 1, client=made)
        made.datasets.ingest("fraud", "transactions", transactions(2000, seed=3))
    code, out, err = run_cli(
        capsys,
        "predict",
        "fraud-detector@champion",
        "--input",
        "fraud/transactions@1",
        "--output",
        "scores",
        "-p",
        "fraud",
        "--proba",
        "--batch-size",
        "500",
    )
    assert code == 0, err
    assert "fraud/scores@1: new version 1, 2,000 rows scored by fraud-detector/v1" in out
    code, out, err = run_cli(
        capsys,
        "predict",
        "models:/fraud-detector/1",
        "--input",
        "fraud/transactions",
        "--output",
        "fraud/scores",
        "--keep",
        "transaction_id",
        "--json",
    )
    assert code == 0, err
    made_json = json.loads(out)
    assert made_json["rows"] == 2000 and made_json["model"] == {
        "name": "fraud-detector",
        "version": 1,
    }
    assert [c["name"] for c in made_json["output"]["columns"]] == ["transaction_id", "prediction"]
    code, _, err = run_cli(
        capsys, "predict", "nobody@champion", "--input", "fraud/transactions", "--output", "fraud/s"
    )
    assert code == 3 and "nobody" in err
    code, _, err = run_cli(
        capsys,
        "predict",
        "fraud-detector/1",
        "--input",
        "fraud/transactions",
        "--output",
        "fraud/s",
        "--batch-size",
        "0",
    )
    assert code == 2 and "batch_size must be a whole number" in err


def test_through_a_server_on_this_process_and_a_pool(tmp_path: Path) -> None:
    services = Services.open(
        Settings(
            home=tmp_path / "server",
            db=f"sqlite:///{tmp_path / 'meta.db'}",
            blobs=str(tmp_path / "blobs"),
        )
    )
    running = serve_in_thread(create_app(services=services, token=ADMIN_TOKEN))
    try:
        remote = connect_with(
            Settings(home=tmp_path / "client", db="", blobs="", url=running.url, token=ADMIN_TOKEN)
        )
        register(remote, lightgbm_model())
        frame = transactions(1500, seed=4)
        remote.datasets.ingest("fraud", "transactions", frame)
        labels, _ = expected(remote, "models:/fraud-detector/1", frame)
        digests = set()
        for executor in ("local", "pool"):
            result = dy.predict_batch(
                "models:/fraud-detector/1",
                "fraud/transactions",
                "fraud/scores",
                executor=executor,
                client=remote,
            )
            np.testing.assert_array_equal(result.to_pandas().prediction.to_numpy(), labels)
            digests.add(result.output.digest)
        assert len(digests) == 1
        remote.close()
    finally:
        running.stop()
        services.close()
