"""Run search through both transports on both databases: filters, ordering, pages, errors."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Select, event

from dockyard.client.client import Client, connect_with
from dockyard.core.errors import InvalidInput
from dockyard.services import Services
from dockyard.tracking import search
from dockyard.tracking.schemas import Run


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


# --- ordering by a param or metric that some runs lack ------------------------------------
#
# Sorted by a metric's last value or a param's number, the runs having the key are fetched
# apart from (and before) the runs lacking it; these tests pin the order across that boundary.


@pytest.fixture
def sparse(client: Client) -> dict[str, Run]:
    """Runs where auc and lr are missing from some, tied in others; two of them deleted."""
    client.projects.create("sparse")
    specs: list[tuple[str, dict[str, object], list[float]]] = [
        ("r0", {"lr": 0.1}, [0.9, 0.5]),
        ("r1", {"lr": "auto"}, [0.7]),
        ("r2", {"lr": 0.1}, []),
        ("r3", {}, [0.2, 0.5]),
        ("r4", {"lr": 0.01}, [0.9]),
        ("r5", {"lr": 0.5}, []),
        ("r6", {"lr": 0.1}, [0.7]),
        ("r7", {}, []),
        ("r8", {"lr": 0.3}, [0.8]),
        ("r9", {"lr": 0.01}, [0.95]),
        ("r10", {"lr": 0.5}, [0.5]),
    ]
    made = {}
    for name, params, aucs in specs:
        run = client.runs.create("sparse", name=name, params=params)
        for step, auc in enumerate(aucs):
            client.runs.log_metrics(run.id, {"auc": auc}, step=step)
        made[name] = run.id
    for name in ("r7", "r9"):
        client.runs.delete(made[name])
    return {name: client.runs.get(run_id) for name, run_id in made.items()}


def _value(run: Run, field: str) -> float | None:
    if field == "metrics.auc":
        return run.metrics["auc"].last if "auc" in run.metrics else None
    if field == "min(metrics.auc)":
        return run.metrics["auc"].min if "auc" in run.metrics else None
    assert field == "params.lr"
    try:
        return float(run.params["lr"])
    except (KeyError, ValueError):
        return None  # absent, or not a number ("auto"): sorts with the runs lacking it


def expected_order(runs: list[Run], order_by: str) -> list[str]:
    """Names in the documented order: each key with missing values last, then newest first."""
    ranked = sorted(runs, key=lambda r: (r.start_time, r.id), reverse=True)
    for item in reversed(order_by.split(", ") if order_by else []):
        field, _, direction = item.partition(" ")
        sign = -1 if direction == "DESC" else 1
        ranked.sort(key=lambda r: (_value(r, field) is None, sign * (_value(r, field) or 0)))
    return [r.name for r in ranked]


def all_pages(client: Client, limit: int, **kwargs: object) -> list[str]:
    """Every page of a search, checking that only the last one has no next_cursor."""
    found: list[str] = []
    cursor = None
    while True:
        page = client.runs.search(limit=limit, cursor=cursor, **kwargs)  # type: ignore[arg-type]
        found += [r.name for r in page.items]
        if page.next_cursor is None:
            return found
        assert len(page.items) == limit
        cursor = page.next_cursor


ORDERS = [
    "metrics.auc",
    "metrics.auc DESC",
    "params.lr",
    "params.lr DESC",
    "metrics.auc DESC, params.lr",
    "params.lr DESC, metrics.auc DESC",
    "min(metrics.auc) DESC",
]


@pytest.mark.parametrize("order_by", ORDERS)
def test_missing_keys_sort_last_ties_newest_first(
    client: Client, sparse: dict[str, Run], order_by: str
) -> None:
    live = [run for name, run in sparse.items() if name not in ("r7", "r9")]
    expected = expected_order(live, order_by)
    assert names(client, projects=["sparse"], order_by=order_by) == expected
    for limit in (1, 2, 3, 4, 5, 8, 9, 10):  # page breaks inside, at and after the boundary
        assert all_pages(client, limit, projects=["sparse"], order_by=order_by) == expected
    everything = expected_order(list(sparse.values()), order_by)
    found = all_pages(client, 3, projects=["sparse"], order_by=order_by, include_deleted=True)
    assert found == everything


@pytest.mark.parametrize("descending", [False, True])
def test_filters_on_the_sort_key_and_pages_at_the_boundary(
    client: Client, sparse: dict[str, Run], descending: bool
) -> None:
    suffix = " DESC" if descending else ""
    auc, lr = "metrics.auc" + suffix, "params.lr" + suffix
    live = [run for name, run in sparse.items() if name not in ("r7", "r9")]
    having = [r for r in live if "auc" in r.metrics]
    assert names(client, "metrics.auc IS NULL", order_by=auc) == expected_order(
        [r for r in live if "auc" not in r.metrics], auc
    )
    assert names(client, "metrics.auc >= 0.7", order_by=auc) == expected_order(
        [r for r in having if r.metrics["auc"].last >= 0.7], auc
    )
    assert names(client, "params.lr = 'auto' OR params.lr > 0.2", order_by=lr) == (
        expected_order([sparse["r5"], sparse["r8"], sparse["r10"], sparse["r1"]], lr)
    )
    # A page that ends exactly where the runs having auc end still has a next page.
    first = client.runs.search(projects=["sparse"], order_by=auc, limit=len(having))
    assert [r.name for r in first.items] == expected_order(having, auc)
    assert first.next_cursor is not None
    rest = client.runs.search(projects=["sparse"], order_by=auc, cursor=first.next_cursor)
    assert [r.name for r in rest.items] == ["r5", "r2"] and rest.next_cursor is None


def test_sort_key_no_run_has_or_every_run_has(client: Client, sparse: dict[str, Run]) -> None:
    newest_first = expected_order([r for n, r in sparse.items() if n not in ("r7", "r9")], "")
    assert all_pages(client, 4, projects=["sparse"], order_by="metrics.nothing") == newest_first
    assert all_pages(client, 4, projects=["sparse"], order_by="params.nothing DESC") == (
        newest_first
    )
    assert all_pages(client, 2, query="params.lr > 0", order_by="params.lr") == [
        "r4", "r6", "r2", "r0", "r8", "r10", "r5",
    ]  # fmt: skip


def test_cursors_are_checked(client: Client, sparse: dict[str, Run]) -> None:
    page = client.runs.search(projects=["sparse"], order_by="metrics.auc", limit=8)
    assert page.next_cursor is not None  # into the runs lacking auc
    with pytest.raises(InvalidInput, match="cursor"):
        client.runs.search(order_by="name", cursor=page.next_cursor)
    for bad in ("not-a-cursor", "WyJ4IiwgMF0", "WzEsIC0xXQ", "Wzdd"):  # ["x", 0], [1, -1], [7]
        with pytest.raises(InvalidInput, match="cursor"):
            client.runs.search(order_by="metrics.auc", cursor=bad)


def test_order_when_sqlite_gives_up_the_index_walk(
    client: Client, sparse: dict[str, Run], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A walk that costs too much (a selective filter) is interrupted and the runs having the
    # key are fetched again by SQLite's own plan: same results, same pages.
    monkeypatch.setattr(search, "_WALK_STEPS_PER_ROW", 0)
    monkeypatch.setattr(search, "_PROGRESS_EVERY", 1)
    walks: list[bool] = []
    statement = search._Search.statement

    def spy(
        self: search._Search, part: int | None, *, walk: bool = False, runs_first: bool = False
    ) -> Select[Any]:
        walks.append(walk)
        return statement(self, part, walk=walk, runs_first=runs_first)

    monkeypatch.setattr(search._Search, "statement", spy)
    live = [run for name, run in sparse.items() if name not in ("r7", "r9")]
    for order_by in ("metrics.auc DESC", "params.lr"):
        expected = expected_order(live, order_by)
        assert all_pages(client, 3, projects=["sparse"], order_by=order_by) == expected
        assert names(client, "metrics.auc > 0.6", order_by=order_by) == [
            name for name in expected if (_value(sparse[name], "metrics.auc") or 0) > 0.6
        ]
    if db_url.startswith("sqlite"):
        assert True in walks and False in walks  # tried to walk, then let SQLite plan
    else:
        assert True not in walks  # PostgreSQL has statistics to plan with


@pytest.mark.parametrize("share", ["few", "some"])
def test_same_results_when_sqlite_reads_the_projects_runs_first(
    client: Client, sparse: dict[str, Run], monkeypatch: pytest.MonkeyPatch, share: str
) -> None:
    # A search of projects that hold few of the runs reads their runs from the projects'
    # index (with a filter at once; else once a walk gives up): same results, same pages.
    monkeypatch.setattr(search, "_FEW_SHARE" if share == "few" else "_SOME_SHARE", 2.0)
    if share == "some":
        monkeypatch.setattr(search, "_WALK_STEPS_PER_ROW", 0)
        monkeypatch.setattr(search, "_PROGRESS_EVERY", 1)
    live = [run for name, run in sparse.items() if name not in ("r7", "r9")]
    passing = {name for name, run in sparse.items() if (_value(run, "metrics.auc") or 0) > 0.6}
    for order_by in ("metrics.auc DESC", "params.lr", ""):
        expected = expected_order(live, order_by)
        assert all_pages(client, 3, projects=["sparse"], order_by=order_by) == expected
        filtered = all_pages(
            client, 2, query="metrics.auc > 0.6", projects=["sparse"], order_by=order_by
        )
        assert filtered == [name for name in expected if name in passing]


def test_same_pages_and_totals_when_sqlite_gives_up_walking_the_runs(
    client: Client, sparse: dict[str, Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sorted by an attribute, SQLite first walks the runs in order (and a filtered count reads
    # them all); a filter that keeps few runs interrupts that for the filter's own index.
    def results() -> list[tuple[list[str], int | None]]:
        found = []
        for query in ("metrics.auc > 0.6", "params.lr > 0 AND name != 'r4'", ""):
            for order_by in ("", "start_time", "name DESC"):
                page = client.runs.search(
                    query, projects=["sparse"], order_by=order_by, limit=3, count=True
                )
                found.append(([r.name for r in page.items], page.total))
                deeper = client.runs.search(
                    query, projects=["sparse"], order_by=order_by, limit=3, offset=2
                )
                found.append(([r.name for r in deeper.items], None))
        return found

    walked = results()
    monkeypatch.setattr(search, "_WALK_STEPS_PER_ROW", 0)
    monkeypatch.setattr(search, "_COUNT_STEPS", 0)
    monkeypatch.setattr(search, "_PROGRESS_EVERY", 1)
    assert results() == walked
    live = [run for name, run in sparse.items() if name not in ("r7", "r9")]
    assert walked[0][1] == sum((_value(r, "metrics.auc") or 0) > 0.6 for r in live)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_walks_the_sort_key_index(services: Services) -> None:
    """The plan that makes a sorted page cheap: the (key, value) index of the sort key read in
    order, ending after one page, rather than every match sorted."""
    with connect_with(services.settings) as client:
        client.projects.create("plan")
        for i in range(30):
            run = client.runs.create("plan", params={"lr": i / 10, "opt": "adam"})
            client.runs.log_metrics(run.id, {"auc": (i % 7) / 7, "loss": i}, step=0)
        seen: list[tuple[str, Any]] = []

        def capture(_c: Any, _cur: Any, sql: str, parameters: Any, *_: Any) -> None:
            if sql.split()[:3] == ["SELECT", "runs.id", "FROM"]:  # the search, not loading
                seen.append((sql, parameters))

        engine = client.transport.services.db.engine  # type: ignore[attr-defined]
        event.listen(engine, "before_cursor_execute", capture)
        query = "params.opt = 'adam' AND metrics.loss > 3"
        for order_by, index in (
            ("metrics.auc DESC", "ix_metric_series_key_last"),
            ("params.lr", "ix_run_params_key_num"),
        ):
            seen.clear()
            assert len(client.runs.search(query, order_by=order_by, limit=5).items) == 5
            ((sql, parameters),) = seen  # one page of runs having the key: one query
            with engine.connect() as conn:
                plan = [
                    row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
                ]
            assert plan[0].startswith("SEARCH") and index in plan[0], plan
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # only its RIGHT PART
        event.remove(engine, "before_cursor_execute", capture)


# --- offsets and counts (a virtualized table jumps to any row and shows the total) ----------


@pytest.mark.parametrize("order_by", ["", "name", *ORDERS])
def test_an_offset_starts_anywhere_in_the_results(
    client: Client, sparse: dict[str, Run], order_by: str
) -> None:
    live = [run for name, run in sparse.items() if name not in ("r7", "r9")]
    expected = (
        expected_order(live, order_by) if order_by != "name" else sorted(r.name for r in live)
    )
    for offset in range(len(expected) + 2):  # in, at and past the runs having the sort key
        for limit in (1, 3):
            page = client.runs.search(
                projects=["sparse"], order_by=order_by, offset=offset, limit=limit
            )
            assert [r.name for r in page.items] == expected[offset : offset + limit]
            more = offset + limit < len(expected)
            assert (page.next_cursor is not None) == more
            if more and limit == 3:  # the cursor of an offset page carries on from there
                rest = client.runs.search(
                    projects=["sparse"], order_by=order_by, cursor=page.next_cursor, limit=20
                )
                assert [r.name for r in rest.items] == expected[offset + limit :]


def test_count_gives_the_total_of_the_whole_search(client: Client, runs: dict[str, str]) -> None:
    assert client.runs.search(limit=2).total is None  # only when asked
    page = client.runs.search(limit=2, count=True)
    assert page.total == 6 and len(page.items) == 2
    assert client.runs.search("params.lr < 0.05", count=True, limit=1).total == 2
    assert client.runs.search("metrics.auc > 0.84", count=True, offset=2).total == 3
    assert client.runs.search(projects=["churn"], count=True).total == 2
    assert client.runs.search(experiments=["tuned"], count=True).total == 1
    assert client.runs.search(experiments=["nothing"], count=True).total == 0
    assert client.runs.search("name = 'nobody'", count=True).total == 0
    by_auc = client.runs.search(order_by="metrics.auc DESC", count=True, limit=1)
    assert by_auc.total == 6  # runs lacking the sort key count too
    client.runs.delete(runs["a"])
    assert client.runs.search(count=True).total == 5
    assert client.runs.search(count=True, include_deleted=True).total == 6
    client.experiments.delete("fraud", "tuned")
    assert client.runs.search(projects=["fraud"], count=True).total == 2  # b and f


def test_bad_offsets(client: Client, runs: dict[str, str]) -> None:
    first = client.runs.search(limit=2)
    with pytest.raises(InvalidInput, match="cursor or an offset"):
        client.runs.search(cursor=first.next_cursor, offset=2)
    with pytest.raises(InvalidInput, match="offset"):
        client.runs.search(offset=-1)
    past = client.runs.search(offset=100, count=True)
    assert past.items == [] and past.next_cursor is None and past.total == 6
