"""The audit log of a server, on both databases: each change and refusal with who, when,
what, from where and how it ended; sign-ins; never a password; telemetry left out; owners
read their projects' events and the admin all; embedded sessions write none."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import dockyard as dy
from conftest import ADMIN_TOKEN
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import Forbidden, Unauthorized
from dockyard.server.runner import RunningServer
from dockyard.services import Services

PASSWORD = "correct horse battery staple"


@pytest.fixture
def clients(admin_server: RunningServer, tmp_path: Path) -> Iterator[dict[str, Client]]:
    def remote(name: str, token: str | None) -> Client:
        home = tmp_path / f"client-{name}"
        return connect_with(Settings(home=home, db="", blobs="", url=admin_server.url, token=token))

    admin = remote("admin", ADMIN_TOKEN)
    admin.identity.create_user("root")
    opened = {"admin": admin, "anonymous": remote("anonymous", None)}
    for name in ("bob", "carol"):
        made = admin.identity.create_user(name, token=True, password=PASSWORD)
        opened[name] = remote(name, made.token)
    yield opened
    for client in opened.values():
        client.close()


def test_who_did_what_when_from_where(clients: dict[str, Client], services: Services) -> None:
    bob, carol, admin = clients["bob"], clients["carol"], clients["admin"]
    bob.projects.create("fraud")
    bob.identity.grant("fraud", "viewer", user="carol")
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    with dy.start_run("fraud", client=bob, capture=dy.Capture.off()) as run:
        run.log_metric("auc", 0.9)  # telemetry: not audited
        dy.log_model(LogisticRegression().fit(x, [0, 1, 0, 1]), "model", input_example=x)
    version = dy.register_model(run, name="det", client=bob)
    dy.set_alias("det", "champion", version.version, client=bob)
    with pytest.raises(Forbidden):
        carol.models.set_alias("det", "champion", 1)  # refused: carol is a viewer
    with pytest.raises(Forbidden):
        carol.models.list(project="nowhere")  # a refusal of a read is logged too

    # "who moved the champion alias lately?"
    moves = list(admin.audit.events(project="fraud", operation="models.set_alias"))
    assert [(e.actor, e.outcome) for e in moves] == [("carol", "denied"), ("bob", "ok")]
    denied, done = moves
    assert done.target == {"name": "det", "alias": "champion"} and done.project == "fraud"
    assert done.status == 200 and done.address == "127.0.0.1" and done.actor_kind == "user"
    assert denied.status == 403 and "needs the maintainer role" in denied.detail
    assert dt.datetime.now(dt.UTC) - done.at < dt.timedelta(minutes=1)
    operations = [e.operation for e in admin.audit.events(project="fraud")]
    assert "runs.create" in operations and "models.register" in operations
    assert "metrics.log" not in operations and "runs.heartbeat" not in operations
    assert "identity.grant" in operations
    assert [e.operation for e in admin.audit.events(actor="carol", outcome="denied")] == [
        "models.list",
        "models.set_alias",
    ]
    assert {e.operation.split(".")[0] for e in admin.audit.events(operation="models")} == {"models"}
    # owners read their projects' events; others do not
    assert [e.operation for e in bob.audit.events(project="fraud")] == operations
    with pytest.raises(Forbidden, match="for its owners and the admin"):
        carol.audit.page(project="fraud")
    assert carol.audit.page().items == []
    # older than the period asked for: nothing
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert admin.audit.page(since=later).items == []


def test_sign_ins_are_logged_and_passwords_never(clients: dict[str, Client]) -> None:
    anonymous, admin = clients["anonymous"], clients["admin"]
    anonymous.identity.login("bob", PASSWORD)
    with pytest.raises(Unauthorized):
        anonymous.identity.login("bob", "a wrong password!")
    with pytest.raises(Unauthorized):
        anonymous.identity.login("nobody", PASSWORD)
    events = list(admin.audit.events(operation="identity.login"))
    assert [(e.actor, e.outcome, e.status) for e in events] == [
        ("nobody", "denied", 401),
        ("bob", "denied", 401),
        ("bob", "ok", 201),
    ]
    made = admin.identity.create_token("ci", user="bob")
    everything = [e.model_dump_json() for e in admin.audit.events()]
    assert everything and not any(PASSWORD in e or made.token in e for e in everything)
    # sign-ins belong to no project: the admin's only
    assert all(e.operation != "identity.login" for e in clients["bob"].audit.events())


def test_pages_go_back_in_time(clients: dict[str, Client]) -> None:
    bob, admin = clients["bob"], clients["admin"]
    bob.projects.create("p")
    for i in range(5):
        bob.runs.create("p", name=f"r{i}")
    first = admin.audit.page(operation="runs.create", limit=2)
    assert len(first.items) == 2 and first.next_cursor
    second = admin.audit.page(operation="runs.create", limit=2, cursor=first.next_cursor)
    assert second.items[0].at <= first.items[-1].at
    assert len(list(admin.audit.events(operation="runs.create"))) == 5


def test_an_embedded_session_writes_no_audit_log(services: Services) -> None:
    with connect_with(services.settings) as local:
        local.projects.create("p")
        local.runs.create("p")
        assert local.audit.page().items == []
