"""Who acts, and what they may do: identity comes only from the token a server was started
with (never from a header), every operation declares the role it needs and the server checks
it, an open server (no token) administers nothing over HTTP, and creating a schedule runs no
code and probes no file."""

from __future__ import annotations

import datetime as dt
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import update

import dockyard as dy
from dockyard.catalog import all_operations
from dockyard.cli.main import main
from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings, load_settings
from dockyard.core.errors import Forbidden, InvalidInput, Unauthorized
from dockyard.core.operations import LISTING, PUBLIC, Operation
from dockyard.core.principal import Principal, Role, local_principal
from dockyard.core.tokens import describe_grants, parse_token_grants
from dockyard.sdk.scheduler import Scheduler
from dockyard.server.app import API_PREFIX, create_app
from dockyard.server.housekeeping import start_reaper
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services
from dockyard.store.tables import PipelineScheduleRow, RunRow

ADMIN = "admin-token-0123456789abcdef"
ALICE = "alice-token-0123456789abcdef"
RITA = "rita-token-0123456789abcdefg"
OPS = "ops-token-0123456789abcdefghi"
USER_TOKENS = f"""
# name[:role]=token
alice:maintainer={ALICE}
rita:read={RITA}, ops:admin={OPS}
"""
SPOOF = {"X-Dockyard-User": "admin"}

V, E, M, OWN, A = Role.VIEWER, Role.EDITOR, Role.MAINTAINER, Role.OWNER, Role.ADMIN
EXPECTED_ROLES: dict[str, Role] = {
    # projects: an account creates its own (and owns them); deleting one erases everything
    "projects.create": E, "projects.list": V, "projects.get": V, "projects.update": M,
    "projects.delete": OWN,
    # experiments and runs: delete and restore are soft; purge is the owners', reaping the
    # admin's
    "experiments.create": E, "experiments.list": V, "experiments.get": V,
    "experiments.delete": E, "experiments.restore": E, "experiments.purge": OWN,
    "runs.create": E, "runs.keys": V, "runs.resolve": V, "runs.get": V, "runs.update": E,
    "runs.log_params": E, "runs.set_tags": E, "runs.heartbeat": E, "runs.delete": E,
    "runs.reap": A, "runs.purge": OWN, "runs.restore": E, "runs.search": V, "metrics.log": E,
    "metrics.history": V, "artifacts.upload": E, "artifacts.list": V, "artifacts.download": V,
    "artifacts.table": V, "run_io.list": V,
    # data and models: whole datasets and models are deleted by owners, versions by
    # maintainers
    "datasets.create": E, "datasets.list": V, "datasets.get": V, "datasets.delete": OWN,
    "datasets.set_rules": E, "datasets.commit": E, "datasets.versions": V,
    "datasets.version": V, "datasets.delete_version": M, "datasets.validate": E,
    "datasets.record_use": E, "datasets.diff": V, "datasets.lineage": V, "features.apply": E,
    "features.list_views": V, "features.get_view": V, "features.view_versions": V,
    "features.list_entities": V, "features.online": V, "features.materialize": E,
    "features.push": E, "features.record_training_set": E, "features.training_sets": V,
    # models: aliases, traffic and the Andon cord are the maintainers'; gate policies the owners'
    "models.create": E, "models.list": V, "models.get": V, "models.update": E,
    "models.delete": OWN, "models.register": E, "models.versions": V, "models.version": V,
    "models.update_version": E, "models.delete_version": M, "models.record_use": E,
    "models.lineage": V, "models.card": V, "models.aliases": V, "models.set_alias": M,
    "models.remove_alias": M, "models.rollback": M, "models.history": V,
    "models.model_history": V, "models.set_traffic": M, "models.clear_traffic": M,
    "models.freeze": M, "models.unfreeze": M, "models.set_policy": OWN, "models.check": V,
    # serving: model servers report and log as editors of their models' projects
    "serving.heartbeat": E, "serving.instances": V, "serving.record_segment": E,
    "serving.segments": V, "serving.predictions": V, "serving.trace": V,
    # a monitor acts on its own (rollbacks, freezes, retraining): maintainers make and run it
    "monitoring.put": M, "monitoring.list": V, "monitoring.get": V, "monitoring.delete": M,
    "monitoring.due": A, "monitoring.run": M, "monitoring.alerts": V,
    "monitoring.record_delivery": A, "monitoring.windows": V, "monitoring.metrics": V,
    "monitoring.report": V, "monitoring.log_labels": E, "monitoring.log_entity_labels": E,
    # the step cache is per project: another project's outputs are never reused
    "pipelines.create": E, "pipelines.update_steps": E, "pipelines.start_steps": E,
    "pipelines.finish_steps": E, "pipelines.finish": E, "pipelines.state": V,
    "pipelines.cancel": E, "pipelines.resolve": V, "pipelines.get": V, "pipelines.list": V,
    "pipelines.cache_lookup": V, "pipelines.cache_store": E, "pipelines.cache_clear": E,
    # a schedule names code the server imports when it fires: the admin makes them;
    # maintainers stop, start and delete them
    "schedules.create": A, "schedules.list": V, "schedules.get": V, "schedules.delete": M,
    "schedules.enable": M, "schedules.disable": M, "schedules.claim": A, "schedules.record": A,
    # blobs belong to no project: a role in any project reads them by digest
    "blobs.upload": E, "blobs.download": V, "blobs.info": V,
    # garbage collection is the admin's
    "gc.purge": A, "gc.prune_predictions": A, "gc.collect": A,
    # identity: the admin manages accounts and teams, owners their projects' grants, each
    # account its own tokens and password (those operations check whose they are)
    "identity.create_user": A, "identity.list_users": A, "identity.me": V,
    "identity.get_user": V, "identity.update_user": A, "identity.set_password": V,
    "identity.create_team": A, "identity.list_teams": V, "identity.get_team": V,
    "identity.add_members": A, "identity.remove_member": A, "identity.delete_team": A,
    "identity.update_team": A,
    "identity.grants": V, "identity.grant": OWN, "identity.revoke": OWN,
    "identity.create_token": V, "identity.list_tokens": V, "identity.revoke_token": V,
    "identity.login": V, "audit.list": V,
    # secrets: maintainers set and delete them, viewers read their names (never a value)
    "secrets.set": M, "secrets.list": V, "secrets.delete": M,
}  # fmt: skip


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """Identity does not depend on the database: SQLite only."""
    opened = Services.open(
        Settings(home=tmp_path, db=f"sqlite:///{tmp_path / 'meta.db'}", blobs=str(tmp_path / "b"))
    )
    yield opened
    opened.close()


