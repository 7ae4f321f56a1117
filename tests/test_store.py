"""The metadata store: migrations on both databases, safe first use, clear failures."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from conftest import PostgresDatabases
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput, Unavailable
from dockyard.core.principal import Principal
from dockyard.projects.schemas import ProjectCreate
from dockyard.services import Services
from dockyard.store.db import Database
from dockyard.store.migrate import HEAD, MIGRATIONS, ensure_schema, upgrade
from dockyard.store.tables import Base


def test_head_constant_matches_the_migration_tree() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


def test_migrations_match_the_tables(db_url: str) -> None:
    db = Database(db_url)
    ensure_schema(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    db.dispose()
    assert diff == []


def test_upgrade_is_idempotent(db_url: str) -> None:
    db = Database(db_url)
    assert upgrade(db) == HEAD
    assert upgrade(db) == HEAD
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000
    db.dispose()


def test_a_writer_waits_for_a_held_lock_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    services = Services.open(
        Settings(home=tmp_path, db=f"sqlite:///{path}", blobs=str(tmp_path / "b"))
    )
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(1.0, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        created = services.projects.create(Principal(name="t"), ProjectCreate(name="waited"))
        assert created.name == "waited"
    finally:
        release.join()
        holder.close()
        services.close()


def test_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, db="postgresql://nobody@127.0.0.1:1/none", blobs=str(tmp_path)
    )
    with pytest.raises(Unavailable, match=r"cannot reach the metadata database.*DOCKYARD_DB"):
        Services.open(settings)


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url", "sqlite://", "sqlite:///:memory:"])
def test_unsupported_database_urls_are_invalid(url: str) -> None:
    with pytest.raises(InvalidInput):
        Database(url)


def test_unwritable_sqlite_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises((Unavailable, OSError)):
        Services.open(Settings(home=tmp_path, db=f"sqlite:///{blocker}/x.db", blobs=str(tmp_path)))


def test_a_database_from_a_newer_dockyard_is_refused(db_url: str) -> None:
    db = Database(db_url)
    ensure_schema(db)
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    try:
        with pytest.raises(Unavailable, match="upgrade dockyard"):
            ensure_schema(db)
    finally:  # the PostgreSQL database is shared by the session's tests
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": HEAD})
        db.dispose()


def _create_in_process(db_url: str, home: str, name: str) -> None:
    services = Services.open(Settings(home=Path(home), db=db_url, blobs=str(Path(home) / "b")))
    services.projects.create(Principal(name="p"), ProjectCreate(name=name))
    services.close()


def test_ten_cli_processes_on_a_fresh_sqlite_home(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path / "home")}
    env.pop("DOCKYARD_URL", None)
    exe = Path(sys.executable).with_name("dockyard")
    procs = [
        subprocess.Popen(
            [exe, "projects", "create", f"p{i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(10)
    ]
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]  # type: ignore[union-attr]
    assert results == [(0, "")] * 10
    listed = subprocess.run(
        [exe, "projects", "list", "--json"], env=env, capture_output=True, check=True
    )
    assert sorted(p["name"] for p in json.loads(listed.stdout)) == sorted(
        f"p{i}" for i in range(10)
    )


def test_ten_processes_migrate_a_fresh_postgres_at_once(
    postgres: PostgresDatabases, tmp_path: Path
) -> None:
    url = postgres.create()
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_create_in_process, args=(url, str(tmp_path), f"p{i}"))
        for i in range(10)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * 10
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM projects").scalar() == 10
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD
    engine.dispose()


def test_many_threads_writing_at_once_never_see_a_lock_error(tmp_path: Path) -> None:
    services = Services.open(
        Settings(home=tmp_path, db=f"sqlite:///{tmp_path / 't.db'}", blobs=str(tmp_path / "b"))
    )
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                services.projects.create(Principal(name="t"), ProjectCreate(name=f"t{i}-{j}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], errors[:3]
    count = services.db.query(lambda s: s.scalar(sa.text("SELECT count(*) FROM projects")))
    assert count == 160
    services.close()
