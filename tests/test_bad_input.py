"""Bad input is a 4xx that says what to fix, never a 500, on SQLite and PostgreSQL.

Each test pins a class the API fuzz found: required parameters, integers beyond 64 bits,
NUL characters, names made outside ``create``, oversized JSON bodies, 405 without Allow, a
crash that broke the keep-alive connection, the query language's nesting limit, the error
statuses the OpenAPI document declares and ``db upgrade --json`` under concurrency.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from sklearn.linear_model import LogisticRegression

import dockyard as dy
from cli_support import run_cli
from conftest import ADMIN_TOKEN, PostgresDatabases
from dockyard.catalog import all_operations
from dockyard.client.client import Client
from dockyard.client.http import HttpTransport
from dockyard.core.errors import DockyardError, InvalidInput, NotFound, Unavailable
from dockyard.core.operations import Operation
from dockyard.server.app import API_PREFIX, create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services
from dockyard.store.db import Database
from dockyard.store.migrate import _PG_LOCK_KEY, HEAD, MIGRATIONS
from dockyard.tracking.query import QuerySyntaxError, parse_query


@pytest.fixture
def api(admin_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=admin_server.url + API_PREFIX,
        timeout=60,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as client:
        yield client


@pytest.fixture
def spec(server: RunningServer) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(server.url + "/openapi.json", timeout=120).json()
    return document


@pytest.fixture
def run_id(api: httpx.Client) -> str:
    assert api.post("/projects", json={"name": "p"}).status_code == 201
    response = api.post("/runs", json={"project": "p"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def assert_invalid(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] and body["message"]
    return body


# -- required parameters -------------------------------------------------------------------


def test_parameters_without_a_default_are_required(api: httpx.Client, run_id: str) -> None:
    upload = api.post(f"/runs/{run_id}/artifacts", content=b"bytes")
    assert "path" in assert_invalid(upload)["message"]
    assert "path" in assert_invalid(api.get(f"/runs/{run_id}/artifacts/content"))["message"]
    check = api.get("/models/m/aliases/champion/check")
    assert "version" in assert_invalid(check)["message"]
    assert api.get(f"/runs/{run_id}").status_code == 200  # nothing was harmed


def test_the_openapi_document_marks_them_required(spec: dict[str, Any]) -> None:
    upload = spec["paths"][API_PREFIX + "/runs/{run_id}/artifacts"]["post"]
    assert {p["name"]: p["required"] for p in upload["parameters"]}["path"] is True
    listing = spec["paths"][API_PREFIX + "/runs/{run_id}/artifacts"]["get"]
    assert {p["name"]: p.get("required", False) for p in listing["parameters"]}["prefix"] is False


# -- integers beyond 64 bits ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/runs/reap", {"timeout_seconds": 10**12}),
        ("POST", "/gc", {"grace_seconds": 10**12}),
        (
            "POST",
            "/runs/{run}/metrics",
            {"series": {"m": {"steps": [2**63], "timestamps": [0], "values": [1.0]}}},
        ),
        (
            "POST",
            "/runs/{run}/metrics",
            {"series": {"m": {"steps": [0], "timestamps": [2**64], "values": [1.0]}}},
        ),
        ("POST", "/runs/search", {"query": "duration > 99999999999999999999"}),
        ("POST", "/runs/search", {"query": "params.x = -99999999999999999999"}),
        ("POST", "/runs/search", {"offset": 2**63}),
        ("PUT", "/pipelines/runs/{run}/steps", {"steps": [{"node": "a", "position": 2**70}]}),
    ],
)
def test_integers_out_of_range_are_refused(
    api: httpx.Client, run_id: str, method: str, path: str, body: dict[str, Any]
) -> None:
    response = api.request(method, path.format(run=run_id), json=body)
    assert_invalid(response)
    assert api.get(f"/runs/{run_id}").status_code == 200


# -- NUL characters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/projects", {"name": "a\x00b"}),
        ("POST", "/projects", {"name": "q", "description": "nul\x00"}),
        ("POST", "/runs", {"project": "p", "note": "a\x00"}),
        ("POST", "/runs", {"project": "p", "name": "n\x00"}),
        ("POST", "/runs/{run}/tags", {"tags": {"k": "v\x00"}}),
        ("POST", "/runs/{run}/params", {"params": {"k": "v\x00"}}),
        ("PATCH", "/runs/{run}", {"note": "\x00"}),
        ("POST", "/runs/search", {"query": "params.k = 'a\x00'"}),
        ("POST", "/runs/search", {"query": "tags.k LIKE '%\x00%'"}),
        ("POST", "/experiments", {"project": "p", "name": "e", "description": "\x00"}),
        ("POST", "/datasets", {"project": "p", "name": "d", "description": "\x00"}),
        ("POST", "/models", {"project": "p", "name": "m", "description": "\x00"}),
        ("GET", "/projects/a%00b", None),
        ("GET", "/runs/{run}/artifacts?prefix=%00", None),
    ],
)
def test_nul_characters_are_refused(
    api: httpx.Client, run_id: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = api.request(method, path.format(run=run_id), json=body)
    assert response.status_code in (404, 422), response.text
    assert response.json()["error"]["code"] in ("invalid_input", "not_found")
    assert api.get(f"/runs/{run_id}").status_code == 200


# -- times --------------------------------------------------------------------------------

_INSTANCE = "0" * 31 + "1"
_SEGMENT = {
    "model": "m",
    "instance_id": _INSTANCE,
    "digest": "0" * 64,
    "rows": 1,
    "first_id": _INSTANCE,
    "last_id": _INSTANCE,
    "versions": [1],
}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/serving/segments?model=m&until=0001-01-01T00:00:00Z", None, 422),
        ("GET", "/serving/predictions?model=m&until=0001-01-01T00:00:00Z", None, 422),
        ("GET", "/serving/predictions?model=m&since=9999-12-31T23:59:59Z", None, 422),
        # one time with a zone, one without (taken as UTC): compared, not a TypeError
        (
            "GET",
            "/serving/segments?model=m&since=2026-01-01T00:00:00&until=2026-01-02T00:00:00%2B01:00",
            None,
            200,
        ),
        (
            "GET",
            "/serving/predictions?model=m&since=2026-01-01T00:00:00%2B01:00&until=2026-01-02T00:00:00",
            None,
            200,
        ),
        ("POST", "/serving/segments", {**_SEGMENT, "hour": "0001-01-01T00:00:00+01:00"}, 422),
        ("POST", "/serving/segments", {**_SEGMENT, "hour": "9999-12-31T23:30:00-01:00"}, 422),
        ("PUT", f"/serving/instances/{_INSTANCE}", {"address": "a\x00b"}, 422),
        ("PUT", f"/serving/instances/{_INSTANCE}", {"address": "a", "pid": 2**64}, 422),
    ],
)
def test_times_out_of_range_or_in_mixed_zones_and_bad_heartbeats_are_4xx(
    api: httpx.Client, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    assert api.post("/projects", json={"name": "p"}).status_code == 201
    assert api.post("/models", json={"project": "p", "name": "m"}).status_code == 201
    response = api.request(method, path, json=body)
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        assert_invalid(response, status)


def test_values_the_database_cannot_hold_are_invalid_input(services: Services) -> None:
    """The store's own net under the schemas: a NUL (PostgreSQL) or an integer beyond
    64 bits (SQLite's driver) is InvalidInput, through either transport."""
    db: Database = services.db
    with db.write_connection() as conn:
        conn.execute(sa.text("CREATE TABLE probe (n BIGINT, t TEXT)"))
    try:
        for values in ({"n": 2**63, "t": "x"}, {"n": 1, "t": "a\x00b"}):

            def insert(session: Any, values: dict[str, Any] = values) -> None:
                session.execute(sa.text("INSERT INTO probe (n, t) VALUES (:n, :t)"), values)

            if db.dialect == "sqlite" and values["n"] == 1:
                db.write(insert)  # SQLite stores NUL characters
                continue
            with pytest.raises(InvalidInput, match="cannot be stored"):
                db.write(insert)
    finally:  # the PostgreSQL database is shared by the session's tests (schema checks too)
        with db.write_connection() as conn:
            conn.execute(sa.text("DROP TABLE probe"))


# -- one name rule wherever a name is made --------------------------------------------------

BAD_NAMES = ["x@1", "x@latest", "a b", "ctl\x01", "n" * 5000, "-lead", "trail\n", ".dot"]


def test_datasets_made_by_a_version_follow_the_name_rule(client: Client) -> None:
    client.projects.create("p")
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    for bad in [*BAD_NAMES, "", "a/b"]:
        with pytest.raises((InvalidInput, NotFound)):
            dy.dataset(bad, project="p", client=client).add_version(frame)
        with pytest.raises((InvalidInput, NotFound)):
            client.datasets.ingest("p", bad, frame)
    for bad in BAD_NAMES:
        with pytest.raises(InvalidInput, match="not a valid dataset name"):
            client.datasets.ingest("p", bad, frame)
    assert client.datasets.list("p") == []
    assert client.datasets.ingest("p", "good.name-1", frame).number == 1


def test_models_made_by_register_follow_the_name_rule(client: Client) -> None:
    x = pd.DataFrame({"a": np.arange(10.0)})
    y = (x.a > 4).astype(int).to_numpy()
    with dy.start_run(project="p", client=client, capture=dy.Capture.off()) as run:
        dy.log_model(LogisticRegression().fit(x, y), "model", input_example=x.head())
    for bad in BAD_NAMES:
        with pytest.raises(InvalidInput, match="not a valid model name"):
            client.models.register(run.id, "model", bad)
    assert client.models.list().items == []
    assert client.models.register(run.id, "model", "det").version == 1
    for alias in ("champion\n", "latest", "x@1"):
        with pytest.raises(InvalidInput, match="alias"):
            client.models.set_alias("det", alias, 1)


# -- JSON body size limit -------------------------------------------------------------------


@pytest.fixture
def small_limit_server(services: Services) -> Iterator[RunningServer]:
    running = serve_in_thread(create_app(services=services, max_json_body=4096))
    yield running
    running.stop()


def test_json_bodies_over_the_limit_get_413_and_uploads_stream(
    small_limit_server: RunningServer,
) -> None:
    with httpx.Client(base_url=small_limit_server.url + API_PREFIX, timeout=60) as api:
        api.post("/projects", json={"name": "p"})
        big = json.dumps({"project": "p", "note": "x" * 10_000}).encode()
        declared = api.post("/runs", content=big, headers={"content-type": "application/json"})
        body = assert_invalid(declared, 413)
        assert body["code"] == "too_large" and "4096" in body["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        chunked = api.post("/runs", content=chunks(), headers={"content-type": "application/json"})
        assert assert_invalid(chunked, 413)["code"] == "too_large"
        run = api.post("/runs", json={"project": "p"}).json()
        upload = api.post(
            f"/runs/{run['id']}/artifacts", params={"path": "big.bin"}, content=b"z" * 100_000
        )
        assert upload.status_code == 201 and upload.json()["size"] == 100_000


# -- 405 with Allow ---------------------------------------------------------------------------


def test_405_names_every_allowed_method(api: httpx.Client) -> None:
    response = api.put("/projects/p")
    body = assert_invalid(response, 405)
    assert body["code"] == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


# -- a crash keeps the connection usable ------------------------------------------------------


def _crashing_app(services: Services) -> FastAPI:
    app = create_app(services=services)

    def boom() -> None:
        raise RuntimeError("a bug, not the caller's fault")

    app.add_api_route(API_PREFIX + "/boom", boom, methods=["GET"])
    return app


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def test_a_server_error_keeps_the_keep_alive_connection(services: Services) -> None:
    running = serve_in_thread(_crashing_app(services))
    try:
        address = urlsplit(running.url)
        with socket.create_connection((address.hostname, address.port), timeout=60) as sock:
            host = f"Host: {address.netloc}\r\n".encode()
            sock.sendall(b"GET " + API_PREFIX.encode() + b"/boom HTTP/1.1\r\n" + host + b"\r\n")
            first = _read_response(sock)
            assert first.startswith(b"HTTP/1.1 500")
            assert b'"code":"internal"' in first and b"RuntimeError" in first
            sock.sendall(b"GET " + API_PREFIX.encode() + b"/health HTTP/1.1\r\n" + host + b"\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200")

        transport = HttpTransport(running.url)
        boom = Operation(
            service="test",
            name="boom",
            method="GET",
            path="/boom",
            status=200,
            summary="",
            path_params=(),
            query_params=(),
            query_model=None,
            body=None,
            stream_in=None,
            stream_out=False,
            returns=type(None),
        )
        for _ in range(3):
            with pytest.raises(DockyardError) as raised:
                transport.call(boom, {})
            assert not isinstance(raised.value, Unavailable)
            assert "RuntimeError" in raised.value.message
        transport.close()
    finally:
        running.stop()


def test_the_http_client_refuses_to_send_a_missing_required_argument(
    server: RunningServer,
) -> None:
    op = next(op for op in all_operations() if op.key == "artifacts.download")
    transport = HttpTransport(server.url)
    with pytest.raises(InvalidInput, match="'path'"):
        transport.call(op, {"run_id": "r"})
    transport.close()


# -- the query language ---------------------------------------------------------------------


def test_parentheses_count_toward_the_nesting_limit() -> None:
    assert parse_query("(" * 50 + "metrics.a > 1" + ")" * 50) is not None
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_query("(" * 150 + "metrics.a > 1" + ")" * 150)
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_query("(" * 4000 + "metrics.a > 1" + ")" * 4000)


@pytest.mark.parametrize("literal", ["99999999999999999999", "-9223372036854775809"])
def test_integers_beyond_64_bits_are_syntax_errors(literal: str) -> None:
    with pytest.raises(QuerySyntaxError, match="out of range"):
        parse_query(f"duration > {literal}")
    assert parse_query("duration > 9223372036854775807") is not None
    assert parse_query("metrics.a > 1e20") is not None


# -- the OpenAPI document's error statuses ---------------------------------------------------


def test_every_operation_declares_its_errors_in_our_shape(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]
    for path, methods in spec["paths"].items():
        if not path.startswith(API_PREFIX) or path.endswith("/health"):
            continue
        for method, op in methods.items():
            errors = {code: r for code, r in op["responses"].items() if int(code) >= 400}
            assert {"404", "422", "500"} <= set(errors), (method, path)
            takes_json = "application/json" in op.get("requestBody", {}).get("content", {})
            assert ("413" in errors) == takes_json, (method, path)
            for response in errors.values():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}


# -- db upgrade --json under concurrency -----------------------------------------------------


def test_db_upgrade_reports_the_revision_it_found_after_waiting_for_the_lock(
    postgres: PostgresDatabases,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = postgres.create()
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DOCKYARD_DB", url)
    monkeypatch.delenv("DOCKYARD_URL", raising=False)
    holder = Database(url)
    results: list[tuple[int, str, str]] = []
    with holder.write_connection() as conn:  # another process upgrading, holding the lock
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})

        def upgrade() -> None:
            results.append(run_cli(capsys, "db", "upgrade", "--json"))

        waiter = threading.Thread(target=upgrade)
        waiter.start()
        probe = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        with holder.engine.connect() as watcher:
            while watcher.execute(probe).scalar() == 0:  # until the CLI waits on the lock
                watcher.rollback()
                assert waiter.is_alive()
                time.sleep(0.02)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    waiter.join(timeout=120)
    holder.dispose()
    code, out, _err = results[0]
    assert code == 0
    report = json.loads(out)
    assert (report["from"], report["to"]) == (HEAD, HEAD)
