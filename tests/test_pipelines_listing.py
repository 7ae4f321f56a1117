"""Listing pipeline runs: filters, cursor paging and the count the web UI shows, through
both transports on SQLite and PostgreSQL."""

from __future__ import annotations

from dockyard.client.client import Client
from dockyard.pipelines.schemas import PipelineRunCreate


def _pipeline_run(client: Client, project: str, pipeline: str) -> str:
    run = client.runs.create(project, experiment=pipeline, name=pipeline)
    client.pipelines.create(PipelineRunCreate(run_id=run.id, project=project, pipeline=pipeline))
    return run.id


def test_list_counts_what_matches_the_filters_on_every_page(client: Client) -> None:
    client.projects.create("a")
    client.projects.create("b")
    made = [_pipeline_run(client, "a", "train") for _ in range(3)]
    _pipeline_run(client, "a", "score")
    _pipeline_run(client, "b", "train")
    client.pipelines.finish(made[0], "failed", error="boom")

    assert client.pipelines.list(project="a").total is None  # only when asked
    first = client.pipelines.list(project="a", pipeline="train", limit=2, count=True)
    assert first.total == 3 and len(first.items) == 2 and first.next_cursor
    second = client.pipelines.list(
        project="a", pipeline="train", limit=2, cursor=first.next_cursor, count=True
    )
    assert second.total == 3 and len(second.items) == 1 and second.next_cursor is None
    assert {r.id for r in first.items + second.items} == set(made)
    assert client.pipelines.list(project="a", count=True, limit=1).total == 4
    assert client.pipelines.list(count=True, limit=1).total == 5
    assert client.pipelines.list(project="a", status="failed", count=True).total == 1
    assert client.pipelines.list(project="b", status="failed", count=True).total == 0