@pytest.fixture
def guarded(services: Services) -> Iterator[RunningServer]:
    """A server with the admin token and three user tokens (alice write, rita read, ops admin)."""
    grants = parse_token_grants(USER_TOKENS, "the test's tokens")
    running = serve_in_thread(create_app(services=services, token=ADMIN, user_tokens=grants))
    yield running
    running.stop()


@pytest.fixture
def open_server(services: Services) -> Iterator[RunningServer]:
    running = serve_in_thread(create_app(services=services))
    yield running
    running.stop()


def http(server: RunningServer, token: str | None = None) -> httpx.Client:
    headers = dict(SPOOF)  # every request also claims to be the admin: it must not matter
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=server.url + API_PREFIX, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def request_of(op: Operation) -> tuple[str, str, dict[str, Any]]:
    path = op.path.format(**{name: "x" for name, _ in op.path_params})
    body = {"json": {}} if op.method in ("POST", "PUT", "PATCH") else {}
    return op.method, path, body


# -- every operation declares its role ---------------------------------------------------------


def test_every_operation_declares_the_role_it_needs(services: Services) -> None:
    """A new operation must be added here with the role it needs (the review of its role)."""
    assert {op.key: op.role for op in all_operations()} == EXPECTED_ROLES
    spec = create_app(services=services).openapi()
    roles = {
        op["operationId"]: op["x-dockyard-role"]
        for path in spec["paths"].values()
        for op in path.values()
        if "operationId" in op and op["operationId"] in EXPECTED_ROLES
    }
    assert roles == {key: str(role) for key, role in EXPECTED_ROLES.items()}


# -- identity comes from the token ------------------------------------------------------------


def test_user_tokens_name_the_caller_and_a_user_header_is_ignored(
    guarded: RunningServer,
) -> None:
    for token, name in ((ALICE, "alice"), (OPS, "ops"), (ADMIN, "admin")):
        with http(guarded, token) as client:
            made = client.post("/projects", json={"name": f"p-{name}"})
            assert made.status_code == 201, made.text
            assert made.json()["created_by"] == name
            run = client.post("/runs", json={"project": f"p-{name}"}).json()
            assert run["user"] == name
    with http(guarded, RITA) as rita:
        assert [p["name"] for p in rita.get("/projects").json()["items"]] == [
            "p-admin",
            "p-alice",
            "p-ops",
        ]
        refused = rita.post("/projects", json={"name": "mine"})
        assert refused.status_code == 403
        message = error_of(refused)["message"]
        assert "(projects.create) needs the editor role, and 'rita' has viewer" in message


