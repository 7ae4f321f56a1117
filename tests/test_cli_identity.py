"""``dockyard users|teams|tokens|login|whoami`` and ``dockyard projects grant|revoke|grants``:
embedded (the local user is the admin) and against a server started with an admin token."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_support import run_cli, stdin
from dockyard.core.config import Settings
from dockyard.server.app import create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services

PASSWORD = "correct-horse-battery"
ADMIN = "admin-token-0123456789abcdef"
Capsys = pytest.CaptureFixture[str]


def ok(capsys: Capsys, *argv: str) -> str:
    """Run a command that must succeed; its stdout."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, (argv, out, err)
    return out


def as_json(capsys: Capsys, *argv: str) -> Any:
    return json.loads(ok(capsys, *argv, "--json"))


def exported_token(out: str) -> str:
    """The token of ``export DOCKYARD_TOKEN=...``, the one line that shows it."""
    lines = [line for line in out.splitlines() if "dy_" in line]
    assert len(lines) == 1 and lines[0].startswith("export DOCKYARD_TOKEN=dy_"), out
    return lines[0].removeprefix("export DOCKYARD_TOKEN=")


def add_user(capsys: Capsys, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    ok(capsys, "users", "create", name, "--password-stdin")


# -- embedded: the local user is the admin --------------------------------------------------


def test_users_create_list_show_and_update(
    home: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, PASSWORD + "\n")
    out = ok(capsys, "users", "create", "alice", "--email", "a@x.io", "--password-stdin", "--token")
    assert "created user alice, a server admin" in out  # the first user is the admin
    assert "shown only now" in out and PASSWORD not in out
    exported_token(out)
    bot = as_json(capsys, "users", "create", "bot", "--service", "--token")
    assert bot["kind"] == "service" and bot["token"].startswith("dy_")
    assert not bot["admin"] and not bot["has_password"]
    out = ok(capsys, "users", "create", "carol")
    assert "no password and no token yet" in out

    users = as_json(capsys, "users", "list")
    assert [(u["name"], u["kind"], u["admin"], u["has_password"]) for u in users] == [
        ("alice", "user", True, True),
        ("bot", "service", False, False),
        ("carol", "user", False, False),
    ]
    out = ok(capsys, "users", "list")
    assert "service" in out and "created by" in out and "dy_" not in out
    out = ok(capsys, "users", "show", "alice")
    assert "a@x.io" in out and "bot" not in out

    updated = as_json(capsys, "users", "update", "carol", "--disable", "--admin", "--email", "c@x")
    assert (updated["disabled"], updated["admin"], updated["email"]) == (True, True, "c@x")
    out = ok(capsys, "users", "update", "carol", "--enable", "--no-admin")
    assert out.strip() == "updated user carol: not an admin, active"
    code, _, err = run_cli(capsys, "users", "show", "nobody")
    assert code == 3 and "no user named 'nobody'" in err
    code, _, err = run_cli(capsys, "users", "create", "alice")
    assert code == 4 and "already exists" in err
    stdin(monkeypatch, "short\n")
    code, _, err = run_cli(capsys, "users", "create", "dave", "--password-stdin")
    assert code == 2 and "at least 12 characters" in err and "short" not in err.split(":")[-1]


def test_login_passwd_and_whoami(
    home: Path, tmp_path: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(capsys, monkeypatch, "root")
    add_user(capsys, monkeypatch, "alice")

    stdin(monkeypatch, "not-her-password\n")
    code, out, err = run_cli(capsys, "login", "alice")
    assert code == 5 and "the user name or the password is not right" in err
    assert "dy_" not in out + err and "Traceback" not in err

    stdin(monkeypatch, PASSWORD + "\n")
    out = ok(capsys, "login", "alice")
    assert "signed in as alice" in out and "shown only now" in out
    token = exported_token(out)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
    assert written == []  # printed, never stored

    stdin(monkeypatch, PASSWORD + "\n")
    login = as_json(capsys, "login", "alice", "--expires", "12h")
    left = dt.datetime.fromisoformat(login["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=11) < left <= dt.timedelta(hours=12)
    assert login["user"] == "alice" and login["token"].startswith("dy_")

    # the admin sets anyone's password without the current one: one line on stdin
    stdin(monkeypatch, "a-new-password-456\n")
    assert ok(capsys, "users", "passwd", "alice").strip() == "set the password of alice"
    stdin(monkeypatch, PASSWORD + "\n")
    assert run_cli(capsys, "login", "alice")[0] == 5
    stdin(monkeypatch, "a-new-password-456\n")
    assert run_cli(capsys, "login", "alice")[0] == 0
    stdin(monkeypatch, "")
    code, _, err = run_cli(capsys, "login", "alice")
    assert code == 2 and "stdin ended before the password" in err

    out = ok(capsys, "whoami")
    assert "role in every project: admin" in out
    me = as_json(capsys, "whoami")
    assert me["role"] == "admin" and me["projects"] == {}


def test_teams(home: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("alice", "bob"):
        add_user(capsys, monkeypatch, name)
    out = ok(capsys, "teams", "create", "ds", "--description", "data science")
    assert "created team ds" in out
    out = ok(capsys, "teams", "add", "ds", "alice", "bob", "alice")
    assert out.strip() == "team ds has 2 members: alice, bob"
    team = as_json(capsys, "teams", "show", "ds")
    assert (team["members"], team["description"]) == (["alice", "bob"], "data science")
    assert as_json(capsys, "users", "show", "bob")["teams"] == ["ds"]
    out = ok(capsys, "teams", "list")
    assert "data science" in out and "alice, bob" in out
    out = ok(capsys, "teams", "remove", "ds", "bob")
    assert out.strip() == "team ds has 1 member: alice"
    code, _, err = run_cli(capsys, "teams", "add", "ds", "nobody")
    assert code == 3 and "no user named 'nobody'" in err

    stdin(monkeypatch, "n\n")
    assert run_cli(capsys, "teams", "delete", "ds")[0] == 130
    assert [t["name"] for t in as_json(capsys, "teams", "list")] == ["ds"]
    assert ok(capsys, "teams", "delete", "ds", "--yes").strip() == "deleted team ds"
    assert as_json(capsys, "teams", "list") == []
    assert "no teams yet" in ok(capsys, "teams", "list")
    assert run_cli(capsys, "teams", "show", "ds")[0] == 3


def test_project_grants_for_a_user_and_a_team(
    home: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("root", "bob"):
        add_user(capsys, monkeypatch, name)
    ok(capsys, "teams", "create", "ds")
    ok(capsys, "projects", "create", "fraud")
    assert "no roles granted in fraud" in ok(capsys, "projects", "grants", "fraud")

    out = ok(capsys, "projects", "grant", "fraud", "--user", "bob", "--role", "editor")
    assert out.strip() == "user bob is editor in project fraud"
    granted = as_json(capsys, "projects", "grant", "fraud", "--team", "ds", "--role", "Viewer")
    assert (granted["subject"], granted["subject_kind"], granted["role"]) == (
        "ds",
        "team",
        "viewer",
    )
    grants = as_json(capsys, "projects", "grants", "fraud")
    assert [(g["subject"], g["subject_kind"], g["role"]) for g in grants] == [
        ("bob", "user", "editor"),
        ("ds", "team", "viewer"),
    ]
    out = ok(capsys, "projects", "grants", "fraud")
    assert all(h in out for h in ("subject", "kind", "role", "granted by", "when (UTC)"))
    assert "bob" in out and "editor" in out and "ds" in out

    out = ok(capsys, "projects", "revoke", "fraud", "--user", "bob")
    assert out.strip() == "took the role of user bob in project fraud away"
    ok(capsys, "projects", "revoke", "fraud", "--team", "ds")
    assert as_json(capsys, "projects", "grants", "fraud") == []
    code, _, err = run_cli(capsys, "projects", "revoke", "fraud", "--user", "bob")
    assert code == 3 and "holds no role in 'fraud'" in err
    code, _, err = run_cli(capsys, "projects", "grant", "nope", "--user", "bob", "--role", "owner")
    assert code == 3 and "no project named" in err


def test_tokens_create_list_and_revoke(
    home: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("root", "bob"):
        add_user(capsys, monkeypatch, name)
    ok(capsys, "projects", "create", "fraud")
    ok(capsys, "projects", "grant", "fraud", "--user", "bob", "--role", "editor")

    scoped = as_json(
        capsys, "tokens", "create", "--name", "ci", "--user", "bob", "-p", "fraud",
        "--role", "viewer", "--expires", "90d",
    )  # fmt: skip
    assert (scoped["project"], scoped["role"], scoped["user"]) == ("fraud", "viewer", "bob")
    left = dt.datetime.fromisoformat(scoped["expires_at"]) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=89) < left <= dt.timedelta(days=90)
    out = ok(capsys, "tokens", "create", "--name", "laptop", "--user", "bob", "--expires", "1y")
    assert "created token laptop" in out and "for bob" in out and "shown only now" in out
    exported_token(out)

    tokens = as_json(capsys, "tokens", "list", "--user", "bob")
    assert [(t["name"], t["project"], t["role"]) for t in tokens] == [
        ("ci", "fraud", "viewer"),
        ("laptop", None, None),
    ]
    assert all("token" not in t for t in tokens)  # secrets are never listed
    out = ok(capsys, "tokens", "list", "--all")
    assert scoped["id"] in out and "active" in out and "dy_" not in out

    out = ok(capsys, "tokens", "revoke", scoped["id"])
    assert out.strip() == f"revoked token ci ({scoped['id']}) of bob"
    tokens = as_json(capsys, "tokens", "list", "--user", "bob")
    assert tokens[0]["revoked_at"] is not None and tokens[1]["revoked_at"] is None
    assert "revoked" in ok(capsys, "tokens", "list", "--user", "bob")
    code, _, err = run_cli(capsys, "tokens", "revoke", "nope")
    assert code == 3 and "no token with id 'nope'" in err

    code, _, err = run_cli(
        capsys, "tokens", "create", "--name", "x", "--user", "bob", "-p", "fraud", "--role", "owner"
    )
    assert code == 5 and "cannot be owner" in err
    code, _, err = run_cli(capsys, "tokens", "list")  # the embedded admin has no account
    assert code == 2 and "--user NAME" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["projects", "grant", "p", "--user", "u", "--team", "t", "--role", "viewer"], "not both"),
        (["projects", "grant", "p", "--role", "viewer"], "--user USER or --team TEAM"),
        (["projects", "grant", "p", "--user", "u", "--role", "boss"], "'boss' is not one of"),
        (["projects", "grant", "p", "--user", "u"], "Missing option '--role'"),
        (["projects", "revoke", "p", "--user", "u", "--team", "t"], "not both"),
        (["projects", "revoke", "p"], "--user USER or --team TEAM"),
        (["tokens", "create", "--name", "x", "--role", "admin"], "'admin' is not one of"),
        (["tokens", "create", "--name", "x", "--expires", "soon"], "'soon' is not a duration"),
        (["tokens", "create", "--name", "x", "--expires", "90"], "'90' is not a duration"),
        (["tokens", "create", "--name", "x", "--expires", "30s"], "between 1m and 3650d"),
        (["tokens", "create", "--name", "x", "--expires", "11y"], "between 1m and 3650d"),
        (["login", "u", "--expires", "forever"], "'forever' is not a duration"),
        (["tokens", "list", "--user", "u", "--all"], "not both"),
        (["users", "update", "u"], "nothing to change"),
        (["users", "create", "svc", "--service", "--password-stdin"], "has no password"),
    ],
)
def test_bad_input_is_a_usage_error(
    home: Path, capsys: Capsys, argv: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err)
    assert message in err and "Traceback" not in err


# -- against a server ------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A server with an admin token; the CLI points at it (DOCKYARD_URL, DOCKYARD_TOKEN)."""
    where = tmp_path / "server"
    services = Services.open(
        Settings(home=where, db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(where / "b"))
    )
    running = serve_in_thread(create_app(services=services, token=ADMIN))
    monkeypatch.setenv("DOCKYARD_URL", running.url)
    monkeypatch.setenv("DOCKYARD_TOKEN", ADMIN)
    yield running
    running.stop()
    services.close()


def test_a_viewer_token_reads_its_project_and_writes_nothing(
    home: Path, server: RunningServer, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("root", "bob"):
        add_user(capsys, monkeypatch, name)
    ok(capsys, "projects", "create", "fraud")
    ok(capsys, "projects", "create", "other")
    ok(capsys, "projects", "grant", "fraud", "--user", "bob", "--role", "editor")
    out = ok(
        capsys, "tokens", "create", "--name", "ro", "--user", "bob", "-p", "fraud",
        "--role", "viewer",
    )  # fmt: skip
    assert f"with DOCKYARD_URL={server.url}" in out
    monkeypatch.setenv("DOCKYARD_TOKEN", exported_token(out))

    assert "fraud" in ok(capsys, "projects", "show", "fraud")
    me = as_json(capsys, "whoami")
    assert (me["name"], me["role"], me["projects"]) == ("bob", None, {"fraud": "viewer"})
    out = ok(capsys, "whoami")
    assert "role in every project: none" in out and "may not create projects" in out
    code, _, err = run_cli(capsys, "projects", "rename", "fraud", "fraud2")
    assert code == 5 and "needs the maintainer role" in err and "'bob'" in err
    table = home.parent / "t.csv"
    table.write_text("id,amount\n1,2.5\n")
    code, _, err = run_cli(capsys, "data", "ingest", str(table), "-d", "tx", "-p", "fraud")
    assert code == 5 and "needs the editor role" in err and "Traceback" not in err
    assert run_cli(capsys, "projects", "show", "other")[0] != 0
    code, _, err = run_cli(capsys, "users", "list")
    assert code == 5 and "needs the admin role" in err

    # bob signs in with his password: a token with his own roles
    monkeypatch.delenv("DOCKYARD_TOKEN")
    stdin(monkeypatch, "wrong-password-123\n")
    code, _, err = run_cli(capsys, "login", "bob")
    assert code == 5 and "the user name or the password is not right" in err
    stdin(monkeypatch, PASSWORD + "\n")
    monkeypatch.setenv("DOCKYARD_TOKEN", exported_token(ok(capsys, "login", "bob")))
    assert as_json(capsys, "whoami")["projects"] == {"fraud": "editor"}
    assert [t["name"] for t in as_json(capsys, "tokens", "list")] == ["ro", "login"]
    code, _, err = run_cli(capsys, "projects", "grant", "fraud", "--user", "bob", "--role", "owner")
    assert code == 5 and "needs the owner role" in err

    # the admin reads what was refused, and who asked
    monkeypatch.setenv("DOCKYARD_TOKEN", ADMIN)
    out = ok(capsys, "audit", "-p", "fraud", "--outcome", "denied", "--since", "1h")
    assert "projects.update" in out and "bob" in out and "denied (403)" in out
    events = as_json(capsys, "audit", "--user", "bob", "--operation", "identity.login")
    assert [e["outcome"] for e in events] == ["ok", "denied"]
    code, _, err = run_cli(capsys, "audit", "--outcome", "maybe")
    assert code == 2 and "use ok, denied or failed" in err


def test_teams_follow_sso_groups_and_users_link_to_sso_identities(
    home: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(capsys, monkeypatch, "alice")
    team = as_json(capsys, "teams", "create", "risk", "--sso-group", "risk-analysts")
    assert team["sso_group"] == "risk-analysts"
    out = ok(capsys, "teams", "update", "risk", "--sso-group", "risk")
    assert "single sign-on group 'risk'" in out
    assert as_json(capsys, "teams", "update", "risk", "--sso-group", "")["sso_group"] is None
    code, _, err = run_cli(capsys, "teams", "update", "risk")
    assert code != 0 and "nothing to change" in err

    monkeypatch.delenv("DOCKYARD_OIDC_ISSUER", raising=False)
    code, _, err = run_cli(capsys, "users", "update", "alice", "--sso-subject", "s-1")
    assert code != 0 and "--sso-issuer" in err
    linked = as_json(
        capsys,
        "users",
        "update",
        "alice",
        "--sso-subject",
        "s-1",
        "--sso-issuer",
        "https://id.example/",
    )
    assert linked["sso_subject"] == "s-1"
    assert as_json(capsys, "users", "update", "alice", "--sso-subject", "")["sso_subject"] is None
