"""``dy.start_run`` and the module-level API: batching, the spool, crashes and concurrency."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import dockyard as dy
from dockyard.client.client import Client, connect, connect_with
from dockyard.core.config import Settings
from dockyard.core.errors import InvalidInput, Unavailable
from dockyard.core.principal import local_principal
from dockyard.projects.schemas import ProjectCreate
from dockyard.sdk import capture
from dockyard.sdk.capture import OutputShipper
from dockyard.sdk.spool import Spool
from dockyard.server.app import create_app
from dockyard.server.runner import serve_in_thread
from dockyard.services import Services


def test_the_issue_example(client: Client) -> None:
    client.projects.create("fraud")
    with dy.start_run(
        "fraud", experiment="baseline", params={"lr": 0.05, "depth": 6}, client=client
    ) as run:
        for step in range(1000):
            run.log_metrics({"loss": 1 / (step + 1), "auc": 0.5 + step / 2000}, step=step)
        run.set_tags({"team": "risk"})
    stored = client.runs.get(run.id)
    assert stored.status == "finished" and stored.end_time is not None
    assert stored.params == {"lr": "0.05", "depth": "6"}
    assert stored.tags["team"] == "risk"
    assert stored.metrics["loss"].count == 1000
    assert stored.metrics["auc"].last == pytest.approx(0.5 + 999 / 2000)
    assert client.runs.history(run.id, "loss").steps == list(range(1000))


def test_module_level_api_and_nesting(client: Client) -> None:
    client.projects.create("p")
    with pytest.raises(InvalidInput, match="no active run"):
        dy.log_metric("x", 1.0)
    with dy.start_run("p", name="parent", client=client) as parent:
        dy.log_params({"batch": 32})
        dy.log_metric("x", 1.0, step=1)
        with dy.start_run("p", name="child", nested=True, client=client) as child:
            assert dy.active_run() is child
            dy.log_metrics({"y": 2.0})
            dy.set_tags({"kind": "fold"})
        assert dy.active_run() is parent
    assert client.runs.get(child.id).parent_id == parent.id
    assert client.runs.get(child.id).tags["kind"] == "fold"
    assert client.runs.get(parent.id).metrics["x"].last == 1.0
    assert client.runs.get(parent.id).params == {"batch": "32"}


def test_automatic_capture(client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('v1')\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('v2')\n")
    monkeypatch.chdir(repo)
    client.projects.create("p")
    capture = dy.Capture(system_interval=0.05)
    with dy.start_run("p", client=client, capture=capture) as run:
        print("epoch 1 done")
        time.sleep(0.3)
    stored = client.runs.get(run.id)
    assert len(stored.tags["dockyard.git.commit"]) == 40
    assert stored.tags["dockyard.git.branch"] == "main"
    assert stored.tags["dockyard.git.dirty"] == "true"
    assert stored.tags["dockyard.python"].startswith("3.")
    paths = {a.path for a in client.runs.artifacts(run.id)}
    assert {
        "dockyard/git.diff",
        "dockyard/environment.json",
        "dockyard/requirements.txt",
        "dockyard/output.log",
    } <= paths
    with client.runs.open_artifact(run.id, "dockyard/git.diff") as stream:
        assert "+print('v2')" in stream.read().decode()
    with client.runs.open_artifact(run.id, "dockyard/environment.json") as stream:
        record = json.loads(stream.read())
    assert any(p.startswith("pydantic==") for p in record["packages"])
    assert record["memory_bytes"] > 0 and record["cpu_count"] >= 1
    with client.runs.open_artifact(run.id, "dockyard/output.log") as stream:
        assert "epoch 1 done" in stream.read().decode()
    assert stored.metrics["system/cpu_percent"].count >= 2
    assert "system/process_rss_mib" in stored.metrics


def _output_log(client: Client, run_id: str) -> str | None:
    if "dockyard/output.log" not in {a.path for a in client.runs.artifacts(run_id)}:
        return None
    with client.runs.open_artifact(run_id, "dockyard/output.log") as stream:
        return stream.read().decode()


def _wait_for_log(client: Client, run_id: str, text: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log = _output_log(client, run_id)
        if log is not None and text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never reached the log of run {run_id}")


def test_a_running_run_ships_its_printed_output(client: Client) -> None:
    client.projects.create("p")
    capture = dy.Capture(git=False, environment=False, system_metrics=False, output_interval=0.1)
    with dy.start_run("p", client=client, capture=capture) as run:
        print("epoch 1: loss 0.5")
        assert "epoch 1" in _wait_for_log(client, run.id, "epoch 1: loss 0.5")
        assert client.runs.get(run.id).status == "running"  # seen while it runs
        print("epoch 2: loss 0.25", file=sys.stderr)
        log = _wait_for_log(client, run.id, "epoch 2: loss 0.25")
        assert log.index("epoch 1") < log.index("epoch 2")
        print("the last words")
    assert client.runs.get(run.id).status == "finished"
    final = _output_log(client, run.id)
    assert final is not None and final.endswith("the last words\n")
    assert final.startswith("epoch 1: loss 0.5\n")


def test_output_uploads_that_fail_while_running_warn_once(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.projects.create("p")
    upload = client.runs.upload_artifact
    attempts: list[str] = []

    def failing(run_id: str, path: str, data: object) -> object:
        attempts.append(path)
        raise Unavailable("the server went away")

    capture = dy.Capture(git=False, environment=False, system_metrics=False, output_interval=0.05)
    warned = pytest.warns(RuntimeWarning, match="could not be uploaded while it runs")
    with warned as caught, dy.start_run("p", client=client, capture=capture) as run:
        monkeypatch.setattr(client.runs, "upload_artifact", failing)
        for i in range(3):
            print(f"line {i}")
            deadline = time.monotonic() + 30
            while len(attempts) <= i and time.monotonic() < deadline:
                time.sleep(0.02)
        assert len(attempts) >= 3  # it kept trying while the program went on
        monkeypatch.setattr(client.runs, "upload_artifact", upload)
    assert len([w for w in caught if "could not be uploaded" in str(w.message)]) == 1
    assert client.runs.get(run.id).status == "finished"
    final = _output_log(client, run.id)
    assert final is not None and "line 0" in final and "line 2" in final


def test_a_long_output_is_shipped_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    class Output:
        text = ""

        def size(self) -> int:
            return len(self.text)

        def snapshot(self) -> bytes:
            return self.text.encode()

    now = [1000.0]
    monkeypatch.setattr(capture.time, "monotonic", lambda: now[0])
    output, uploads = Output(), []
    shipper = OutputShipper(output, uploads.append, 3600.0)  # type: ignore[arg-type]
    try:
        shipper.ship()
        assert uploads == []  # nothing printed, nothing sent
        output.text = "x" * 1000
        shipper.ship()
        output.text += "y"
        now[0] += 3600
        shipper.ship()  # a short log: every interval
        assert [len(u) for u in uploads] == [1000, 1001]
        output.text = "z" * (3 << 20)  # 3 MiB: every third interval
        for _ in range(2):
            now[0] += 3600
            shipper.ship()
        assert len(uploads) == 2 and not shipper.shipped(3 << 20)
        now[0] += 3600
        shipper.ship()
        assert len(uploads) == 3 and shipper.shipped(3 << 20)
    finally:
        shipper.stop()


def test_capture_off_records_nothing_extra(client: Client) -> None:
    client.projects.create("p")
    with dy.start_run("p", client=client, capture=dy.Capture.off()) as run:
        print("not kept")
    stored = client.runs.get(run.id)
    assert stored.tags == {} and stored.metrics == {}
    assert client.runs.artifacts(run.id) == []


def test_a_run_whose_process_died_is_marked_failed(client: Client) -> None:
    client.projects.create("p")
    orphan = client.runs.create("p")
    time.sleep(1.1)
    assert client.runs.reap(timeout_seconds=1).failed == [orphan.id]
    stored = client.runs.get(orphan.id)
    assert stored.status == "failed" and stored.end_time == stored.heartbeat_at
    assert client.runs.reap(timeout_seconds=1).failed == []


def test_an_exception_marks_the_run_failed_and_keeps_its_points(client: Client) -> None:
    client.projects.create("p")
    with pytest.raises(RuntimeError), dy.start_run("p", client=client) as run:
        run.log_metric("loss", 0.5, step=1)
        raise RuntimeError("training diverged")
    stored = client.runs.get(run.id)
    assert stored.status == "failed"
    assert stored.metrics["loss"].count == 1


def test_bad_values_fail_at_the_call(client: Client) -> None:
    client.projects.create("p")
    with dy.start_run("p", client=client) as run:
        for bad in (math.nan, math.inf):
            with pytest.raises(InvalidInput, match="finite"):
                run.log_metric("loss", bad)
        with pytest.raises(InvalidInput, match="valid key"):
            run.log_metric("bad;key", 1.0)
        with pytest.raises(InvalidInput):
            run.log_metric("loss", "high")  # type: ignore[arg-type]
        run.log_params({"lr": 0.1})
        with pytest.raises(dy.Conflict):
            run.log_params({"lr": 0.2})
    assert client.runs.get(run.id).metrics == {}


def test_a_resent_spool_does_not_duplicate(tmp_path: Path) -> None:
    with connect(home=tmp_path) as client:
        client.projects.create("p")
        with dy.start_run("p", client=client) as run:
            run.log_metrics({"x": 1.0}, step=0)
            batch = run._batcher._take()
            assert batch is not None
            spool = Spool.of(client.settings)
            spool.write(run.id, batch)
            assert dy.deliver_spool(client) == 1
            spool.write(run.id, batch)  # as if the process died before removing the file
            assert dy.deliver_spool(client) == 1
        assert client.runs.history(run.id, "x").values == [1.0]
        assert spool.pending() == []


CRASHING = """
import os, sys
import dockyard as dy
run = dy.start_run("crash")
step = 0
while True:
    run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    step += 1
    if step % 100 == 0:
        run.flush()
        print(step, flush=True)
