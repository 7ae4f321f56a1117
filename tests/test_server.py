"""What only the HTTP transport has: status codes, JSON error bodies, tokens, streaming."""

from __future__ import annotations

import hashlib
import io
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from dockyard.catalog import all_operations
from dockyard.client.client import connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import DigestMismatch, InvalidInput, NotFound, Unauthorized, Unavailable
from dockyard.server.app import create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + "/api/v1") as client:
        yield client


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]  # type: ignore[no-any-return]


def test_openapi_document_lists_every_operation(http: httpx.Client, server: RunningServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    operation_ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {op.key for op in all_operations()} <= operation_ids
    assert http.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        (
            "POST",
            "/projects",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "invalid_input",
        ),
        ("POST", "/projects", {"json": {"name": 5}}, 422, "invalid_input"),
        ("POST", "/projects", {"json": {"name": "ok", "surprise": 1}}, 422, "invalid_input"),
        ("POST", "/projects", {"json": {}}, 422, "invalid_input"),
        ("POST", "/projects", {"json": {"name": "bad name"}}, 422, "invalid_input"),
        ("GET", "/projects", {"params": {"limit": "many"}}, 422, "invalid_input"),
        ("GET", "/projects", {"params": {"limit": 5000}}, 422, "invalid_input"),
        ("GET", "/projects/nope", {}, 404, "not_found"),
        ("GET", "/no/such/route", {}, 404, "not_found"),
        ("PUT", "/projects", {}, 405, "method_not_allowed"),
        ("GET", "/blobs/not-a-digest", {}, 422, "invalid_input"),
        ("POST", "/runs", {"json": {"project": "nope"}}, 404, "not_found"),
        ("POST", "/runs/" + "0" * 32 + "/metrics", {"json": {"series": {}}}, 404, "not_found"),
        (
            "POST",
            "/runs/" + "0" * 32 + "/metrics",
            {"json": {"series": {"x": {"steps": [1, 2], "timestamps": [1], "values": [1.0]}}}},
            422,
            "invalid_input",
        ),
        (
            "POST",
            "/runs/" + "0" * 32 + "/metrics",
            {"content": b'{"series": {"x": {"steps": [1], "timestamps": [1], "values": [NaN]}}}'},
            422,
            "invalid_input",
        ),
        ("GET", "/blobs/" + "0" * 64, {}, 404, "not_found"),
        # what the web UI asks for: offsets and counts, keys, experiments, table previews
        ("POST", "/runs/search", {"json": {"offset": -1}}, 422, "invalid_input"),
        ("POST", "/runs/search", {"json": {"offset": 2, "cursor": "Wzld"}}, 422, "invalid_input"),
        ("POST", "/runs/search", {"json": {"count": "maybe"}}, 422, "invalid_input"),
        ("POST", "/runs/search", {"json": {"offset": "x"}}, 422, "invalid_input"),
        ("GET", "/runs/keys", {"params": {"projects": "bad name"}}, 422, "invalid_input"),
        ("GET", "/runs/keys", {"params": {"projects": "nope"}}, 404, "not_found"),
        ("GET", "/runs/keys", {"params": {"surprise": "1"}}, 422, "invalid_input"),
        ("GET", "/projects/nope/experiments", {}, 404, "not_found"),
        (
            "GET",
            "/runs/" + "0" * 32 + "/artifacts/table",
            {"params": {"path": "t.csv"}},
            404,
            "not_found",
        ),
        ("GET", "/runs/nope/artifacts/table", {"params": {"path": "t.csv"}}, 404, "not_found"),
        ("GET", "/runs/" + "0" * 32 + "/artifacts/table", {}, 422, "invalid_input"),
        (
            "GET",
            "/runs/" + "0" * 32 + "/artifacts/table",
            {"params": {"path": "t.csv", "limit": 0}},
            422,
            "invalid_input",
        ),
        (
            "GET",
            "/runs/" + "0" * 32 + "/artifacts/table",
            {"params": {"path": "t.csv", "limit": 1001}},
            422,
            "invalid_input",
        ),
    ],
)
def test_bad_requests_get_a_4xx_json_error(
    http: httpx.Client,
    method: str,
    path: str,
    kwargs: dict,
    status: int,
    code: str,  # type: ignore[type-arg]
) -> None:
    response = http.request(method, path, **kwargs)
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code


def test_a_preview_of_what_is_not_a_table_is_a_400(http: httpx.Client) -> None:
    assert http.post("/projects", json={"name": "p"}).status_code == 201
    run_id = http.post("/runs", json={"project": "p"}).json()["id"]
    for path, content in (("notes.txt", b"hello"), ("broken.parquet", b"not parquet")):
        response = http.post(
            f"/runs/{run_id}/artifacts",
            params={"path": path},
            content=content,
            headers={"content-type": "application/octet-stream"},
        )
        assert response.status_code == 201, response.text
    for path, message in (("notes.txt", "is not a table"), ("broken.parquet", "as Parquet")):
        response = http.get(f"/runs/{run_id}/artifacts/table", params={"path": path})
        assert response.status_code == 400, response.text
        error = error_of(response)
        assert error["code"] == "unreadable_content" and message in error["message"]


def test_a_model_answer_is_its_json_with_the_declared_status(http: httpx.Client) -> None:
    """Results of the declared model are serialized without a second validation: the
    body is still the model's JSON, under the operation's status and content type."""
    from dockyard.projects.schemas import Project

    created = http.post("/projects", json={"name": "answers", "description": "d"})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    project = Project.model_validate_json(created.content)
    assert (project.name, project.description) == ("answers", "d")
    fetched = http.get("/projects/answers")
    assert fetched.status_code == 200
    assert Project.model_validate_json(fetched.content) == project
    assert fetched.json() == project.model_dump(mode="json")


