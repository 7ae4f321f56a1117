"""Project secrets: encrypted at rest (bound to their project and name, under a named key),
never returned by the API, never in the audit log; injected into pipeline steps (masked in
their logs) and served models; bad names and values, roles and a server without a key."""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import sqlalchemy as sa

import dockyard as dy
from dockyard.access.cipher import SecretUnreadable, key_id_of
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput, NotFound
from dockyard.core.secrets import redact_bytes
from dockyard.server.app import API_PREFIX, create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services

ADMIN = "secrets-admin-token-0123456789"
VALUE = "s3cr3t-Value-\u00e9-7f2a9c"
KEY = base64.b64encode(b"k" * 32).decode()
OTHER_KEY = base64.b64encode(b"o" * 32).decode()


def keyed(settings: Settings, key: str = KEY) -> Settings:
    return replace(settings, secrets_key=key)


@pytest.fixture
def keyed_services(settings: Settings) -> Iterator[Services]:
    opened = Services.open(keyed(settings))
    yield opened
    opened.close()


@pytest.fixture
def world(keyed_services: Services) -> Iterator[tuple[RunningServer, Client, dict[str, str]]]:
    """A server with a key and an admin token; users with each role in project ``fraud``."""
    local = connect_with(keyed_services.settings)
    local.projects.create("fraud")
    local.identity.create_user("root")
    tokens = {"admin": ADMIN}
    for role in ("viewer", "editor", "maintainer"):
        tokens[role] = local.identity.create_user(f"u-{role}", token=True).token or ""
        local.identity.grant("fraud", role, user=f"u-{role}")
    running = serve_in_thread(create_app(services=keyed_services, token=ADMIN))
    yield running, local, tokens
    running.stop()
    local.close()


def http(server: RunningServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + API_PREFIX, headers={"Authorization": f"Bearer {token}"}
    )


