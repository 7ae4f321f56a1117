"""Run search through both transports on both databases: filters, ordering, pages, errors."""

from __future__ import annotations

import pytest

from dockyard.client.client import Client
from dockyard.core.errors import InvalidInput


@pytest.fixture
def runs(client: Client) -> dict[str, str]:
    """Six runs over two projects with params, tags and metrics to search on."""
    client.projects.create("fraud")
    client.projects.create("churn")
    made = {}
    specs = [
        ("a", "fraud", "base", {"lr": 0.1, "opt": "adam"}, {"team": "risk"}, [0.70, 0.80]),
        ("b", "fraud", "base", {"lr": 0.01, "opt": "sgd"}, {"team": "risk"}, [0.90, 0.85]),
        ("c", "fraud", "tuned", {"lr": 0.001, "opt": "adam"}, {"team": "ml"}, [0.60, 0.95]),
        ("d", "churn", "base", {"lr": 0.5, "opt": "Adam"}, {}, [0.50]),
        ("e", "churn", "base", {"lr": 0.05}, {"team": "risk"}, []),
        ("f", "fraud", "base", {"lr": "auto"}, {}, [0.99]),
    ]
    for name, project, experiment, params, tags, aucs in specs:
        run = client.runs.create(
            project, experiment=experiment, name=name, params=params, tags=tags
        )
        for step, auc in enumerate(aucs):
            client.runs.log_metrics(run.id, {"auc": auc}, step=step)
        made[name] = run.id
    client.runs.end(made["b"], "failed")
    return made


def names(client: Client, query: str = "", **kwargs: object) -> list[str]:
    return [r.name for r in client.runs.search(query, **kwargs).items]  # type: ignore[arg-type]


def test_filters(client: Client, runs: dict[str, str]) -> None:
    by = lambda q: sorted(names(client, q))  # noqa: E731
    assert by("params.lr < 0.05") == ["b", "c"]  # numbers compare as numbers, "auto" never matches
    assert by("params.lr = 'auto'") == ["f"]
    assert by("metrics.auc > 0.84") == ["b", "c", "f"]  # the latest value
    assert by("max(metrics.auc) >= 0.9") == ["b", "c", "f"]
    assert by("min(metrics.auc) < 0.65") == ["c", "d"]
    assert by("tags.team = 'risk' AND NOT status = 'failed'") == ["a", "e"]
    assert by("params.opt IN ('adam', 'sgd')") == ["a", "b", "c"]
    assert by("params.opt ILIKE 'ad%'") == ["a", "c", "d"]
    assert by("params.opt LIKE 'ad%'") == ["a", "c"]
    assert by("metrics.auc IS NULL") == ["e"]
    assert by("tags.team IS NOT NULL AND (experiment = 'tuned' OR project = 'churn')") == ["c", "e"]
    assert by("name != 'a' AND params.lr >= 0.05 AND params.lr <= 0.5") == ["d", "e"]
    assert by("status = 'running' AND user LIKE '%'")[:1] == ["a"]


def test_order_and_pages(client: Client, runs: dict[str, str]) -> None:
    assert names(client, "metrics.auc IS NOT NULL", order_by="metrics.auc DESC") == [
        "f",
        "c",
        "b",
        "a",
        "d",
    ]
    assert names(client, order_by="params.lr ASC")[:3] == ["c", "b", "e"]
    assert names(client)[0] == "f"  # newest first by default
    first = client.runs.search(order_by="name", limit=4)
    assert [r.name for r in first.items] == ["a", "b", "c", "d"]
    rest = client.runs.search(order_by="name", limit=4, cursor=first.next_cursor)
    assert [r.name for r in rest.items] == ["e", "f"] and rest.next_cursor is None


def test_scoping_and_deleted(client: Client, runs: dict[str, str]) -> None:
    assert sorted(names(client, projects=["churn"])) == ["d", "e"]
    assert sorted(names(client, experiments=["tuned"])) == ["c"]
    assert names(client, experiments=["nothing"]) == []
    client.runs.delete(runs["a"])
    assert "a" not in names(client)
    assert "a" in names(client, include_deleted=True)


def test_results_carry_params_and_metrics(client: Client, runs: dict[str, str]) -> None:
    (found,) = client.runs.search("name = 'c'").items
    assert found.params == {"lr": "0.001", "opt": "adam"}
    assert found.metrics["auc"].last == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("query", "position"),
    [("params.lr <", 11), ("metrics.auc > 'high'", 14), ("foo.bar = 1", 0), ("(status = 'x'", 13)],
)
def test_malformed_queries_point_at_the_problem(
    client: Client, runs: dict[str, str], query: str, position: int
) -> None:
    with pytest.raises(InvalidInput) as info:
        client.runs.search(query)
    assert info.value.details["position"] == position
    assert "^" in info.value.message


def test_bad_order_by_and_times(client: Client, runs: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        client.runs.search(order_by="metrics.auc SIDEWAYS")
    with pytest.raises(InvalidInput, match="ISO time"):
        client.runs.search("start_time > 'yesterday'")
    assert len(names(client, "start_time > '2000-01-01'")) == 6
