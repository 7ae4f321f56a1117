"""Experiments, runs, params, tags and metrics through both transports on both databases."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from dockyard.client.client import Client
from dockyard.core.errors import Conflict, InvalidInput, NotFound
from dockyard.core.operations import build
from dockyard.tracking.schemas import MetricBatch, MetricSeries


@pytest.fixture
def project(client: Client) -> str:
    return client.projects.create("fraud").name


def test_run_lifecycle(client: Client, project: str) -> None:
    run = client.runs.create(
        project,
        experiment="baseline",
        params={"lr": 0.05, "depth": 6},
        tags={"team": "risk"},
        name="first",
    )
    assert (run.status, run.name, run.experiment, run.project) == (
        "running",
        "first",
        "baseline",
        project,
    )
    assert run.params == {"lr": "0.05", "depth": "6"}
    assert run.tags == {"team": "risk"}
    assert run.end_time is None
    assert [e.name for e in client.experiments.list(project)] == ["baseline"]
    client.runs.set_tags(run.id, {"team": "fraud", "stage": "dev"})
    client.runs.log_params(run.id, {"epochs": 10, "lr": 0.05})  # same value again is fine
    ended = client.runs.end(run.id)
    assert ended.status == "finished" and ended.end_time is not None
    assert ended.tags == {"team": "fraud", "stage": "dev"}
    assert ended.params["epochs"] == "10"
    with pytest.raises(Conflict, match="has ended"):
        client.runs.update(run.id, status="running")


def test_nested_runs(client: Client, project: str) -> None:
    parent = client.runs.create(project, name="sweep")
    child = client.runs.create(project, parent_id=parent.id, params={"lr": 0.1})
    assert child.parent_id == parent.id
    client.projects.create("other")
    with pytest.raises(InvalidInput, match="another project"):
        client.runs.create("other", parent_id=parent.id)
    with pytest.raises(NotFound):
        client.runs.create(project, parent_id="f" * 32)


def test_metrics_summary_and_history(client: Client, project: str) -> None:
    run = client.runs.create(project)
    for step in range(10):
        client.runs.log_metrics(
            run.id, {"loss": 1.0 / (step + 1), "auc": 0.5 + step / 100}, step=step
        )
    summary = client.runs.get(run.id).metrics
    assert summary["loss"].last == pytest.approx(0.1)
    assert summary["loss"].min == pytest.approx(0.1) and summary["loss"].max == 1.0
    assert summary["auc"].step == 9 and summary["auc"].count == 10
    history = client.runs.history(run.id, "loss")
    assert history.steps == list(range(10))
    assert history.values == pytest.approx([1.0 / (s + 1) for s in range(10)])
    assert not history.downsampled and history.total_points == 10


def test_downsampled_history_keeps_extremes_and_shape(client: Client, project: str) -> None:
    run = client.runs.create(project)
    n = 5000
    steps = list(range(n))
    values = [math.sin(s / 300) for s in steps]
    values[1234] = 50.0  # a spike must survive downsampling
    batch = MetricBatch(series={"wave": MetricSeries(steps=steps, timestamps=steps, values=values)})
    assert client.runs.log_batch(run.id, batch).points == n
    history = client.runs.history(run.id, "wave", max_points=200)
    assert history.downsampled and history.total_points == n
    assert len(history.values) <= 200
    assert history.steps == sorted(history.steps)
    assert 50.0 in history.values and history.steps[history.values.index(50.0)] == 1234
    assert min(history.values) == pytest.approx(min(values))
    for step, value in zip(history.steps, history.values, strict=True):
        assert values[step] == value  # every kept point is a real point


def test_a_resent_batch_is_stored_once(client: Client, project: str) -> None:
    run = client.runs.create(project)
    batch = MetricBatch(
        batch_id="b-1",
        series={"x": MetricSeries(steps=[1, 2], timestamps=[1, 2], values=[1.0, 2.0])},
    )
    assert client.runs.log_batch(run.id, batch).points == 2
    again = client.runs.log_batch(run.id, batch)
    assert again.duplicate and again.points == 0
    assert client.runs.history(run.id, "x").values == [1.0, 2.0]
    assert client.runs.get(run.id).metrics["x"].count == 2


def test_param_logged_again_with_another_value_is_a_conflict(client: Client, project: str) -> None:
    run = client.runs.create(project, params={"lr": 0.1})
    with pytest.raises(Conflict, match=r"'lr'.*already '0.1'"):
        client.runs.log_params(run.id, {"lr": 0.2, "new": 1})
    assert client.runs.get(run.id).params == {"lr": "0.1"}  # nothing of the bad call landed


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_metric_values_are_rejected(client: Client, project: str, value: float) -> None:
    run = client.runs.create(project)
    with pytest.raises(InvalidInput, match="finite"):
        client.runs.log_metrics(run.id, {"loss": value})
    assert client.runs.get(run.id).metrics == {}


@pytest.mark.parametrize("key", ["", "x" * 251, " leading", "semi;colon", "new\nline"])
def test_bad_keys_are_rejected(client: Client, project: str, key: str) -> None:
    run = client.runs.create(project)
    with pytest.raises(InvalidInput, match="valid key"):
        client.runs.log_metrics(run.id, {key: 1.0})
    with pytest.raises(InvalidInput, match="valid key"):
        client.runs.log_params(run.id, {key: 1})


def test_non_numeric_metric_values_are_rejected(client: Client, project: str) -> None:
    run = client.runs.create(project)
    with pytest.raises(InvalidInput):
        client.runs.log_metrics(run.id, {"loss": "high"})  # type: ignore[dict-item]


def test_mismatched_series_lengths_are_rejected(client: Client, project: str) -> None:
    with pytest.raises(InvalidInput, match="same length"):
        build(MetricBatch, series={"x": {"steps": [1, 2], "timestamps": [1], "values": [1.0]}})


def test_unknown_runs_and_metrics_are_not_found(client: Client, project: str) -> None:
    for bad in ("nope", "0" * 32, "../x"):
        with pytest.raises(NotFound):
            client.runs.get(bad)
        with pytest.raises(NotFound):
            client.runs.log_metrics(bad, {"x": 1.0})
    run = client.runs.create(project)
    with pytest.raises(NotFound, match="no metric"):
        client.runs.history(run.id, "never-logged")
    with pytest.raises(NotFound):
        client.runs.create("no-such-project")


def test_delete_and_restore(client: Client, project: str) -> None:
    run = client.runs.create(project)
    assert client.runs.delete(run.id).deleted
    assert client.runs.get(run.id).deleted
    with pytest.raises(NotFound):
        client.runs.log_metrics(run.id, {"x": 1.0})
    assert not client.runs.restore(run.id).deleted
    client.runs.log_metrics(run.id, {"x": 1.0})


def test_experiments(client: Client, project: str) -> None:
    created = client.experiments.create(project, "ablation", description="drop features")
    assert client.experiments.get(project, "ablation") == created
    with pytest.raises(Conflict):
        client.experiments.create(project, "ablation")
    with pytest.raises(NotFound):
        client.experiments.get(project, "missing")


def test_runs_started_at_once_share_one_new_experiment(client: Client, project: str) -> None:
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: client.runs.create(project, experiment="race"), range(16)))
    assert {r.experiment for r in made} == {"race"}
    assert [e.name for e in client.experiments.list(project)] == ["race"]


def test_a_run_can_create_its_project_in_the_same_write(client: Client) -> None:
    with pytest.raises(NotFound):
        client.runs.create("churn")  # without asking, an unknown project is an error
    assert [p.name for p in client.projects.list()] == []
    first = client.runs.create("churn", experiment="e1", create_project=True)
    project = client.projects.get("churn")
    assert (first.project, first.experiment, project.created_by) == ("churn", "e1", first.user)
    again = client.runs.create("churn", create_project=True)  # an existing project is reused
    assert again.project == "churn"
    assert [p.name for p in client.projects.list()] == ["churn"]
    with pytest.raises(InvalidInput):
        client.runs.create("bad name!", create_project=True)  # the project name is checked
    assert [p.name for p in client.projects.list()] == ["churn"]


def test_runs_started_at_once_share_one_new_project(client: Client) -> None:
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: client.runs.create("race", create_project=True), range(16)))
    assert {r.project for r in made} == {"race"}
    assert [p.name for p in client.projects.list()] == ["race"]


def test_delete_restore_and_purge_experiments(client: Client, project: str) -> None:
    kept = client.runs.create(project, experiment="kept")
    binned = client.runs.create(project, experiment="old")
    client.runs.log_metrics(binned.id, {"x": 1.0})
    assert client.experiments.delete(project, "old").deleted
    assert [r.id for r in client.runs.search(projects=[project]).items] == [kept.id]
    assert len(client.runs.search(projects=[project], include_deleted=True).items) == 2
    with pytest.raises(Conflict, match="is deleted"):
        client.runs.create(project, experiment="old")
    assert not client.experiments.restore(project, "old").deleted
    assert len(client.runs.search(projects=[project]).items) == 2
    with pytest.raises(Conflict, match="not deleted"):
        client.experiments.purge(project, "old")
    client.experiments.delete(project, "old")
    client.experiments.purge(project, "old")
    with pytest.raises(NotFound):
        client.runs.get(binned.id)
    with pytest.raises(NotFound):
        client.experiments.get(project, "old")


def test_experiments_list_their_run_counts(client: Client, project: str) -> None:
    client.experiments.create(project, "empty")
    first = client.runs.create(project, experiment="busy")
    client.runs.create(project, experiment="busy", parent_id=first.id)  # children count too
    last = client.runs.create(project, experiment="busy")
    gone = client.runs.create(project, experiment="busy")
    client.runs.delete(gone.id)  # deleted runs do not
    client.runs.create(project, experiment="other")
    client.projects.create("elsewhere")
    client.runs.create("elsewhere", experiment="busy")  # same name, another project
    listed = {e.name: e for e in client.experiments.list(project)}
    assert {name: e.run_count for name, e in listed.items()} == {
        "busy": 3,
        "empty": 0,
        "other": 1,
    }
    assert listed["busy"].last_run_at == last.start_time
    assert listed["empty"].last_run_at is None
    assert client.experiments.get(project, "busy").run_count == 3
    assert client.experiments.delete(project, "busy").run_count == 3  # its runs are kept
    assert client.experiments.restore(project, "busy").last_run_at == last.start_time
    created = client.experiments.create(project, "fresh")
    assert (created.run_count, created.last_run_at) == (0, None)
    with pytest.raises(NotFound):
        client.experiments.list("no-such-project")


def test_run_keys_of_a_scope(client: Client, project: str) -> None:
    a = client.runs.create(project, experiment="x", params={"lr": 1, "depth": 2}, tags={"t": "1"})
    client.runs.log_metrics(a.id, {"loss": 1.0, "auc": 0.5})
    b = client.runs.create(project, experiment="y", params={"batch": 8}, tags={"team": "risk"})
    client.runs.log_metrics(b.id, {"f1": 0.1})
    gone = client.runs.create(project, experiment="y", params={"secret": 1}, tags={"old": "1"})
    client.runs.log_metrics(gone.id, {"old_metric": 1.0})
    client.runs.delete(gone.id)
    client.projects.create("other")
    c = client.runs.create("other", experiment="x", params={"other_param": 1})
    client.runs.log_metrics(c.id, {"other_metric": 1.0})

    keys = client.runs.keys(projects=[project])
    assert keys.params == ["batch", "depth", "lr"]
    assert keys.metrics == ["auc", "f1", "loss"]
    assert keys.tags == ["t", "team"]
    only_x = client.runs.keys(projects=[project], experiments=["x"])
    assert (only_x.params, only_x.metrics, only_x.tags) == (["depth", "lr"], ["auc", "loss"], ["t"])
    everywhere = client.runs.keys()
    assert everywhere.params == ["batch", "depth", "lr", "other_param"]
    assert client.runs.keys(experiments=["x"]).metrics == ["auc", "loss", "other_metric"]
    nothing = client.runs.keys(experiments=["nope"])
    assert (nothing.params, nothing.metrics, nothing.tags) == ([], [], [])
    with pytest.raises(NotFound):
        client.runs.keys(projects=["no-such-project"])
    with pytest.raises(InvalidInput, match="valid name"):
        client.runs.keys(projects=["bad name"])


@pytest.mark.parametrize("small_scope", [0, 2000])
def test_run_keys_of_a_large_scope_by_key(
    client: Client, project: str, small_scope: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan for many runs (every key by index, kept if the scope uses it) gives the same
    keys as the plan for a few (each run's keys)."""
    from dockyard.tracking import keys

    monkeypatch.setattr(keys, "SMALL_SCOPE", small_scope)  # 0: always the large-scope plan
    client.projects.create("other")
    for i in range(4):
        run = client.runs.create(project, experiment=f"e{i % 2}", params={f"p{i}": i})
        client.runs.log_metrics(run.id, {f"m{i % 2}": 1.0})
        client.runs.set_tags(run.id, {f"t{i % 3}": "x"})
    client.runs.create("other", params={"zz": 1}, tags={"a": "1"})
    assert client.runs.keys(projects=[project]).model_dump() == {
        "params": ["p0", "p1", "p2", "p3"],
        "metrics": ["m0", "m1"],
        "tags": ["t0", "t1", "t2"],
    }
    e1 = client.runs.keys(projects=[project], experiments=["e1"])
    assert (e1.params, e1.metrics, e1.tags) == (["p1", "p3"], ["m1"], ["t0", "t1"])
    assert client.runs.keys().tags == ["a", "t0", "t1", "t2"]
