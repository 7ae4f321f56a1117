"""The project service's contract, run through both transports on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from dockyard.client.client import Client
from dockyard.core.errors import Conflict, InvalidInput, NotFound


def test_create_get_list(client: Client) -> None:
    created = client.projects.create("fraud", description="card fraud")
    assert created.name == "fraud"
    assert created.description == "card fraud"
    assert created.created_by
    assert len(created.id) == 32
    assert client.projects.get("fraud") == created
    assert client.projects.get(created.id) == created
    assert [p.name for p in client.projects.list()] == ["fraud"]


def test_list_is_ordered_and_paginated(client: Client) -> None:
    names = [f"p{i:02d}" for i in range(7)]
    for name in reversed(names):
        client.projects.create(name)
    first = client.projects.page(limit=3)
    assert [p.name for p in first.items] == names[:3]
    assert first.next_cursor
    second = client.projects.page(limit=3, cursor=first.next_cursor)
    third = client.projects.page(limit=3, cursor=second.next_cursor)
    assert [p.name for p in second.items + third.items] == names[3:]
    assert third.next_cursor is None
    assert [p.name for p in client.projects.list()] == names
    assert len(client.projects.list(limit=2)) == 2


def test_rename_and_describe(client: Client) -> None:
    original = client.projects.create("old")
    renamed = client.projects.rename("old", "new")
    assert renamed.id == original.id
    assert renamed.name == "new"
    assert renamed.updated_at >= original.updated_at
    with pytest.raises(NotFound):
        client.projects.get("old")
    described = client.projects.update("new", description="now described")
    assert described.description == "now described"
    assert described.name == "new"


def test_delete(client: Client) -> None:
    client.projects.create("doomed")
    client.projects.create("kept")
    gone = client.projects.delete("doomed")
    assert gone.name == "doomed"
    assert [p.name for p in client.projects.list()] == ["kept"]
    with pytest.raises(NotFound):
        client.projects.delete("doomed")


def test_duplicate_name_is_a_conflict_and_keeps_the_original(client: Client) -> None:
    original = client.projects.create("dup", description="first")
    with pytest.raises(Conflict, match="already exists"):
        client.projects.create("dup", description="second")
    assert client.projects.get("dup") == original


def test_rename_onto_existing_name_is_a_conflict(client: Client) -> None:
    client.projects.create("a")
    client.projects.create("b")
    with pytest.raises(Conflict):
        client.projects.rename("a", "b")
    assert sorted(p.name for p in client.projects.list()) == ["a", "b"]


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "has space", "../etc", "a/b", "-leading-dash", ".hidden", "naïve", "semi;colon"],
)
def test_invalid_names_are_rejected_with_a_clear_message(client: Client, name: str) -> None:
    with pytest.raises(InvalidInput, match="name"):
        client.projects.create(name)
    assert client.projects.list() == []


def test_invalid_rename_leaves_the_project_intact(client: Client) -> None:
    original = client.projects.create("stable")
    with pytest.raises(InvalidInput):
        client.projects.rename("stable", "no spaces allowed")
    assert client.projects.get("stable") == original


@pytest.mark.parametrize("ref", ["missing", "0" * 32, "../../etc/passwd", "a%2Fb", "x" * 500])
def test_unknown_projects_are_not_found(client: Client, ref: str) -> None:
    with pytest.raises(NotFound):
        client.projects.get(ref)
    with pytest.raises(NotFound):
        client.projects.delete(ref)


def test_bad_paging_arguments(client: Client) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        client.projects.page(limit=0)
    with pytest.raises(InvalidInput, match="cursor"):
        client.projects.page(cursor="not-a-cursor")


def test_overlong_description_is_rejected(client: Client) -> None:
    with pytest.raises(InvalidInput, match="description"):
        client.projects.create("p", description="x" * 10_001)