def test_requests_without_a_known_token_are_refused(guarded: RunningServer) -> None:
    for headers in ({}, {"Authorization": "Bearer nope-nope-nope-nope"}, {"Authorization": ALICE}):
        answer = httpx.get(guarded.url + API_PREFIX + "/projects", headers={**SPOOF, **headers})
        assert answer.status_code == 401 and "DOCKYARD_TOKEN" in error_of(answer)["message"]


def test_a_spoofed_header_moves_no_alias_and_overrides_no_gate(
    guarded: RunningServer, services: Services
) -> None:
    local = connect_with(services.settings)
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    with dy.start_run("fraud", client=local, capture=dy.Capture.off()) as run:
        dy.log_model(LogisticRegression().fit(x, [0, 1, 0, 1]), "model", input_example=x)
    for _ in range(2):
        dy.register_model(run, name="det", client=local)
    with http(guarded, ALICE) as alice:
        moved = alice.put("/models/det/aliases/champion", json={"version": 1})
        assert moved.status_code == 200 and moved.json()["updated_by"] == "alice"
        history = alice.get("/models/det/aliases/champion/history").json()
        assert [move["actor"] for move in history] == ["alice"]
        policy = {"policy": {"gates": [{"metric": "auc", "threshold": 1}]}}
        refused = alice.put("/models/det/aliases/champion/policy", json={"policy": None})
        assert refused.status_code == 403
        assert alice.put("/models/det/aliases/champion/policy", json=policy).status_code == 403
    with http(guarded, ADMIN) as admin:
        assert admin.put("/models/det/aliases/champion/policy", json=policy).status_code == 200
    with http(guarded, ALICE) as alice:
        forced = {"version": 2, "force": True, "reason": "I am the admin, says my header"}
        refused = alice.put("/models/det/aliases/champion", json=forced)
        assert refused.status_code == 403
        assert "'alice' may not override" in error_of(refused)["message"]
    with http(guarded, OPS) as ops:  # a user token with the admin role may
        done = ops.put("/models/det/aliases/champion", json={**forced, "reason": "hotfix"})
        assert done.status_code == 200 and done.json()["version"] == 2
    assert [m.actor for m in local.models.history("det", "champion")] == ["ops", "alice"]
    local.close()


def test_the_client_sends_its_token_and_no_user_name(
    guarded: RunningServer, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, db="", blobs="", url=guarded.url, token=ALICE)
    with connect_with(settings) as client:
        assert "x-dockyard-user" not in client.transport.http.headers  # type: ignore[attr-defined]
        assert client.projects.create("owned").created_by == "alice"
        with pytest.raises(Forbidden, match="use the server's admin token"):
            client.gc(grace_seconds=0)
    with pytest.raises(InvalidInput, match="decides who is calling from the token"):
        connect_with(settings, principal=Principal(name="admin", role=Role.ADMIN))


# -- administration needs the admin token ------------------------------------------------------


def test_every_admin_operation_needs_an_admin_token(guarded: RunningServer) -> None:
    admin_ops = [op for op in all_operations() if op.role is Role.ADMIN]
    assert {op.key for op in admin_ops} >= {"gc.collect", "identity.create_user", "runs.reap"}
    for op in admin_ops:
        method, path, body = request_of(op)
        for token in (None, ALICE, RITA):
            with http(guarded, token) as client:
                answer = client.request(method, path, **body)
            assert answer.status_code == (401 if token is None else 403), (op.key, answer.text)
        for token in (ADMIN, OPS):
            with http(guarded, token) as client:
                answer = client.request(method, path, **body)
            assert answer.status_code not in (401, 403), (op.key, answer.text)


def test_a_viewer_token_is_refused_every_operation_that_needs_more(
    guarded: RunningServer,
) -> None:
    """Refused before the body is read: a malformed body gets the 403 too. (Operations on
    the caller's own account, which check whose it is, are left to tests of their own.)"""
    for op in all_operations():
        if op.on in (LISTING, PUBLIC):
            continue
        method, path, body = request_of(op)
        with http(guarded, RITA) as rita:
            answer = rita.request(method, path, **body)
        if op.role is Role.VIEWER:
            assert answer.status_code != 403, (op.key, answer.text)
        else:
            assert answer.status_code == 403, (op.key, answer.text)
            assert error_of(answer)["details"] == {"needed": str(op.role), "role": "viewer"}


