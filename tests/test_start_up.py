"""The first second of a program: what ``dy.connect`` loads, and a ``start_run`` whose git
and environment capture finishes in the background."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import dockyard as dy
from dockyard.catalog import SERVICE_CLASSES
from dockyard.client.client import Client
from dockyard.core.config import load_settings
from dockyard.core.operations import operations_of
from dockyard.services import SERVICE_NAMES, Services
from dockyard.tracking.runs import RunService

GIT_TAGS = ("dockyard.git.commit", "dockyard.git.branch", "dockyard.git.dirty")


def _repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('v1')\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('v2')\n")
    return repo


def _gated_git(root: Path, gate: Path) -> Path:
    """A folder with a ``git`` that waits (up to a minute) for ``gate`` to exist, then runs
    the real git: the capture cannot finish before the test opens the gate."""
    real = shutil.which("git")
    assert real is not None
    folder = root / "bin"
    folder.mkdir()
    script = folder / "git"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            i=0
            while [ ! -e '{gate}' ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done
            exec '{real}' "$@"
            """
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def test_start_run_returns_before_the_capture_and_the_end_stores_it(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_repo(tmp_path))
    gate = tmp_path / "gate"
    monkeypatch.setenv("PATH", f"{_gated_git(tmp_path, gate)}{os.pathsep}{os.environ['PATH']}")
    client.projects.create("p")
    capture = dy.Capture(output=False, system_metrics=False)
    with dy.start_run("p", client=client, capture=capture, tags={"team": "a"}) as run:
        # git is still waiting for the gate: start_run did not wait for the capture
        before = client.runs.get(run.id).tags
        assert before == {"team": "a"}
        run.set_tags({"dockyard.git.branch": "mine"})  # the user's tag wins
        run.log_metrics({"loss": 0.5})
        gate.touch()
    stored = client.runs.get(run.id)
    assert stored.status == "finished"
    assert len(stored.tags["dockyard.git.commit"]) == 40
    assert stored.tags["dockyard.git.branch"] == "mine"
    assert stored.tags["dockyard.git.dirty"] == "true"
    assert stored.tags["dockyard.python"].startswith("3.")
    assert stored.tags["team"] == "a"
    assert stored.metrics["loss"].last == 0.5
    paths = {a.path for a in client.runs.artifacts(run.id)}
    assert {"dockyard/git.diff", "dockyard/environment.json", "dockyard/requirements.txt"} <= paths
    with client.runs.open_artifact(run.id, "dockyard/git.diff") as stream:
        assert "+print('v2')" in stream.read().decode()


def test_start_tags_win_over_captured_ones(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(_repo(tmp_path))
    client.projects.create("p")
    capture = dy.Capture(output=False, system_metrics=False)
    with dy.start_run("p", client=client, capture=capture, tags={"dockyard.host": "h"}) as run:
        pass
    tags = client.runs.get(run.id).tags
    assert tags["dockyard.host"] == "h"
    assert tags["dockyard.git.branch"] == "main"


def test_a_script_that_never_ends_its_run_still_stores_the_capture(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    home = tmp_path / "home"
    script = "import dockyard as dy; run = dy.start_run('p'); print(run.id)"
    env = {**os.environ, "DOCKYARD_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    with dy.connect(home=home) as client:
        stored = client.runs.get(run_id)
        assert stored.status == "finished"
        assert all(key in stored.tags for key in GIT_TAGS)
        assert "dockyard/environment.json" in {a.path for a in client.runs.artifacts(run_id)}


def test_connect_and_start_run_load_only_what_tracking_needs(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """\
        import json, sys
        import dockyard as dy
        client = dy.connect()
        with dy.start_run("p", client=client) as run:
            run.log_metrics({"x": 1.0})
        heavy = ("pyarrow", "numpy", "pandas", "duckdb", "lark", "croniter", "httpx",
                 "alembic", "dockyard.data.service", "dockyard.registry.service",
                 "dockyard.pipelines.service", "dockyard.client.data", "dockyard.client.models")
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """
    )
    home = tmp_path / "home"
    env = {**os.environ, "DOCKYARD_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-c", "import dockyard as dy; dy.connect().close()"], env=env, check=True
    )  # the first connect creates the schema (and so loads alembic)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_every_operation_reaches_its_service_through_the_lazy_container(tmp_path: Path) -> None:
    services = Services.open(load_settings(home=tmp_path))
    try:
        mounted = set()
        for cls in SERVICE_CLASSES:
            for op in operations_of(cls):
                assert type(services.service(op.service)) is cls, op.key
                mounted.add(op.service)
        assert mounted == set(SERVICE_NAMES)
        assert services.service("runs") is services.runs  # built once
        assert isinstance(services.runs, RunService)
        with pytest.raises(AttributeError):
            services.service("close")
    finally:
        services.close()


def test_client_sub_apis_are_built_once_over_both_transports(client: Client) -> None:
    assert client.runs is client.runs and client.blobs is client.blobs
    client.projects.create("p")
    assert [p.name for p in client.projects.list()] == ["p"]
    assert client.datasets.list("p") == []
    assert client.models.list(project="p").items == []


def test_a_process_killed_before_the_capture_is_stored_loses_only_the_capture(
    tmp_path: Path,
) -> None:
    """What the README states: SIGKILL before the end loses the capture, nothing else."""
    repo = _repo(tmp_path)
    gate = tmp_path / "gate"  # never opened: the capture is still waiting for git
    home = tmp_path / "home"
    script = textwrap.dedent(
        """\
        import os, signal
        import dockyard as dy
        run = dy.start_run("p", params={"lr": 0.1}, tags={"team": "a"})
        run.log_metrics({"loss": 0.5})
        run.flush()
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    path = f"{_gated_git(tmp_path, gate)}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "DOCKYARD_HOME": str(home), "PATH": path}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == -9, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    with dy.connect(home=home) as client:
        stored = client.runs.get(run_id)
        assert stored.params == {"lr": "0.1"} and stored.tags == {"team": "a"}
        assert stored.metrics["loss"].last == 0.5
        captured = {"dockyard/git.diff", "dockyard/environment.json", "dockyard/requirements.txt"}
        assert not captured & {a.path for a in client.runs.artifacts(run_id)}
