"""Accounts, teams, project roles and API tokens, end to end over HTTP on both databases:
what each caller may do and see, tokens that are limited, expire, are revoked or belong to
a disabled user, password sign-in, the last owner, grants that count at once, listings that
show only readable projects, and the step cache that never crosses projects."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

import dockyard as dy
from conftest import ADMIN_TOKEN
from dockyard.client.client import Client, connect_with
from dockyard.client.inprocess import InProcessTransport
from dockyard.core.config import Settings
from dockyard.core.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from dockyard.core.principal import Principal, Role
from dockyard.pipelines.schemas import CacheEntry, ValueRef
from dockyard.server.runner import RunningServer
from dockyard.services import Services
from dockyard.store.tables import ApiTokenRow

PASSWORD = "correct horse battery staple"


def remote(server: RunningServer, tmp_path: Path, token: str | None) -> Client:
    home = tmp_path / f"client-{abs(hash(token))}"
    return connect_with(Settings(home=home, db="", blobs="", url=server.url, token=token))


@pytest.fixture
def admin(admin_server: RunningServer, tmp_path: Path) -> Iterator[Client]:
    with remote(admin_server, tmp_path, ADMIN_TOKEN) as client:
        yield client


class People:
    """Accounts on the server, each with a client holding their own API token."""

    def __init__(self, admin: Client, server: RunningServer, tmp_path: Path) -> None:
        self.admin, self.server, self.tmp_path = admin, server, tmp_path
        self.tokens: dict[str, str] = {}
        self.opened: list[Client] = []

    def add(self, name: str, **options: object) -> Client:
        made = self.admin.identity.create_user(name, token=True, **options)  # type: ignore[arg-type]
        assert made.token is not None and made.token.startswith("dy_")
        self.tokens[name] = made.token
        return self.client(made.token)

    def client(self, token: str | None) -> Client:
        opened = remote(self.server, self.tmp_path, token)
        self.opened.append(opened)
        return opened


@pytest.fixture
def people(admin: Client, admin_server: RunningServer, tmp_path: Path) -> Iterator[People]:
    found = People(admin, admin_server, tmp_path)
    found.add("root")  # the first user of a server is its admin
    yield found
    for client in found.opened:
        client.close()


def test_the_first_user_is_the_admin_and_accounts_are_the_admins(people: People) -> None:
    assert people.admin.identity.user("root").admin
    bob = people.add("bob", email="bob@example.com")
    assert not people.admin.identity.user("bob").admin
    assert bob.identity.me().name == "bob" and bob.identity.me().role is None
    assert bob.identity.user("bob").email == "bob@example.com"
    with pytest.raises(NotFound, match="that you may see"):
        bob.identity.user("root")  # another account: as if it did not exist
    with pytest.raises(Forbidden, match=r"needs the admin role, and 'bob' has no role"):
        bob.identity.create_user("mallory")
    with pytest.raises(Forbidden):
        bob.identity.update_user("bob", admin=True)
    with pytest.raises(Conflict, match="already exists"):
        people.admin.identity.create_user("bob")
    with pytest.raises(InvalidInput, match="service account has no password"):
        people.admin.identity.create_user("ci", service=True, password=PASSWORD)
    for taken in ("admin", "Anonymous", "scheduler"):
        with pytest.raises(InvalidInput, match="names the server's own principals"):
            people.admin.identity.create_user(taken)


def test_roles_in_a_project_decide_what_each_account_may_do(people: People) -> None:
    bob, carol, dave = people.add("bob"), people.add("carol"), people.add("dave")
    project = bob.projects.create("fraud")  # an account creates a project and owns it
    assert [(g.subject, g.role) for g in bob.identity.grants("fraud")] == [("bob", Role.OWNER)]
    bob.identity.grant("fraud", "viewer", user="carol")
    with dy.start_run("fraud", client=bob, capture=dy.Capture.off()) as run:
        run.log_metric("auc", 0.9)
    # carol reads, and writes nothing
    assert carol.runs.get(run.id).metrics["auc"].last == 0.9
    with pytest.raises(
        Forbidden, match=r"needs the editor role in project 'fraud'.*'carol' is viewer"
    ):
        carol.runs.create("fraud")
    with pytest.raises(Forbidden, match="needs the editor role"):
        carol.runs.log_metrics(run.id, {"auc": 0.1})
    with pytest.raises(Forbidden, match="needs the maintainer role"):
        carol.projects.rename("fraud", "fraud2")
    # dave holds nothing: he sees nothing, and a refusal does not tell the project exists
    assert dave.projects.list() == []
    with pytest.raises(Forbidden, match="holds no role in any project") as seen:
        dave.runs.get(run.id)
    with pytest.raises(Forbidden) as unseen:
        dave.runs.get("0" * 32)
    assert str(seen.value).replace(run.id, "X") == str(unseen.value).replace("0" * 32, "X")
    with pytest.raises(Forbidden):
        dave.projects.get(project.id)
    # a grant counts at once (the server looks again before it refuses)
    bob.identity.grant("fraud", "editor", user="dave")
    dave.runs.log_params(run.id, {"lr": 0.1})
    # only owners grant, and the last owner stays
    with pytest.raises(Forbidden, match="needs the owner role"):
        dave.identity.grant("fraud", "owner", user="dave")
    with pytest.raises(Conflict, match="last owner"):
        bob.identity.grant("fraud", "editor", user="bob")
    with pytest.raises(Conflict, match="last owner"):
        bob.identity.revoke("fraud", user="bob")
    bob.identity.revoke("fraud", user="dave")
    with pytest.raises(Forbidden):
        dave.runs.log_params(run.id, {"lr": 0.2})


def test_teams_hold_roles_for_their_members(people: People) -> None:
    bob, erin = people.add("bob"), people.add("erin")
    bob.projects.create("shared")
    team = people.admin.identity.create_team("risk")
    assert team.members == []
    people.admin.identity.add_members("risk", ["erin", "erin"])
    assert people.admin.identity.team("risk").members == ["erin"]
    assert erin.identity.teams()[0].name == "risk"
    bob.identity.grant("shared", "maintainer", team="risk")
    assert erin.identity.me().projects == {"shared": Role.MAINTAINER}
    erin.runs.create("shared")
    people.admin.identity.remove_member("risk", "erin")
    with pytest.raises(Forbidden):
        erin.runs.create("shared")
    with pytest.raises(Forbidden, match="needs the admin role"):
        erin.identity.create_team("mine")


def test_listings_show_only_what_the_caller_may_read(people: People) -> None:
    bob, carol = people.add("bob"), people.add("carol")
    for name, owner in (("open", bob), ("secret", bob), ("carols", carol)):
        owner.projects.create(name)
        with dy.start_run(name, client=owner, capture=dy.Capture.off()) as run:
            run.log_param("where", name)
    bob.identity.grant("open", "viewer", user="carol")
    assert [p.name for p in carol.projects.list()] == ["carols", "open"]
    runs = carol.runs.search().items
    assert sorted(r.params["where"] for r in runs) == ["carols", "open"]
    every = people.admin.runs.search().items
    assert sorted(r.params["where"] for r in every) == ["carols", "open", "secret"]
    secret = next(r for r in every if r.params["where"] == "secret")
    assert secret.id not in [m.id for m in carol.runs.resolve(secret.id[:8]).items]
    assert secret.id in [m.id for m in people.admin.runs.resolve(secret.id[:8]).items]
    with pytest.raises(Forbidden):
        carol.runs.search(projects=["secret"])
    assert carol.models.list().items == [] and carol.pipelines.list().items == []
    assert carol.monitoring.list() == []


def test_tokens_are_limited_expire_and_are_revoked(
    people: People, services: Services, admin_server: RunningServer
) -> None:
    bob = people.add("bob")
    bob.projects.create("fraud")
    bob.projects.create("other")
    limited = bob.identity.create_token("ci", project="fraud", role="viewer", expires_in=3600)
    assert limited.project == "fraud" and limited.role is Role.VIEWER
    assert limited.expires_at is not None
    ci = people.client(limited.token)
    assert [p.name for p in ci.projects.list()] == ["fraud"]
    ci.runs.search(projects=["fraud"])
    with pytest.raises(Forbidden, match=r"needs the editor role .*'bob' holds less"):
        ci.runs.create("fraud")
    with pytest.raises(Forbidden):
        ci.runs.search(projects=["other"])
    with pytest.raises(Forbidden):  # a limited token creates no project
        ci.projects.create("elsewhere")
    with pytest.raises(Forbidden, match="limited to a project or a role cannot make tokens"):
        ci.identity.create_token("wider")  # nor a token without its limits
    # never more than the user holds
    people.admin.projects.create("admins")
    with pytest.raises(Forbidden, match="holds no role in 'admins'"):
        bob.identity.create_token("sneaky", project="admins")
    # the list shows no secret, and when each token was last used; a revoked token stops
    listed = bob.identity.tokens()
    assert next(t for t in listed if t.name == "ci").last_used_at is not None
    assert {t.name for t in listed} == {"default", "ci"}
    assert all(limited.token not in t.model_dump_json() for t in listed)
    bob.identity.revoke_token(limited.id)
    with pytest.raises(Unauthorized):
        ci.projects.list()
    # an expired token
    later = bob.identity.create_token("short", expires_in=60)
    short = people.client(later.token)
    assert short.identity.me().name == "bob"
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    services.db.write(
        lambda s: s.execute(
            update(ApiTokenRow).where(ApiTokenRow.id == later.id).values(expires_at=past)
        )
    )
    services.access.forget_principals()
    with pytest.raises(Unauthorized):
        short.identity.me()
    # someone else's token is not yours to revoke; a disabled user's tokens stop
    carol = people.add("carol")
    with pytest.raises(NotFound):
        carol.identity.revoke_token(bob.identity.tokens()[0].id)
    people.admin.identity.update_user("bob", disabled=True)
    with pytest.raises(Unauthorized):
        bob.projects.list()


def test_password_sign_in_gives_a_token(people: People) -> None:
    people.admin.identity.create_user("frank", password=PASSWORD)
    anonymous = people.client(None)
    token = anonymous.identity.login("frank", PASSWORD)
    assert token.user == "frank" and token.expires_at is not None
    frank = people.client(token.token)
    assert frank.identity.me().name == "frank"
    for user, password in (("frank", "not the password"), ("nobody", PASSWORD)):
        with pytest.raises(Unauthorized, match="user name or the password is not right"):
            anonymous.identity.login(user, password)
    frank.identity.set_password("frank", "a brand new passphrase", current=PASSWORD)
    with pytest.raises(Unauthorized):
        anonymous.identity.login("frank", PASSWORD)
    with pytest.raises(Forbidden, match="current password is not right"):
        frank.identity.set_password("frank", "yet another passphrase", current="wrong")
    with pytest.raises(Unauthorized):  # without a token, nothing but signing in
        anonymous.projects.list()
    # guessing is slowed: after 5 failures in a minute, even the right password waits
    people.admin.identity.create_user("gina", password=PASSWORD)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            anonymous.identity.login("gina", "guess guess guess")
    with pytest.raises(TooManyRequests, match="too many failed sign-ins as 'gina'"):
        anonymous.identity.login("gina", PASSWORD)


def test_an_open_server_closes_once_it_has_an_account(
    server: RunningServer, services: Services, tmp_path: Path
) -> None:
    with remote(server, tmp_path, None) as anonymous:
        anonymous.projects.create("p")  # open: anyone on loopback reads and writes
        with connect_with(services.settings) as local:  # the embedded user is the admin
            made = local.identity.create_user("root", token=True)
        assert made.admin and made.token
        import time

        time.sleep(1.1)  # the server checks for accounts at most once a second
        with pytest.raises(Unauthorized):
            anonymous.projects.list()
    with remote(server, tmp_path, made.token) as root:
        assert [p.name for p in root.projects.list()] == ["p"]


def test_the_step_cache_never_crosses_projects(people: People) -> None:
    bob, mallory = people.add("bob"), people.add("mallory")
    bob.projects.create("mine")
    mallory.projects.create("theirs")
    key = "ab" * 32
    planted = CacheEntry(
        key=key,
        step="train",
        output=ValueRef(kind="json", digest=hashlib.sha256(b"1").hexdigest(), inline="1"),
    )
    mallory.pipelines.cache_store("theirs", [planted])
    assert bob.pipelines.cache_lookup("mine", [key]) == []
    with pytest.raises(Forbidden):
        mallory.pipelines.cache_store("mine", [planted])
    with pytest.raises(Forbidden):
        mallory.pipelines.cache_clear("mine")


def test_the_embedded_transport_checks_roles_too(services: Services) -> None:
    with connect_with(services.settings) as local:
        local.projects.create("p")
    stranger = Principal(name="stranger", role=None, user_id="0" * 32)
    client = Client(InProcessTransport(services, stranger), services.settings)
    with pytest.raises(Forbidden, match="needs the viewer role in project 'p'"):
        client.projects.get("p")
    assert client.projects.list() == []