def test_an_open_server_reads_and_writes_but_administers_nothing(
    open_server: RunningServer, tmp_path: Path
) -> None:
    with http(open_server) as client:
        made = client.post("/projects", json={"name": "p"})
        assert made.status_code == 201 and made.json()["created_by"] == "anonymous"
        for op in all_operations():
            if op.role is not Role.ADMIN:
                continue
            method, path, body = request_of(op)
            answer = client.request(method, path, **body)
            assert answer.status_code == 403, (op.key, answer.text)
            message = error_of(answer)["message"]
            assert "start the server with an admin token (--token or DOCKYARD_TOKEN)" in message
    settings = Settings(home=tmp_path, db="", blobs="", url=open_server.url)
    with connect_with(settings) as remote, pytest.raises(Forbidden, match="without tokens"):
        remote.gc(dry_run=True)


def test_the_embedded_user_holds_every_role(services: Services) -> None:
    assert local_principal().role is Role.ADMIN
    with connect_with(services.settings) as local:
        assert local.gc(grace_seconds=0).blobs_deleted == 0


def test_runs_start_over_http_without_reaping_and_the_server_reaps(
    guarded: RunningServer, services: Services, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, db="", blobs="", url=guarded.url, token=ALICE)
    with connect_with(settings) as alice:
        with dy.start_run("p", client=alice, capture=dy.Capture.off()) as run:
            run.log_metric("loss", 0.5)
        assert alice.runs.get(run.id).status == "finished"
        orphan = alice.runs.create("p")
        with pytest.raises(Forbidden, match=r"\(runs\.reap\) needs the admin role"):
            alice.runs.reap(timeout_seconds=1)
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    services.db.write(
        lambda s: s.execute(
            update(RunRow).where(RunRow.id == orphan.id).values(heartbeat_at=an_hour_ago)
        )
    )
    stop = start_reaper(services, interval=0.05)
    try:
        deadline = time.monotonic() + 30
        while services.runs.get(local_principal(), orphan.id).status != "failed":
            assert time.monotonic() < deadline, "the server's reaper did not reap"
            time.sleep(0.05)
    finally:
        stop()
    assert services.runs.get(local_principal(), run.id).status == "finished"


# -- creating a schedule runs no code and probes no file ---------------------------------------

MARKED = """
import pathlib
import dockyard as dy

pathlib.Path({marker!r}).write_text("imported")

@dy.step
def hello() -> str:
    return "hi"

@dy.pipeline
def flow():
    hello()
"""


def test_creating_a_schedule_over_http_imports_nothing_and_probes_no_file(
    guarded: RunningServer, services: Services, tmp_path: Path
) -> None:
    marker = tmp_path / "imported.txt"
    code = tmp_path / "marked_flow.py"
    code.write_text(textwrap.dedent(MARKED.format(marker=str(marker))))
    missing = tmp_path / "missing_flow.py"
    with http(guarded, ALICE) as alice:
        assert alice.post("/projects", json={"name": "p"}).status_code == 201
        body = {"project": "p", "name": "a", "pipeline": f"{code}:flow", "cron": "@daily"}
        refused = alice.post("/pipelines/schedules", json={**body, "executor": "inprocess"})
        assert refused.status_code == 403
    answers = []
    with http(guarded, ADMIN) as admin:
        for name, path in (("present", code), ("absent", missing)):
            body = {
                "project": "p",
                "name": name,
                "pipeline": f"{path}:flow",
                "cron": "@daily",
                "executor": "inprocess",
            }
            answers.append(admin.post("/pipelines/schedules", json=body))
    assert not marker.exists(), "creating the schedule imported the pipeline"
    assert [a.status_code for a in answers] == [201, 201]
    varying = {"id", "name", "pipeline", "created_at", "updated_at", "next_fire_at"}
    present, absent = ({k: v for k, v in a.json().items() if k not in varying} for a in answers)
    assert present == absent and present["created_by"] == "admin"

    # the scheduler (which runs pipelines by design) imports them when they fire
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    services.db.write(lambda s: s.execute(update(PipelineScheduleRow).values(next_fire_at=past)))
    with connect_with(services.settings) as local:
        fired = {f.schedule: f for f in Scheduler(local, say=lambda _line: None).poll()}
        assert marker.read_text() == "imported"
        assert fired["present"].status == "succeeded"
        assert fired["absent"].status == "failed" and str(missing) in fired["absent"].error
        state = local.schedules.get("p", "absent")
        assert state.last_status == "failed" and "cannot import" in state.last_error


