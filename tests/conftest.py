"""Fixtures that start real services: PostgreSQL databases, an S3 server, a uvicorn server.

Outside CI a missing PostgreSQL skips its tests; in CI (CI=true) it fails them.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dockyard.client.client import Client, connect_with
from dockyard.core.config import Settings
from dockyard.server.app import create_app
from dockyard.server.runner import RunningServer, serve_in_thread
from dockyard.services import Services
from dockyard.store.tables import Base

PG_ADMIN_URL = os.environ.get(
    "DOCKYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ADMIN_TOKEN = "test-admin-token-0123456789"  # the admin token of the `client` fixture's server


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not available: {exc}"
    if IN_CI:
        pytest.fail(message + " (CI must run these tests; .ci/run starts the service)")
    pytest.skip(message)


class PostgresDatabases:
    """Creates throwaway databases on the test PostgreSQL server and drops them after."""

    def __init__(self, admin_url: str) -> None:
        self.admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create(self) -> str:
        name = f"dockyard_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    try:
        dbs = PostgresDatabases(PG_ADMIN_URL)
        with dbs.admin.connect():
            pass
    except Exception as exc:
        _unavailable(f"PostgreSQL at {PG_ADMIN_URL}", exc)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def shared_pg_url(postgres: PostgresDatabases) -> str:
    """One migrated PostgreSQL database for the session; tests empty its tables first."""
    return postgres.create()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[dict[str, Any]]:
    """A real S3-compatible server (moto's standalone server) on loopback."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        _unavailable("moto[server]", exc)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket="dockyard-test")
    yield {"endpoint": endpoint, "bucket": "dockyard-test", "options": options}
    server.stop()


def _empty_tables(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A metadata database URL: a fresh SQLite file, or the shared PostgreSQL emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    url: str = request.getfixturevalue("shared_pg_url")
    Services.open(Settings(home=tmp_path, db=url, blobs=str(tmp_path / "b"))).close()
    _empty_tables(url)
    return url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, db=db_url, blobs=str(tmp_path / "blobs"))


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    opened = Services.open(settings)
    yield opened
    opened.close()


@pytest.fixture
def server(services: Services) -> Iterator[RunningServer]:
    """A server without tokens: open, callers are 'anonymous' (read and write, no admin)."""
    running = serve_in_thread(create_app(services=services))
    yield running
    running.stop()


@pytest.fixture
def admin_server(services: Services) -> Iterator[RunningServer]:
    """A server started with ``ADMIN_TOKEN``: every request needs a token."""
    running = serve_in_thread(create_app(services=services, token=ADMIN_TOKEN))
    yield running
    running.stop()


@pytest.fixture(params=["inprocess", "http"])
def client(request: pytest.FixtureRequest, services: Services, tmp_path: Path) -> Iterator[Client]:
    """The same client interface over both transports (and, via db_url, both databases);
    over HTTP with the server's admin token, as the embedded user has every role too."""
    if request.param == "inprocess":
        local = connect_with(services.settings)
        yield local
        local.close()
        return
    running: RunningServer = request.getfixturevalue("admin_server")
    remote = connect_with(
        Settings(home=tmp_path / "client", db="", blobs="", url=running.url, token=ADMIN_TOKEN)
    )
    yield remote
    remote.close()


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    """A real local Ray, started once for the whole test session."""
    try:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    except Exception as exc:
        message = f"a local Ray does not start: {type(exc).__name__}: {exc}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI must run the Ray executor's tests)")
        pytest.skip(message)
    yield
    ray.shutdown()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded dockyard home for CLI tests (and Rich tables wide enough to read)."""
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DOCKYARD_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "home"