def test_validation_message_names_the_field(http: httpx.Client) -> None:
    response = http.post("/projects", json={"name": "x" * 80})
    assert "name" in error_of(response)["message"]


def test_blob_round_trip_streams_through_the_server(server: RunningServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = hashlib.sha512(b"seed").digest() * (40 * 1024 * 1024 // 64)  # 40 MiB
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    with connect_with(Settings(home=tmp_path, db="", blobs="", url=server.url)) as client:
        info = client.blobs.put_file(source)
        assert info.digest == hashlib.sha256(data).hexdigest() and info.size == len(data)
        assert client.blobs.put_file(source).deduplicated
        out = client.blobs.download(info.digest, tmp_path / "copy.bin")
        assert out.read_bytes() == data
        assert client.blobs.info(info.digest).size == len(data)
        with client.blobs.open(info.digest) as stream:
            assert stream.read(10) == data[:10]


def test_upload_with_wrong_digest_is_rejected_and_stores_nothing(
    server: RunningServer,
    services: Services,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    with connect_with(Settings(home=tmp_path, db="", blobs="", url=server.url)) as client:
        with pytest.raises(DigestMismatch, match="nothing was stored"):
            client.blobs.put(io.BytesIO(b"payload" * 100_000), digest="a" * 64)
        with pytest.raises(InvalidInput):
            client.blobs.put(b"x", digest="not-hex")
        with pytest.raises(NotFound):
            client.blobs.get("b" * 64)
    assert list(services.blob_store.list()) == []
    assert list(services.blob_store.staged()) == []


def test_interrupted_upload_leaves_nothing_behind(
    server: RunningServer, services: Services
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /api/v1/blobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 50000000\r\n\r\n" + b"x" * 3_000_000
        )
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and list(services.blob_store.staged()):
        time.sleep(0.05)
    assert list(services.blob_store.staged()) == []
    assert list(services.blob_store.list()) == []


def test_server_with_a_token_refuses_requests_without_it(services: Services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    running = serve_in_thread(create_app(services=services, token="s3cret-token"))
    try:
        assert httpx.get(running.url + "/api/v1/projects").status_code == 401
        anonymous = Settings(home=tmp_path, db="", blobs="", url=running.url)
        with connect_with(anonymous) as client, pytest.raises(Unauthorized, match="DOCKYARD_TOKEN"):
            client.projects.list()
        wrong = Settings(home=tmp_path, db="", blobs="", url=running.url, token="nope")
        with connect_with(wrong) as client, pytest.raises(Unauthorized):
            client.projects.create("x")
        right = Settings(home=tmp_path, db="", blobs="", url=running.url, token="s3cret-token")
        with connect_with(right) as client:
            assert client.projects.create("x").name == "x"
    finally:
        running.stop()


def test_unreachable_server_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(home=tmp_path, db="", blobs="", url=f"http://127.0.0.1:{port}")
    with connect_with(settings) as client, pytest.raises(Unavailable, match="DOCKYARD_URL"):
        client.projects.list()


def test_large_upload_that_fills_the_request_queue_completes(
    server: RunningServer,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """Regression: an upload whose body fills the pipe's queue used to hang or fail."""
    from dockyard.server import streams

    waits: list[int] = []
    put_blocking = streams.RequestPipe._put_blocking

    def counting(self: streams.RequestPipe, item: object) -> None:
        waits.append(1)
        put_blocking(self, item)

    monkeypatch.setattr(streams.RequestPipe, "_put_blocking", counting)
    backend = services.blob_store.backend
    put = backend.put

    def slow_put(key: str, stream: io.BufferedIOBase) -> int:
        time.sleep(0.5)  # the body keeps arriving: the queue fills up meanwhile
        return put(key, stream)  # type: ignore[arg-type]

    monkeypatch.setattr(backend, "put", slow_put)
    data = hashlib.sha512(b"queue").digest() * (48 * 1024 * 1024 // 64)  # 48 MiB
    with connect_with(Settings(home=tmp_path, db="", blobs="", url=server.url)) as client:
        info = client.blobs.put(io.BytesIO(data), digest=hashlib.sha256(data).hexdigest())
        assert info.size == len(data) and not info.deduplicated
        assert waits, "the request queue never filled up: the test does not test the fix"
        assert client.blobs.get(info.digest) == data
    assert list(services.blob_store.staged()) == []


def test_request_pipe_reads_at_most_n_bytes_in_order() -> None:
    import anyio

    from dockyard.server.streams import BLOCK, RequestPipe

    pieces = [bytes([i % 251]) * size for i, size in enumerate([1, 65536, BLOCK, 3, BLOCK + 7])]

    class FakeRequest:
        async def stream(self):  # type: ignore[no-untyped-def]
            for piece in pieces:
                yield piece

    pipe = RequestPipe(depth=64)
    anyio.run(pipe.fill_from, FakeRequest())  # type: ignore[arg-type]
    got: list[bytes] = []
    while chunk := pipe.read(1_000_003):
        assert len(chunk) <= 1_000_003
        got.append(chunk)
    assert b"".join(got) == b"".join(pieces)
    assert pipe.read(10) == b"" and pipe.read() == b""


def test_a_corrupted_download_is_refused_and_leaves_no_file(
    client,  # type: ignore[no-untyped-def]
    services: Services,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    data = b"the real bytes " * 100_000
    info = client.blobs.put(data)
    key = next(iter(services.blob_store.backend.list("sha256"))).key
    services.blob_store.backend.put(key, io.BytesIO(b"x" * len(data)))  # same size, other bytes
    target = tmp_path / "out" / "copy.bin"
    target.parent.mkdir()
    with pytest.raises(DigestMismatch):
        client.blobs.download(info.digest, target)
    assert list(target.parent.iterdir()) == []