def test_a_client_checks_the_pipeline_on_its_own_machine_first(
    guarded: RunningServer, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, db="", blobs="", url=guarded.url, token=ADMIN)
    with connect_with(settings) as client:
        client.projects.create("p")
        gone = f"{tmp_path / 'gone.py'}:flow"
        with pytest.raises(InvalidInput, match=r"there is no file .* check=False"):
            client.schedules.create("p", "s", gone, cron="@daily")
        made = client.schedules.create("p", "s", gone, cron="@daily", check=False)
        assert made.pipeline == gone
        relative = client.schedules.create("p", "r", "flows/x.py:f", cron="@daily", check=False)
        assert relative.pipeline == f"{Path.cwd() / 'flows' / 'x.py'}:f"


# -- configuring tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just-a-long-hushhush-token-value", "entry 1 of T is not NAME=TOKEN"),
        ("=just-a-long-hushhush-token-value", "entry 1 of T is not NAME=TOKEN"),
        ("bad/name=just-a-long-hushhush-token-value", "the name is not valid"),
        ("admin=just-a-long-hushhush-token-value", "'admin' is reserved"),
        ("Anonymous=just-a-long-hushhush-token-value", "is reserved"),
        ("bob:root=just-a-long-hushhush-token-value", "unknown role 'root'"),
        ("bob=short", "at least 16 printable ASCII characters"),
        ("bob=just-a-long-hushhush-tökén-value", "at least 16 printable ASCII characters"),
        (
            "a=just-a-long-hushhush-token-value\nb=just-a-long-hushhush-token-value",
            r"entry 2 of T \(b\) has the same token as 'a'",
        ),
    ],
)
def test_bad_user_tokens_are_refused_without_repeating_the_token(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as refused:
        parse_token_grants(text, "T")
    assert "hushhush" not in str(refused.value) and "short" not in str(refused.value)


def test_user_tokens_come_from_the_settings_and_never_show(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grants = parse_token_grants(USER_TOKENS, "T")
    assert [(g.name, g.role) for g in grants] == [("alice", M), ("rita", V), ("ops", A)]
    assert ALICE not in repr(grants) and ALICE not in describe_grants(USER_TOKENS)
    assert describe_grants(USER_TOKENS) == "alice (maintainer), rita (viewer), ops (admin)"
    settings = load_settings(home=tmp_path, environ={"DOCKYARD_USER_TOKENS": USER_TOKENS})
    shown = {name: value for name, value, _source in settings.describe()}
    assert shown["user_tokens"] == "alice (maintainer), rita (viewer), ops (admin)"
    with pytest.raises(InvalidInput, match="the token of user 'alice' is the same as 'admin'"):
        create_app(services=services, token=ALICE, user_tokens=grants)

    from_env = Services.open(
        Settings(
            home=services.settings.home,
            db=services.settings.db,
            blobs=services.settings.blobs,
            user_tokens=f"carol={ALICE}",
        )
    )
    running = serve_in_thread(create_app(services=from_env))
    try:
        with http(running, ALICE) as carol:
            assert carol.post("/projects", json={"name": "c"}).json()["created_by"] == "carol"
        with http(running) as nobody:
            assert nobody.get("/projects").status_code == 401
    finally:
        running.stop()
        from_env.close()


def test_the_server_command_refuses_a_bad_tokens_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCKYARD_URL", raising=False)
    tokens = tmp_path / "tokens"
    tokens.write_text("alice=fine-token-0123456789\nbob:boss=other-token-0123456789\n")
    with pytest.raises(SystemExit) as exited:
        main(["server", "--user-tokens-file", str(tokens), "--port", "0"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "entry 2 of" in err and "unknown role" in err and "other-token" not in err


def test_a_server_without_authentication_listens_only_on_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCKYARD_URL", raising=False)
    monkeypatch.delenv("DOCKYARD_TOKEN", raising=False)
    monkeypatch.delenv("DOCKYARD_USER_TOKENS", raising=False)
    for host in ("0.0.0.0", "192.168.1.20", "dockyard.example.com"):
        with pytest.raises(SystemExit) as exited:
            main(["server", "--host", host, "--port", "0"])
        err = capsys.readouterr().err
        assert exited.value.code == 2
        assert f"listens only on loopback, not on {host}" in " ".join(err.split())


def test_an_unauthorized_client_gets_a_typed_error(guarded: RunningServer, tmp_path: Path) -> None:
    client: Client = connect_with(Settings(home=tmp_path, db="", blobs="", url=guarded.url))
    with client, pytest.raises(Unauthorized):
        client.projects.list()