"""


def test_kill_minus_nine_loses_nothing_flushed(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path)}
    env.pop("DOCKYARD_URL", None)
    with connect(home=tmp_path) as client:
        client.projects.create("crash")
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    flushed = 0
    while flushed < 500:
        flushed = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with connect(home=tmp_path) as client:
        dy.deliver_spool(client)  # what the next start does first
        (run,) = client.runs.search(projects=["crash"]).items
        history = client.runs.history(run.id, "loss")
    assert history.steps == list(range(len(history.steps)))  # no gap, no duplicate
    assert len(history.steps) >= flushed


WRITER = """
import sys
import dockyard as dy
with dy.start_run("busy", name=sys.argv[1]) as run:
    for step in range(200):
        run.log_metrics({"loss": step / 200, "acc": 1 - step / 200}, step=step)
        if step % 50 == 0:
            run.flush()
"""


def test_32_processes_logging_to_one_embedded_home(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path)}
    env.pop("DOCKYARD_URL", None)
    with connect(home=tmp_path) as client:
        client.projects.create("busy")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), f"w{i}"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(32)
    ]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert outcomes == [(0, "")] * 32
    with connect(home=tmp_path) as client:
        runs = client.runs.search(projects=["busy"], limit=100).items
    assert len(runs) == 32
    assert all(r.status == "finished" for r in runs)
    assert all(r.metrics["loss"].count == 200 and r.metrics["acc"].count == 200 for r in runs)


FORGETFUL = """
import dockyard as dy
run = dy.start_run("p", capture=dy.Capture.off())
for step in range(50):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
print(run.id)
"""


def test_a_run_never_ended_is_flushed_and_finished_at_exit(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path)}
    env.pop("DOCKYARD_URL", None)
    with connect(home=tmp_path) as client:
        client.projects.create("p")
    done = subprocess.run(
        [sys.executable, "-c", FORGETFUL], env=env, capture_output=True, text=True, check=True
    )
    with connect(home=tmp_path) as client:
        run = client.runs.get(done.stdout.strip())
    assert run.status == "finished"
    assert run.metrics["loss"].count == 50


def test_an_unreachable_server_at_the_end_leaves_the_points_spooled(
    services: Services, tmp_path: Path
) -> None:
    services.projects.create(local_principal(), ProjectCreate(name="p"))
    running = serve_in_thread(create_app(services=services))
    remote = connect_with(Settings(home=tmp_path / "client", db="", blobs="", url=running.url))
    run = dy.start_run("p", client=remote, capture=dy.Capture.off())
    run.log_metrics({"loss": 0.5}, step=1)
    running.stop()
    with pytest.warns(UserWarning, match="stay in the local spool"):
        run.end()
    spool = Spool.of(remote.settings)
    assert len(spool.pending()) == 1
    remote.close()
    with connect_with(services.settings) as local:
        assert dy.deliver_spool(local) == 0  # another home: its spool is elsewhere
        assert spool.deliver(local.runs.log_batch) == 1  # by hand, to another target
        assert local.runs.get(run.id).metrics["loss"].count == 1
