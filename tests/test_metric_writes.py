"""Metric writes: series summaries merged by upsert, idempotent batches, the SDK's caches."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

import dockyard as dy
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput
from dockyard.sdk import capture
from dockyard.server.runner import RunningServer
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


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@pytest.mark.parametrize(
    ("steps", "stamps", "named"),
    [
        ([0, 2**63], [0, 0], "step 9223372036854775808"),
        ([INT64_MIN - 1], [0], "step -9223372036854775809"),
        ([1], [10**30], "timestamp 1000000000000000000000000000000"),
        ([1], [INT64_MIN - 1], "timestamp -9223372036854775809"),
    ],
)
def test_steps_and_timestamps_outside_int64_are_refused(
    client: Client, steps: list[int], stamps: list[int], named: str
) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    bad = _batch(steps, stamps, [1.0] * len(steps)).model_copy(update={"batch_id": "b"})
    with pytest.raises(InvalidInput, match=f"metric 'x': {named} is outside the 64-bit"):
        client.runs.log_batch(run.id, bad)
    assert client.runs.get(run.id).metrics == {}
    # nothing of the refused batch was kept, not even its id: the same id with good values
    good = _batch([1], [1], [1.0]).model_copy(update={"batch_id": "b"})
    assert client.runs.log_batch(run.id, good).points == 1


def test_the_int64_extremes_are_stored_and_read_back(client: Client) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    steps = [INT64_MIN, -1, 0, 1, INT64_MAX]
    stamps = [INT64_MAX, 0, INT64_MIN, 5, INT64_MIN]
    assert client.runs.log_batch(run.id, _batch(steps, stamps, [1.0, 2.0, 3.0, 4.0, 5.0])).points
    summary = client.runs.get(run.id).metrics["x"]
    assert (summary.step, summary.timestamp, summary.last) == (INT64_MAX, INT64_MIN, 5.0)
    history = client.runs.history(run.id, "x")
    assert (history.steps, history.timestamps) == (steps, stamps)
    downsampled = client.runs.history(run.id, "x", max_points=3)
    assert downsampled.downsampled and set(downsampled.steps) <= set(steps)


def test_raw_json_with_huge_or_fractional_steps_gets_a_4xx(server: RunningServer) -> None:
    with connect_with(Settings(home=Path(), db="", blobs="", url=server.url)) as client:
        client.projects.create("p")
        run = client.runs.create("p")
    url = f"{server.url}/api/v1/runs/{run.id}/metrics"
    for steps in ("[100000000000000000000000000000]", "[-9223372036854775809]", "[1.5]"):
        body = f'{{"series": {{"x": {{"steps": {steps}, "timestamps": [0], "values": [1]}}}}}}'
        response = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_input"


def test_the_sdk_checks_steps_and_timestamps_at_the_call(client: Client) -> None:
    client.projects.create("p")
    with dy.start_run("p", client=client, capture=dy.Capture.off()) as run:
        for bad in (2**63, INT64_MIN - 1):
            with pytest.raises(InvalidInput, match="outside the 64-bit integer range"):
                run.log_metrics({"x": 1.0}, step=bad)
            with pytest.raises(InvalidInput, match=r"timestamp_ms .* outside the 64-bit"):
                run.log_metrics({"x": 1.0}, step=1, timestamp_ms=bad)
        for wrong in (1.5, 2.0, True, "3", None):
            with pytest.raises(InvalidInput, match="step must be an integer"):
                run.log_metrics({"x": 1.0}, step=wrong)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="timestamp_ms must be an integer"):
            run.log_metrics({"x": 1.0}, step=1, timestamp_ms=1.5)  # type: ignore[arg-type]
        run.log_metrics({"x": 1.0}, step=np.int64(7), timestamp_ms=np.int32(9))  # type: ignore[arg-type]
        run.log_metrics({"x": 2.0}, step=INT64_MAX, timestamp_ms=INT64_MIN)
    stored = client.runs.get(run.id)
    assert stored.status == "finished"
    history = client.runs.history(run.id, "x")
    assert (history.steps, history.timestamps) == ([7, INT64_MAX], [9, INT64_MIN])
    assert all(type(s) is int for s in history.steps)
