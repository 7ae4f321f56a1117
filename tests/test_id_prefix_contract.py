"""Resolving ids from their first characters (as git resolves a short hash), for runs and
pipeline runs, through both transports on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput
from dockyard.pipelines.schemas import PipelineRunCreate
from dockyard.server.runner import RunningServer
from id_support import common_start, unique_start


def _unused_prefix(ids: list[str]) -> str:
    """A prefix no id in ``ids`` starts with (one past the first id's first character)."""
    first = ids[0][0]
    for candidate in "0123456789abcdef":
        if candidate != first and not any(i.startswith(candidate) for i in ids):
            return candidate * 4
    raise AssertionError("every first character used")


def test_runs_resolve_unique_ambiguous_unknown_and_deleted(client: Client) -> None:
    client.projects.create("fraud")
    ids = [client.runs.create("fraud", name=f"r{i}").id for i in range(3)]
    common = common_start(ids)
    assert len(common) >= 4  # made within the same minute: the time comes first

    for run_id in ids:
        found = client.runs.resolve(unique_start(run_id, ids))
        assert [m.id for m in found.items] == [run_id] and not found.more
        assert client.runs.resolve(run_id).items[0].id == run_id  # a whole id is a prefix too

    both = client.runs.resolve(common)
    assert [m.id for m in both.items] == sorted(ids) and not both.more
    assert "run r0 in fraud, running" in [m.label for m in both.items]
    cut = client.runs.resolve(common, limit=2)
    assert len(cut.items) == 2 and cut.more

    assert client.runs.resolve(_unused_prefix(ids)).items == []

    client.runs.delete(ids[0])  # `runs restore` must find deleted runs by prefix too
    labels = [m.label for m in client.runs.resolve(unique_start(ids[0], ids)).items]
    assert labels and labels[0].endswith(", deleted")


@pytest.mark.parametrize("bad", ["", "XYZ", "01a%", "01a_", "0" * 33, "01 a", "ÿ"])
def test_runs_resolve_refuses_what_is_not_an_id_prefix(client: Client, bad: str) -> None:
    with pytest.raises(InvalidInput):
        client.runs.resolve(bad)


def test_pipeline_runs_resolve_ignores_their_step_runs(client: Client) -> None:
    client.projects.create("fraud")
    made = []
    for _ in range(2):
        run = client.runs.create("fraud", experiment="train", name="train")
        client.pipelines.create(PipelineRunCreate(run_id=run.id, project="fraud", pipeline="train"))
        client.runs.create("fraud", experiment="train", name="step", parent_id=run.id)
        made.append(run.id)
    common = common_start(made)
    found = client.pipelines.resolve(common)
    assert [m.id for m in found.items] == sorted(made)
    assert found.items[0].label == "pipeline train in fraud, running"
    for run_id in made:
        start = unique_start(run_id, made)
        assert [m.id for m in client.pipelines.resolve(start).items] == [run_id]
    assert client.pipelines.resolve(_unused_prefix(made)).items == []
    with pytest.raises(InvalidInput):
        client.pipelines.resolve("not-hex")


@pytest.mark.parametrize("path", ["/runs/resolve", "/pipelines/runs/resolve"])
@pytest.mark.parametrize(
    "params",
    [{}, {"prefix": ""}, {"prefix": "XYZ"}, {"prefix": "01%"}, {"prefix": "0" * 33},
     {"prefix": "01", "limit": 0}, {"prefix": "01", "limit": 1000}],
)  # fmt: skip
def test_resolve_over_http_answers_bad_input_with_a_4xx(
    server: RunningServer, path: str, params: dict[str, Any]
) -> None:
    response = httpx.get(f"{server.url}/api/v1{path}", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
