"""The ``dockyard`` command: output for people and scripts, and exit codes that mean something."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import dockyard as dy
from cli_support import run_cli
from dockyard.store.migrate import HEAD

EXE = Path(sys.executable).with_name("dockyard")


def test_project_lifecycle_with_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "projects", "create", "demo", "--description", "a demo")[0] == 0
    code, out, _ = run_cli(capsys, "projects", "list", "--json")
    assert code == 0
    assert [(p["name"], p["description"]) for p in json.loads(out)] == [("demo", "a demo")]
    code, out, _ = run_cli(capsys, "projects", "rename", "demo", "demo2", "--json")
    assert json.loads(out)["name"] == "demo2"
    code, out, _ = run_cli(capsys, "projects", "show", "demo2")
    assert code == 0 and "demo2" in out
    assert run_cli(capsys, "projects", "delete", "demo2", "--yes")[0] == 0
    assert json.loads(run_cli(capsys, "projects", "list", "--json")[1]) == []


def test_table_output_for_people(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "projects", "create", "alpha")
    code, out, _ = run_cli(capsys, "projects", "list")
    assert code == 0 and "alpha" in out and "created by" in out


@pytest.mark.parametrize(
    ("argv", "exit_code", "message"),
    [
        (["projects", "create", "bad name"], 2, "not a valid name"),
        (["projects", "show", "missing"], 3, "no project named"),
        (["projects", "delete", "missing", "--yes"], 3, "no project named"),
        (["projects", "frobnicate"], 2, "No such command"),
        (["projects", "create"], 2, "Missing argument"),
        (["gc", "--grace", "soon"], 2, "not a duration"),
        (["--db", "mysql://x/y", "projects", "list"], 2, "not supported"),
        (["--db", "postgresql://u@127.0.0.1:1/x", "projects", "list"], 6, "cannot reach"),
        (
            ["--url", "http://127.0.0.1:1", "projects", "list"],
            6,
            "cannot reach the dockyard server",
        ),
    ],
)
def test_errors_have_messages_and_exit_codes(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], exit_code: int, message: str
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == exit_code, (out, err)
    assert message in err
    assert "Traceback" not in err


def test_duplicate_is_exit_code_4(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "projects", "create", "twice")
    code, _, err = run_cli(capsys, "projects", "create", "twice")
    assert code == 4 and "already exists" in err


def test_delete_asks_and_keeps_on_no(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_cli(capsys, "projects", "create", "keep")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, _, _ = run_cli(capsys, "projects", "delete", "keep")
    assert code == 130
    assert "keep" in run_cli(capsys, "projects", "list")[1]


def test_config_show_says_where_each_setting_comes_from(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "--blobs", "/tmp/elsewhere", "config", "show", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0
    assert rows["home"]["source"] == "env DOCKYARD_HOME"
    assert rows["blobs"] == {"name": "blobs", "value": "/tmp/elsewhere", "source": "argument"}
    assert rows["db"]["source"] == "default"


def test_db_upgrade_and_gc(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "db", "upgrade", "--json")
    assert code == 0 and json.loads(out)["to"] == HEAD and json.loads(out)["from"] is None
    code, out, _ = run_cli(capsys, "db", "upgrade")
    assert "up to date" in out
    code, out, _ = run_cli(capsys, "gc", "--grace", "0", "--json")
    assert code == 0 and json.loads(out)["blobs_deleted"] == 0


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[str]:
    """``dockyard server`` as its own process, the way users run it."""
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path / "server-home")}
    env.pop("DOCKYARD_URL", None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [EXE, "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/api/v1/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dockyard server did not start: {proc.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_same_commands_against_a_server(
    cli_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path / "client-home"), "DOCKYARD_URL": cli_server}
    created = subprocess.run(
        [EXE, "projects", "create", "demo"], env=env, capture_output=True, text=True
    )
    assert created.returncode == 0, created.stderr
    listed = subprocess.run(
        [EXE, "projects", "list", "--json"], env=env, capture_output=True, text=True
    )
    assert [p["name"] for p in json.loads(listed.stdout)] == ["demo"]
    dup = subprocess.run(
        [EXE, "projects", "create", "demo"], env=env, capture_output=True, text=True
    )
    assert dup.returncode == 4 and "already exists" in dup.stderr
    refused = subprocess.run([EXE, "server"], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "DOCKYARD_URL" in refused.stderr


def test_help_is_served_by_the_installed_script() -> None:
    result = subprocess.run([EXE, "--help"], capture_output=True, text=True, check=True)
    assert "projects" in result.stdout and "server" in result.stdout


def test_runs_commands(home: Path, capsys: pytest.CaptureFixture[str]) -> None:

    with dy.connect() as client:
        client.projects.create("fraud")
        ids = []
        for lr, auc in ((0.1, 0.8), (0.01, 0.9)):
            with dy.start_run("fraud", params={"lr": lr}, client=client) as run:
                run.log_metric("auc", auc)
                (home.parent / "model.txt").write_text(f"lr={lr}")
                run.log_artifact(home.parent / "model.txt", "model/model.txt")
            ids.append(run.id)
    code, out, _ = run_cli(capsys, "runs", "list", "--json")
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = run_cli(capsys, "runs", "search", "metrics.auc > 0.85", "--json")
    assert [r["params"]["lr"] for r in json.loads(out)] == ["0.01"]
    code, out, _ = run_cli(capsys, "runs", "search", "params.lr <", "--json")
    assert code == 2 and "position 11" in _
    code, out, _ = run_cli(capsys, "runs", "show", ids[0])
    assert code == 0 and "auc" in out and "lr" in out
    code, out, _ = run_cli(capsys, "runs", "compare", *ids, "--json")
    assert {row["params.lr"] for row in json.loads(out).values()} == {"0.1", "0.01"}
    assert run_cli(capsys, "runs", "delete", ids[0])[0] == 0
    assert len(json.loads(run_cli(capsys, "runs", "list", "--json")[1])) == 1
    assert run_cli(capsys, "runs", "restore", ids[0])[0] == 0
    assert run_cli(capsys, "runs", "show", "nope")[0] == 3
    code, out, _ = run_cli(capsys, "runs", "artifacts", ids[1], "--prefix", "model", "--json")
    assert code == 0 and [a["path"] for a in json.loads(out)] == ["model/model.txt"]
    dest = home.parent / "dl"
    code, out, _ = run_cli(
        capsys, "runs", "download", ids[1], "--dest", str(dest), "--prefix", "model"
    )
    assert code == 0 and (dest / "model" / "model.txt").read_text() == "lr=0.01"
    code, out, _ = run_cli(capsys, "runs", "reap", "--timeout", "1h", "--json")
    assert code == 0 and json.loads(out) == {"failed": []}