def raw_rows(url: str, table: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def test_a_value_is_encrypted_at_rest_and_no_answer_or_audit_event_holds_it(
    world: tuple[RunningServer, Client, dict[str, str]], settings: Settings
) -> None:
    server, local, tokens = world
    with http(server, tokens["maintainer"]) as maintainer, http(server, ADMIN) as admin:
        answers = [maintainer.put("/projects/fraud/secrets/DB_PASSWORD", json={"value": VALUE})]
        assert answers[0].status_code == 200, answers[0].text
        assert answers[0].json()["key_id"] == key_id_of(b"k" * 32)
        answers.append(maintainer.put("/projects/fraud/secrets/BAD-NAME", json={"value": VALUE}))
        answers.append(maintainer.put("/projects/fraud/secrets/EMPTY", json={"value": ""}))
        answers.append(maintainer.get("/projects/fraud/secrets"))
        answers.append(admin.get("/audit", params={"project": "fraud"}))
        answers.append(admin.get("/audit"))
        answers.append(admin.get("/openapi.json"))
        answers.append(maintainer.get("/projects/fraud"))
    assert [a.status_code for a in answers[1:3]] == [422, 422]
    assert [s["name"] for s in answers[3].json()] == ["DB_PASSWORD"]
    assert answers[3].json()[0]["updated_by"] == "u-maintainer"
    for answer in answers:
        assert VALUE not in answer.text
    events = [e for e in answers[4].json()["items"] if e["operation"] == "secrets.set"]
    assert {e["outcome"] for e in events} == {"ok", "failed"}
    assert events[-1]["target"] == {"project": "fraud", "name": "DB_PASSWORD"}
    needle = VALUE.encode()
    for table in ("project_secrets", "audit_events"):
        rows = raw_rows(settings.db, table)
        assert rows
        dumped = repr(rows).encode() + b"".join(v for r in rows for v in r if isinstance(v, bytes))
        assert needle not in dumped and VALUE not in repr(rows)
    # the key-holding process reads it back
    assert local.secrets.environment("fraud", ["DB_PASSWORD"]) == {"DB_PASSWORD": VALUE}


def test_roles_set_and_delete_are_maintainers_list_is_viewers(
    world: tuple[RunningServer, Client, dict[str, str]],
) -> None:
    server, _, tokens = world
    body = {"json": {"value": VALUE}}
    with http(server, tokens["viewer"]) as viewer, http(server, tokens["editor"]) as editor:
        refused = viewer.put("/projects/fraud/secrets/TOKEN", **body)  # type: ignore[arg-type]
        assert refused.status_code == 403 and "maintainer" in refused.json()["error"]["message"]
        assert editor.put("/projects/fraud/secrets/TOKEN", **body).status_code == 403  # type: ignore[arg-type]
        with http(server, tokens["maintainer"]) as maintainer:
            assert maintainer.put("/projects/fraud/secrets/TOKEN", **body).status_code == 200  # type: ignore[arg-type]
            assert [s["name"] for s in viewer.get("/projects/fraud/secrets").json()] == ["TOKEN"]
            assert editor.delete("/projects/fraud/secrets/TOKEN").status_code == 403
            assert maintainer.delete("/projects/fraud/secrets/TOKEN").status_code == 204
            assert maintainer.delete("/projects/fraud/secrets/TOKEN").status_code == 404
        assert viewer.get("/projects/fraud/secrets").json() == []


@pytest.mark.parametrize(
    ("name", "value", "status"),
    [
        ("lower", "x", 422),
        ("9LIVES", "x", 422),
        ("A" * 129, "x", 422),
        ("PYTHONPATH", "/tmp/evil", 422),  # would steer what code runs, not be a credential
        ("LD_PRELOAD", "/tmp/evil.so", 422),
        ("DOCKYARD_TOKEN", "dy_x", 422),
        ("PATH", "/tmp", 422),
        ("OK", "", 422),
        ("OK", "a\x00b", 422),
        ("OK", "x" * (64 * 1024 + 1), 422),
        ("OK", "\u00e9" * (40 * 1024), 422),  # 80 KiB of UTF-8 in 40 Ki characters
        ("OK", "\ud800", 422),
    ],
)
def test_bad_names_and_values_are_refused_without_quoting_the_value(
    world: tuple[RunningServer, Client, dict[str, str]], name: str, value: str, status: int
) -> None:
    server, _, _ = world
    with http(server, ADMIN) as admin:
        answer = admin.put(
            f"/projects/fraud/secrets/{name}",
            content=f'{{"value": "{value.encode("unicode_escape").decode()}"}}'.encode(),
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == status, answer.text
    if len(value) > 3:
        assert value not in answer.text


def test_a_server_without_a_key_refuses_to_set_and_says_how_to_give_one(
    services: Services,
) -> None:
    running = serve_in_thread(create_app(services=services, token=ADMIN))
    try:
        with http(running, ADMIN) as admin:
            admin.post("/projects", json={"name": "fraud"})
            answer = admin.put("/projects/fraud/secrets/DB_PASSWORD", json={"value": VALUE})
    finally:
        running.stop()
    assert answer.status_code == 409
    assert "DOCKYARD_SECRETS_KEY_FILE" in answer.json()["error"]["message"]
    assert not (services.settings.home / "secrets.key").exists()


def test_another_key_or_a_copied_row_gives_an_error_naming_the_secret(
    settings: Settings,
) -> None:
    with connect_with(keyed(settings)) as first:
        first.projects.create("fraud")
        first.projects.create("other")
        first.secrets.set("fraud", "DB_PASSWORD", VALUE)
    unreadable = pytest.raises(SecretUnreadable, match="DB_PASSWORD was encrypted with another")
    with connect_with(keyed(settings, OTHER_KEY)) as second, unreadable:
        second.secrets.environment("fraud", ["DB_PASSWORD"])
    engine = sa.create_engine(settings.db)
    with engine.begin() as conn:
        other = conn.execute(sa.text("SELECT id FROM projects WHERE name = 'other'")).scalar()
        for project_id, name in ((None, "STOLEN"), (other, "DB_PASSWORD")):
            conn.execute(
                sa.text(
                    "INSERT INTO project_secrets SELECT COALESCE(CAST(:p AS VARCHAR), "
                    "project_id), :n, nonce, ciphertext, key_id, created_by, created_at, "
                    "updated_by, updated_at "
                    "FROM project_secrets WHERE name = 'DB_PASSWORD'"
                ),
                {"p": project_id, "n": name},
            )
    engine.dispose()
    with connect_with(keyed(settings)) as first:
        with pytest.raises(SecretUnreadable, match="secret STOLEN does not decrypt"):
            first.secrets.environment("fraud", ["STOLEN"])
        with pytest.raises(SecretUnreadable, match="secret DB_PASSWORD does not decrypt"):
            first.secrets.environment("other", ["DB_PASSWORD"])
        assert first.secrets.environment("fraud", ["DB_PASSWORD"]) == {"DB_PASSWORD": VALUE}
        with pytest.raises(NotFound, match="MISSING"):
            first.secrets.environment("fraud", ["DB_PASSWORD", "MISSING"])


def test_an_embedded_home_makes_its_key_file_once_with_mode_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key_file = home / "secrets.key"
    with dy.connect(home=home) as client:
        client.projects.create("fraud")
        with pytest.raises(NotFound, match="A"):  # reading makes no key
            client.secrets.environment("fraud", ["A"])
        assert not key_file.exists()
        client.secrets.set("fraud", "A", VALUE)
    assert key_file.stat().st_mode & 0o777 == 0o600
    made = key_file.read_bytes()
    with dy.connect(home=home) as client:
        client.secrets.set("fraud", "B", "other")
        assert client.secrets.environment("fraud", ["A", "B"]) == {"A": VALUE, "B": "other"}
    assert key_file.read_bytes() == made


def test_over_http_values_are_never_fetched(
    world: tuple[RunningServer, Client, dict[str, str]], tmp_path: Path
) -> None:
    server, local, _ = world
    local.secrets.set("fraud", "DB_PASSWORD", VALUE)
    remote = connect_with(
        Settings(home=tmp_path / "c", db="", blobs="", url=server.url, token=ADMIN)
    )
    with remote, pytest.raises(InvalidInput, match="injected only where the server's key is"):
        remote.secrets.environment("fraud", ["DB_PASSWORD"], needed_by="step train")


# -- pipelines ------------------------------------------------------------------------------

FLOW = """
import os
import dockyard as dy

@dy.step(secrets=["DB_PASSWORD"])
def connect() -> dict:
    value = os.environ["DB_PASSWORD"]
    print("connecting with", value)
    print("in pieces:", value[:5], end="")
    print(value[5:])
    return {"length": len(value), "key": os.environ.get("DOCKYARD_SECRETS_KEY")}

@dy.step
def after(info: dict) -> dict:
    return {"seen": os.environ.get("DB_PASSWORD")}

@dy.step(secrets=["DB_PASSWORD"])
def fails() -> None:
    raise RuntimeError("could not connect with " + os.environ["DB_PASSWORD"])

@dy.step(secrets=["NOT_SET"])
def needs_missing() -> None:
    print("never runs")

@dy.pipeline
def flow():
    after(connect())

@dy.pipeline
def failing():
    fails()

@dy.pipeline
def missing():
    needs_missing()
"""


def write_module(folder: Path, name: str, source: str) -> ModuleType:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def pipeline_client(tmp_path: Path) -> Iterator[Client]:
    settings = Settings(
        home=tmp_path / "home",
        db=f"sqlite:///{tmp_path / 'meta.db'}",
        blobs=str(tmp_path / "b"),
        secrets_key=KEY,
    )
    made = connect_with(settings)
    made.projects.create("fraud")
    made.secrets.set("fraud", "DB_PASSWORD", VALUE)
    yield made
    made.close()


@pytest.mark.parametrize("executor", ["process", "inprocess"])
def test_a_step_gets_its_secrets_as_env_vars_and_its_log_masks_them(
    pipeline_client: Client, tmp_path: Path, executor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKYARD_SECRETS_KEY", KEY)  # the process's own key: never a step's
    mod = write_module(tmp_path, f"secret_flow_{executor}", FLOW)
    result = dy.run(mod.flow, project="fraud", executor=executor, client=pipeline_client)
    assert result.status == "succeeded", [s.error for s in result.steps]
    assert result.output("connect") == {"length": len(VALUE), "key": None}
    assert result.output("after") == {"seen": None}
    assert "DB_PASSWORD" not in os.environ and os.environ["DOCKYARD_SECRETS_KEY"] == KEY
    run_id = result.step("connect").run_id or ""
    log = pipeline_client.runs.open_artifact(run_id, "dockyard/output.log").read()
    assert b"connecting with ***" in log and b"in pieces: ***" in log
    assert VALUE.encode() not in log and VALUE[:5].encode() not in log
    run = pipeline_client.runs.get(run_id)
    assert VALUE not in repr(run) and VALUE not in repr(pipeline_client.pipelines.get(result.id))


def test_a_failing_step_s_error_and_traceback_mask_its_secrets(
    pipeline_client: Client, tmp_path: Path
) -> None:
    mod = write_module(tmp_path, "secret_failing", FLOW)
    result = dy.run(mod.failing, project="fraud", executor="process", client=pipeline_client)
    assert result.status == "failed"
    error = result.step("fails").error
    assert "could not connect with ***" in error and VALUE not in error
    run_id = result.step("fails").run_id or ""
    log = pipeline_client.runs.open_artifact(run_id, "dockyard/output.log").read()
    assert b"could not connect with ***" in log and VALUE.encode() not in log


def test_a_missing_secret_fails_the_step_before_it_runs_naming_it(
    pipeline_client: Client, tmp_path: Path
) -> None:
    mod = write_module(tmp_path, "secret_missing", FLOW)
    result = dy.run(mod.missing, project="fraud", executor="process", client=pipeline_client)
    assert result.status == "failed"
    record = result.step("needs_missing")
    assert "NOT_SET" in record.error and "dockyard secrets set -p fraud" in record.error
    assert record.attempts == 1


def test_a_step_declares_secrets_by_name() -> None:
    with pytest.raises(InvalidInput, match="not a secret's name"):
        dy.step(secrets=["db-password"])(lambda: None)
    with pytest.raises(InvalidInput, match="a list of names"):
        dy.step(secrets="DB_PASSWORD")(lambda: None)  # type: ignore[arg-type]


def test_redaction_masks_a_value_cut_off_at_the_log_limit() -> None:
    assert redact_bytes(b"a hunter2 b hunt", ["hunter2"], cut=True) == b"a *** b ***"
    assert redact_bytes(b"a hunt", ["hunter2"]) == b"a hunt"
