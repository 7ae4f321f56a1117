"""The web UI as the server ships it: the page at / and at every deep link, cached assets, JSON
errors for the API, and `dockyard ui`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dockyard.core.config import load_settings
from dockyard.server.app import create_app
from dockyard.server.ui import UI_DIR, install_ui

CLI = [sys.executable, "-c", "from dockyard.cli.main import main; main()"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(load_settings(home=tmp_path, environ={}))
    with TestClient(app) as c:
        yield c


def test_the_package_ships_a_built_ui() -> None:
    index = (UI_DIR / "index.html").read_text()
    scripts = re.findall(r'src="/assets/([^"]+\.js)"', index)
    assert scripts, "index.html names no script"
    for name in scripts:
        assert (UI_DIR / "assets" / name).is_file(), name


PAGES = [
    "/",
    "/runs",
    "/runs/0123abcd",
    "/models/fraud-detector?tab=card",
    "/deployments?stopped=1",
    "/models/fraud-detector/predictions?range=7d",
    "/predictions/0123abcd",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_path_serves_the_app_uncached(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="root">' in response.text
    assert response.headers["cache-control"] == "no-cache"


def test_assets_are_cached_for_good_and_missing_ones_are_404(client: TestClient) -> None:
    name = next((UI_DIR / "assets").glob("*.js")).name
    response = client.get(f"/assets/{name}")
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    missing = client.get("/assets/nope-123.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_api_routes_stay_json_404s(client: TestClient, method: str) -> None:
    response = client.request(method, "/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith(f"no API route {method}")


def test_api_errors_are_not_swallowed_by_the_app(client: TestClient) -> None:
    response = client.get("/api/v1/runs/does-not-exist")
    assert response.status_code == 404
    assert "does-not-exist" in response.json()["error"]["message"]
    assert client.get("/openapi.json").json()["info"]["title"] == "dockyard"


def test_without_a_build_root_goes_to_the_api_docs(tmp_path: Path) -> None:
    app = FastAPI()
    assert install_ui(app, tmp_path) is False
    with TestClient(app) as c:
        response = c.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/docs"


def test_dockyard_ui_serves_the_home_until_stopped(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path / "home")}
    env.pop("DOCKYARD_URL", None)
    process = subprocess.Popen(
        [*CLI, "ui", "--no-browser", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        assert found, line
        url = found.group(1)
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(url + "/runs")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert page.status_code == 200 and '<div id="root">' in page.text
        assert httpx.get(url + "/api/v1/health").json()["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_large_json_answers_are_gzipped_and_downloads_are_not(client: TestClient) -> None:
    project = client.post("/api/v1/projects", json={"name": "zipped"}).json()["name"]
    params = {f"p{i}": "x" * 50 for i in range(100)}
    run = client.post("/api/v1/runs", json={"project": project, "params": params}).json()
    zipped = client.post(
        "/api/v1/runs/search", json={"projects": [project]}, headers={"Accept-Encoding": "gzip"}
    )
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json()["items"][0]["id"] == run["id"]
    body = b"y" * 100_000
    client.post(f"/api/v1/runs/{run['id']}/artifacts", params={"path": "big.txt"}, content=body)
    download = client.get(
        f"/api/v1/runs/{run['id']}/artifacts/content",
        params={"path": "big.txt"},
        headers={"Accept-Encoding": "gzip"},
    )
    assert "content-encoding" not in download.headers
    assert download.content == body


def test_the_api_docs_page_loads_nothing_from_outside(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert urls, "the docs page names no resource"
    for url in urls:
        assert url.startswith("/"), f"/docs loads {url} from outside the server"
        if url != "/openapi.json":
            assert client.get(url).status_code == 200, url
    assert "validatorUrl" in page.text and '"validatorUrl": null' in page.text
    assert "swagger" in client.get("/docs/static/swagger-ui-bundle.js").text.lower()
    assert client.get("/openapi.json").json()["info"]["title"] == "dockyard"
