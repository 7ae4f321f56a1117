"""``dockyard secrets set|list|delete``: embedded (the home makes its key) and against a
server with a key, where a viewer's token reads names and sets nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_support import run_cli, stdin
from dockyard.core.config import Settings
from dockyard.server.app import create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services

ADMIN = "admin-token-0123456789abcdef"
VALUE = "multi\nline-s3cret\u00e9"
Capsys = pytest.CaptureFixture[str]


def ok(capsys: Capsys, *argv: str) -> str:
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, (argv, out, err)
    assert VALUE not in out and VALUE not in err
    return out


def test_set_list_and_delete_embedded(
    home: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(capsys, "projects", "create", "fraud")
    stdin(monkeypatch, VALUE + "\n")  # one final newline is dropped, the others kept
    assert "set secret DB_PASSWORD of fraud" in ok(
        capsys, "secrets", "set", "-p", "fraud", "DB_PASSWORD"
    )
    assert (home / "secrets.key").stat().st_mode & 0o777 == 0o600
    listed = json.loads(ok(capsys, "secrets", "list", "-p", "fraud", "--json"))
    assert [(s["name"], s["project"]) for s in listed] == [("DB_PASSWORD", "fraud")]
    assert "DB_PASSWORD" in ok(capsys, "secrets", "list", "-p", "fraud")
    from dockyard.client.client import connect

    with connect(home=home) as client:
        assert client.secrets.environment("fraud", ["DB_PASSWORD"]) == {"DB_PASSWORD": VALUE}
    ok(capsys, "secrets", "delete", "-p", "fraud", "DB_PASSWORD")
    assert "no secrets in fraud" in ok(capsys, "secrets", "list", "-p", "fraud")
    code, _, err = run_cli(capsys, "secrets", "delete", "-p", "fraud", "DB_PASSWORD")
    assert code == 3 and "no secret DB_PASSWORD" in err


def test_bad_input_is_refused_with_a_usage_exit_code(
    home: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(capsys, "projects", "create", "fraud")
    stdin(monkeypatch, "")
    code, _, err = run_cli(capsys, "secrets", "set", "-p", "fraud", "EMPTY")
    assert code == 2 and "no value" in err
    stdin(monkeypatch, "x\n")
    code, _, err = run_cli(capsys, "secrets", "set", "-p", "fraud", "db-password")
    assert code == 2 and "not a secret's name" in err
    stdin(monkeypatch, "x\n")
    code, _, err = run_cli(capsys, "secrets", "set", "-p", "nowhere", "TOKEN")
    assert code == 3


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """A server with a secrets key and an admin token; the CLI points at it."""
    where = tmp_path / "server"
    key = where / "key"
    where.mkdir()
    key.write_text(base64.b64encode(b"q" * 32).decode() + "\n")
    settings = Settings(
        home=where,
        db=f"sqlite:///{tmp_path / 'meta.db'}",
        blobs=str(where / "b"),
        secrets_key_file=str(key),
    )
    services = Services.open(settings)
    running = serve_in_thread(create_app(services=services, token=ADMIN))
    monkeypatch.setenv("DOCKYARD_URL", running.url)
    monkeypatch.setenv("DOCKYARD_TOKEN", ADMIN)
    yield running
    running.stop()
    services.close()


def test_against_a_server_a_viewer_lists_names_and_cannot_set(
    home: Path, server: RunningServer, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(capsys, "users", "create", "root")
    ok(capsys, "users", "create", "bob")
    ok(capsys, "projects", "create", "fraud")
    ok(capsys, "projects", "grant", "fraud", "--user", "bob", "--role", "viewer")
    stdin(monkeypatch, VALUE)
    ok(capsys, "secrets", "set", "-p", "fraud", "API_KEY")
    out = ok(capsys, "tokens", "create", "--name", "ro", "--user", "bob", "--json")
    monkeypatch.setenv("DOCKYARD_TOKEN", json.loads(out)["token"])
    assert [
        s["name"] for s in json.loads(ok(capsys, "secrets", "list", "-p", "fraud", "--json"))
    ] == ["API_KEY"]
    stdin(monkeypatch, "other\n")
    code, _, err = run_cli(capsys, "secrets", "set", "-p", "fraud", "API_KEY")
    assert code == 5 and "maintainer" in err
    assert not (home / "secrets.key").exists()  # the key is the server's, not the client's
