"""Metric writes: series summaries merged by upsert, idempotent batches, the SDK's caches."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.sdk import capture
from dockyard.tracking import metrics
from dockyard.tracking.schemas import MetricBatch, MetricSeries


def _batch(steps: list[int], stamps: list[int], values: list[float], key: str = "x") -> MetricBatch:
    return MetricBatch(series={key: MetricSeries(steps=steps, timestamps=stamps, values=values)})


def _log_out_of_order(client: Client) -> str:
    client.projects.create("p")
    run = client.runs.create("p")
    client.runs.log_batch(run.id, _batch([5, 6], [50, 60], [0.5, 0.6]))
    client.runs.log_batch(run.id, _batch([1, 2], [10, 20], [-3.0, 0.2]))  # older steps
    client.runs.log_batch(run.id, _batch([6, 3], [61, 30], [0.7, 9.0]))  # step 6 again, later
    client.runs.log_batch(run.id, _batch([6], [59], [0.1]))  # step 6, earlier: not the last
    return run.id


def test_summaries_merge_count_min_max_and_the_latest_point(client: Client) -> None:
    run_id = _log_out_of_order(client)
    summary = client.runs.get(run_id).metrics["x"]
    assert (summary.count, summary.min, summary.max) == (7, -3.0, 9.0)
    assert (summary.step, summary.timestamp, summary.last) == (6, 61, 0.7)
    history = client.runs.history(run_id, "x")
    assert list(zip(history.steps, history.timestamps, history.values, strict=True)) == [
        (1, 10, -3.0),
        (2, 20, 0.2),
        (3, 30, 9.0),
        (5, 50, 0.5),
        (6, 59, 0.1),
        (6, 60, 0.6),
        (6, 61, 0.7),
    ]


def test_a_batch_with_many_keys_and_empty_series(client: Client) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    series = {f"k{i:03d}": MetricSeries(steps=[i], timestamps=[i], values=[i]) for i in range(300)}
    series["empty"] = MetricSeries(steps=[], timestamps=[], values=[])
    assert client.runs.log_batch(run.id, MetricBatch(series=series)).points == 300
    again = {k: MetricSeries(steps=[1000], timestamps=[0], values=[-1.0]) for k in series}
    assert client.runs.log_batch(run.id, MetricBatch(series=again)).points == 301
    stored = client.runs.get(run.id).metrics
    assert len(stored) == 301 and stored["empty"].count == 1
    assert stored["k007"].count == 2 and stored["k007"].max == 7.0 and stored["k007"].last == -1.0


def test_a_resent_batch_changes_no_summary(client: Client) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    batch = _batch([1, 2, 3], [1, 2, 3], [3.0, 1.0, 2.0]).model_copy(update={"batch_id": "b"})
    assert client.runs.log_batch(run.id, batch).points == 3
    for _ in range(2):
        assert client.runs.log_batch(run.id, batch).duplicate
    summary = client.runs.get(run.id).metrics["x"]
    assert (summary.count, summary.min, summary.max, summary.last) == (3, 1.0, 3.0, 2.0)


def test_sqlite_without_returning_looks_the_ids_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_SQLITE_RETURNING", False)
    settings = Settings(home=tmp_path, db=f"sqlite:///{tmp_path / 'm.db'}", blobs=str(tmp_path))
    with connect_with(settings) as client:
        run_id = _log_out_of_order(client)
        summary = client.runs.get(run_id).metrics["x"]
        assert (summary.count, summary.min, summary.max, summary.last) == (7, -3.0, 9.0, 0.7)
        assert client.runs.history(run_id, "x").steps == [1, 2, 3, 5, 6, 6, 6]


def test_the_package_list_is_read_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture._machine.cache_clear()
    calls: list[int] = []
    real = capture.distributions

    def counting() -> object:
        calls.append(1)
        return real()

    monkeypatch.setattr(capture, "distributions", counting)
    try:
        first_tags, first = capture.environment()
        first["packages"].append("mutated==1")  # a caller's changes do not leak into the cache
        monkeypatch.chdir(tmp_path)
        _, second = capture.environment()
    finally:
        capture._machine.cache_clear()
    assert len(calls) == 1
    assert "mutated==1" not in second["packages"]
    assert any(p.startswith("pydantic==") for p in second["packages"])
    assert second["cwd"] == str(tmp_path) != first["cwd"]
    assert first_tags["dockyard.python"].startswith("3.")
