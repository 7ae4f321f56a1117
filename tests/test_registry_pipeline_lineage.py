"""A model trained in one pipeline step and registered in another, through both transports
on both databases: the version names the run that logged it (the train step's run, or the
earlier run a cached step reused), and its card and lineage, and the lineage of what it
scored, reach the dataset version the pipeline loaded and the git commit of the pipeline
run. A claimed origin is checked against the run's stored artifacts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import dockyard as dy
from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.pipelines.schemas import PipelineRunCreate, StepRecord, StepStart
from dockyard.registry.uris import RunRef

COLUMNS = ["amount", "card_reports"]


def _data(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"amount": rng.gamma(2.0, 50.0, n), "card_reports": rng.integers(0, 5, n).astype(float)}
    )
    return frame.assign(label=((frame.amount > 100) & (frame.card_reports > 1)).astype(int))


@dy.step
def prepare(raw: dy.DatasetVersion) -> pd.DataFrame:
    return raw.to_pandas()


@dy.step
def train(frame: pd.DataFrame, c: float = 1.0) -> dy.Model:
    dy.log_metric("train_rows", float(len(frame)))
    model = LogisticRegression(C=c, max_iter=300).fit(frame[COLUMNS], frame.label)
    dy.log_model(model, "model", input_example=frame[COLUMNS].head())
    return model


@dy.step(cache=False)
def register(model: dy.Model) -> dict[str, int]:
    logged = dy.register_model(model, "model", name="det")
    output = dy.register_model(model, name="det-output")  # the step's output folder itself
    return {"logged": logged.version, "output": output.version}


@dy.step(cache=False)
def score(versions: dict[str, int], frame: pd.DataFrame) -> int:
    model = dy.load_model(f"models:/det/{versions['logged']}")
    scores = frame[COLUMNS].assign(score=model.predict(frame[COLUMNS]))
    written = dy.dataset("scores", project=dy.active_run().project).add_version(scores)
    return written.number


@dy.pipeline
def training(data: str = "transactions@latest", c: float = 1.0) -> None:
    frame = prepare(dy.load(data))
    versions = register(train(frame, c=c))
    score(versions, frame)


def _run(client: Client) -> dy.PipelineResult:
    result = dy.run(training, project="fraud", executor="inprocess", client=client)
    assert result.status == "succeeded", [(s.node, s.error) for s in result.run.steps]
    return result


def test_the_version_names_the_train_step_and_its_card_reaches_data_and_code(
    client: Client,
) -> None:
    dy.dataset("transactions", project="fraud", client=client).add_version(_data())
    result = _run(client)
    train_run = result.run.step("train").run_id
    register_run = result.run.step("register").run_id
    assert train_run and register_run and train_run != register_run

    logged = client.models.version("det", "1")
    assert logged.run_id == train_run
    assert logged.source == f"runs:/{train_run}/model"
    assert logged.manifest.signature is not None  # logged by the train step with an example
    output = client.models.version("det-output", "1")
    assert (output.run_id, output.source) == (train_run, f"runs:/{train_run}/outputs")

    lineage = client.models.lineage("det", 1)
    assert lineage.run is not None and lineage.run.id == train_run
    assert lineage.run.params == {"c": "1.0"} and "train_rows" in lineage.run.metrics
    assert [(d.project, d.dataset, d.version) for d in lineage.inputs] == [
        ("fraud", "transactions", 1)
    ]
    parent = client.runs.get(result.id)
    commit = parent.tags.get("dockyard.git.commit")
    assert commit and len(commit) == 40, "the tests run in a git checkout"
    assert lineage.code.commit == commit and lineage.code.run_id == result.id
    assert lineage.environment.python

    card = dy.model_card("models:/det/1", client=client)
    for text in (card.markdown, card.html):
        assert f"train ({train_run})" in text
        assert "fraud/transactions" in text and commit in text
        assert "recorded no dataset version" not in text and "No git commit" not in text


def test_data_lineage_walks_through_the_pipeline_to_the_data_and_the_commit(
    client: Client,
) -> None:
    dy.dataset("transactions", project="fraud", client=client).add_version(_data())
    result = _run(client)
    transactions = client.datasets.version("fraud", "transactions", "1")
    graph = client.datasets.lineage("fraud", "scores", "1", direction="upstream", depth=3)
    ids = {n.id for n in graph.nodes}
    assert f"dataset_version:{transactions.id}" in ids
    commit = client.runs.get(result.id).tags["dockyard.git.commit"]
    score_run = result.run.step("score").run_id
    edges = {(e.source, e.relation, e.target) for e in graph.edges}
    assert (f"commit:{commit}", "code", f"run:{score_run}") in edges
    train_run = result.run.step("train").run_id
    version_id = client.models.version("det", "1").id
    assert (f"run:{train_run}", "wrote", f"model_version:{version_id}") in edges
    prepare_run = result.run.step("prepare").run_id
    assert (f"dataset_version:{transactions.id}", "read", f"run:{prepare_run}") in edges

    down = client.datasets.lineage("fraud", "transactions", "1", direction="downstream")
    reached = {n.id for n in down.nodes}
    assert f"run:{prepare_run}" in reached and f"run:{train_run}" in reached


def test_a_cached_train_step_registers_from_the_run_that_made_the_model(
    client: Client,
) -> None:
    dy.dataset("transactions", project="fraud", client=client).add_version(_data())
    first = _run(client)
    again = _run(client)
    assert again.run.step("train").status == "cached"
    version = client.models.version("det", "2")
    assert version.run_id == first.run.step("train").run_id
    lineage = client.models.lineage("det", 2)
    assert [(d.dataset, d.version) for d in lineage.inputs] == [("transactions", 1)]


def test_a_claimed_origin_is_checked_against_the_runs_artifacts(client: Client) -> None:
    frame = _data()
    capture = dy.Capture.off()
    with dy.start_run(project="fraud", client=client, capture=capture) as run:
        model = LogisticRegression(max_iter=300).fit(frame[COLUMNS], frame.label)
        dy.log_model(model, "model", input_example=frame[COLUMNS].head())
    with dy.start_run(project="fraud", client=client, capture=capture) as other:
        dy.log_metric("x", 1.0)
    loaded = client.models.load(f"runs:/{run.id}/model")
    assert loaded.origin == RunRef(run.id, "model")
    version = dy.register_model(loaded, name="from-run", client=client)
    assert (version.run_id, version.source) == (run.id, f"runs:/{run.id}/model")

    loaded.origin = RunRef(other.id, "model")  # a forged claim: that run logged no model
    with pytest.raises(NotFound, match="has no artifact folder"):
        dy.register_model(loaded, name="from-run", client=client)
    loaded.origin = None
    with pytest.raises(InvalidInput, match="not loaded from a run"):
        dy.register_model(loaded, name="from-run", client=client)


def test_a_garbled_pipeline_record_adds_no_edges_and_breaks_nothing(client: Client) -> None:
    """The graph is a stored record a client sent: entries not understood add no edge."""
    dy.dataset("transactions", project="fraud", client=client).add_version(_data())
    dy.dataset("out", project="fraud", client=client).add_version(_data(10))
    with dy.start_run(project="fraud", client=client, capture=dy.Capture.off()) as parent:
        graph: list[dict[str, Any]] = [
            {"id": 5},
            {"id": "junk", "upstream": "load"},
            {"id": "t", "upstream": ["bad-load", "huge-load", "good-load", "nowhere", "t"]},
        ]
        loads = {"bad-load": "transactions@x", "huge-load": "transactions@99999999999"}
        loads["good-load"] = "transactions@1"
        steps = [
            StepRecord(node=node, kind="load", step=ref, status="succeeded")
            for node, ref in loads.items()
        ]
        client.pipelines.create(
            PipelineRunCreate(
                run_id=parent.id,
                project="fraud",
                pipeline="garbled",
                graph=graph,
                steps=[*steps, StepRecord(node="t", step="t"), StepRecord(node="junk", step="j")],
            )
        )
        started = client.pipelines.start_steps(
            parent.id, [StepStart(record=StepRecord(node="t", step="t"))]
        )
        child = started.runs["t"]
        client.datasets.record_use("fraud", "out", 1, child, "output")
    graph_out = client.datasets.lineage("fraud", "out", "1", direction="upstream")
    transactions = client.datasets.version("fraud", "transactions", "1")
    edges = {(e.source, e.relation, e.target) for e in graph_out.edges}
    assert edges == {
        (f"run:{child}", "wrote", graph_out.root),
        (f"dataset_version:{transactions.id}", "read", f"run:{child}"),
    }
