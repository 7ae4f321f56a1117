"""Durability of metrics: a server or a logger killed with SIGKILL, and a poisoned spool.

The kill tests run real processes: ``dockyard server`` (uvicorn) on a free port over a
SQLite file, and a client script driven line by line through its stdin, so that the test
decides when the server dies and comes back. Every wait has a deadline.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

import dockyard as dy
from dockyard.client.client import Client, connect
from dockyard.core.config import Settings
from dockyard.sdk.spool import Spool
from dockyard.tracking.schemas import MetricBatch, MetricSeries

EXE = Path(sys.executable).with_name("dockyard")
DEADLINE = 120.0  # seconds any one step of these tests may take on a busy machine

LOGGER = """
import sys
import dockyard as dy
run = dy.start_run("p", capture=dy.Capture.off())
print(run.id, flush=True)
step = 0
for line in sys.stdin:
    command, *argument = line.split()
    if command == "log":
        for _ in range(int(argument[0])):
            run.log_metrics({"a": float(step), "b": -float(step)}, step=step)
            step += 1
        print(step, flush=True)
    elif command == "flush":
        try:
            run.flush()
        except dy.Unavailable:
            pass  # the server is away: what was logged is spooled nonetheless
        print("flushed", flush=True)
    elif command == "end":
        run.end()
        print("ended", flush=True)
        break
"""


class Lines:
    """A child process's stdout read line by line, each read with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def next(self) -> str:
        try:
            line = self._lines.get(timeout=DEADLINE)
        except queue.Empty:
            raise AssertionError(f"no output from the child within {DEADLINE} s") from None
        if line is None:
            raise AssertionError(f"the child exited ({self.proc.wait()}) before answering")
        return line

    def rest(self) -> list[str]:
        """Every line left once the process has exited."""
        self.proc.wait(timeout=DEADLINE)
        found = []
        while (line := self._lines.get(timeout=DEADLINE)) is not None:
            found.append(line)
        return found


class Server:
    """``dockyard server`` in its own process, on one port and one database across restarts."""

    def __init__(self, home: Path) -> None:
        self.home = home
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "DOCKYARD_HOME": str(self.home)}
        env.pop("DOCKYARD_URL", None)
        argv = [str(EXE), "server", "--port", str(self.port), "--no-scheduler"]
        log = open(self.home.parent / "server.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                text = (self.home.parent / "server.log").read_text(errors="replace")
                raise AssertionError(f"dockyard server did not start:\n{text[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=DEADLINE)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "server-home"
    home.mkdir()
    running = Server(home)
    running.start()
    with connect(url=running.url, home=tmp_path / "admin") as admin:
        admin.projects.create("p")
    yield running
    running.stop()


def _logger(server: Server, home: Path) -> tuple[subprocess.Popen[str], Lines, str]:
    env = {**os.environ, "DOCKYARD_HOME": str(home), "DOCKYARD_URL": server.url}
    proc = subprocess.Popen(
        [sys.executable, "-c", LOGGER],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = Lines(proc)
    return proc, lines, lines.next()


def _tell(proc: subprocess.Popen[str], lines: Lines, command: str) -> str:
    assert proc.stdin is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    return lines.next()


def _client_spool(server: Server, tmp_path: Path) -> Spool:
    return Spool.of(Settings(home=tmp_path / "client", db="", blobs="", url=server.url))


def _stored_steps(client: Client, run_id: str, key: str) -> list[int]:
    return client.runs.history(run_id, key).steps


def test_a_server_killed_mid_run_loses_no_point(own_server: Server, tmp_path: Path) -> None:
    server = own_server
    proc, lines, run_id = _logger(server, tmp_path / "client")
    assert _tell(proc, lines, "log 30000") == "30000"
    server.kill()  # some batches in flight, some stored without an answer
    assert _tell(proc, lines, "log 40000") == "70000"  # spooled while the server is dead
    server.start()  # same port, same database
    assert _tell(proc, lines, "log 30000") == "100000"
    assert _tell(proc, lines, "end") == "ended"
    assert proc.wait(timeout=DEADLINE) == 0
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
    with connect(url=server.url, home=tmp_path / "reader") as reader:
        run = reader.runs.get(run_id)
        assert run.status == "finished"
        for key in ("a", "b"):
            assert _stored_steps(reader, run_id, key) == list(range(100_000))  # no loss, no dup
            assert run.metrics[key].count == 100_000
    assert _client_spool(server, tmp_path).pending() == []


def test_a_run_ending_while_the_server_is_dead_is_delivered_by_the_next(
    own_server: Server, tmp_path: Path
) -> None:
    server = own_server
    proc, lines, run_id = _logger(server, tmp_path / "client")
    assert _tell(proc, lines, "log 20000") == "20000"
    server.kill()
    assert _tell(proc, lines, "log 45000") == "65000"
    assert _tell(proc, lines, "end") == "ended"  # the server is still dead: points stay spooled
    assert proc.wait(timeout=DEADLINE) == 0
    assert proc.stderr is not None and "stay in the local spool" in proc.stderr.read()
    assert _client_spool(server, tmp_path).pending()
    server.start()
    with connect(url=server.url, home=tmp_path / "client") as client:
        dy.start_run("p", client=client, capture=dy.Capture.off()).end()  # delivers the spool
        for key in ("a", "b"):
            assert _stored_steps(client, run_id, key) == list(range(65_000))
    assert _client_spool(server, tmp_path).pending() == []


def test_points_flushed_while_the_server_is_dead_survive_a_killed_logger(
    own_server: Server, tmp_path: Path
) -> None:
    server = own_server
    proc, lines, run_id = _logger(server, tmp_path / "client")
    assert _tell(proc, lines, "log 25000") == "25000"
    server.kill()
    assert _tell(proc, lines, "log 35000") == "60000"
    assert _tell(proc, lines, "flush") == "flushed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=DEADLINE)
    server.start()
    with connect(url=server.url, home=tmp_path / "client") as client:
        assert dy.deliver_spool(client) >= 1
        for key in ("a", "b"):
            assert _stored_steps(client, run_id, key) == list(range(60_000))


WRITE_THROUGH = """
import dockyard as dy
run = dy.start_run("p", capture=dy.Capture.off())
step = 0
while True:
    run.log_metrics({"a": float(step)}, step=step)
    print(step, flush=True)  # returned: the point is on disk
    step += 1
"""


def test_write_through_loses_nothing_logged_when_the_logger_is_killed(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKYARD_HOME": str(tmp_path), "DOCKYARD_FLUSH_INTERVAL": "0"}
    env.pop("DOCKYARD_URL", None)
    with connect(home=tmp_path) as client:
        client.projects.create("p")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITE_THROUGH], env=env, stdout=subprocess.PIPE, text=True
    )
    lines = Lines(proc)
    returned = 0
    while returned < 300:
        returned = int(lines.next())
    proc.send_signal(signal.SIGKILL)
    returned = max([returned, *(int(line) for line in lines.rest() if line.isdigit())])
    with connect(home=tmp_path) as client:
        dy.deliver_spool(client)  # what the next start does first
        (run,) = client.runs.search(projects=["p"]).items
        steps = _stored_steps(client, run.id, "a")
    assert steps == list(range(len(steps)))  # no gap, no duplicate
    assert len(steps) >= returned + 1  # every call that returned is stored


def test_a_bad_flush_interval_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with connect(home=tmp_path) as client:
        client.projects.create("p")
        for bad in (-1, float("nan"), 10_000):
            with pytest.raises(dy.InvalidInput, match="flush_interval must be"):
                dy.start_run("p", client=client, flush_interval=bad)
        monkeypatch.setenv("DOCKYARD_FLUSH_INTERVAL", "soon")
        with pytest.raises(dy.InvalidInput, match="DOCKYARD_FLUSH_INTERVAL='soon'"):
            dy.start_run("p", client=client)
        assert client.runs.search(projects=["p"]).items == []


# --- a poisoned spool ------------------------------------------------------------------------


def _series(steps: list[int]) -> dict[str, MetricSeries]:
    n = len(steps)
    return {"x": MetricSeries.model_construct(steps=steps, timestamps=[0] * n, values=[1.0] * n)}


def test_refused_and_unreadable_spool_files_are_quarantined(client: Client) -> None:
    client.projects.create("p")
    run = client.runs.create("p")
    spool = Spool.of(client.settings)

    def spooled(run_id: str, steps: list[int], batch_id: str) -> Path:
        batch = MetricBatch.model_construct(batch_id=batch_id, series=_series(steps))
        return spool.write(run_id, batch)

    first = spooled(run.id, [1, 2], "good1")
    too_big = spooled(run.id, [3, 2**63], "too-big")
    gone = spooled("r" + "0" * 25, [1], "no-run")
    fractional = spool.folder / f"{run.id}.fraction.batch.json"
    fractional.write_text(
        '{"batch_id": "fraction", "series": {"x": {"steps": [1.5], "timestamps": [0], '
        '"values": [1.0]}}}'
    )
    torn = spool.folder / f"{run.id}.torn.batch.json"
    torn.write_text('{"batch_id": "torn", "series": {"x": {"steps": [4')
    last = spooled(run.id, [5], "good2")
    with pytest.warns(UserWarning) as caught:
        assert dy.deliver_spool(client) == 2
    warned = "\n".join(str(w.message) for w in caught)
    for path in (too_big, gone, fractional, torn):
        assert str(path) in warned
        assert (spool.folder / "quarantine" / path.name).is_file()
    assert "outside the 64-bit integer range" in warned
    assert not first.exists() and not last.exists()
    assert spool.pending() == []
    assert client.runs.history(run.id, "x").steps == [1, 2, 5]
    # the next runs start and deliver normally: nothing is left to block them
    with dy.start_run("p", client=client, capture=dy.Capture.off()) as later:
        later.log_metric("y", 1.0)
    assert client.runs.get(later.id).metrics["y"].count == 1


def test_a_refused_batch_does_not_block_the_run_s_later_points(client: Client) -> None:
    client.projects.create("p")
    run = dy.start_run("p", client=client, capture=dy.Capture.off())
    run.log_metrics({"x": 1.0}, step=1)
    run.flush()
    # a value that got past the SDK's checks (e.g. spooled by an older version of it)
    poisoned = run._batcher
    with poisoned._lock:
        poisoned._pending["x"] = ([2**63], [0], [2.0])
        poisoned._count += 1
    with pytest.warns(UserWarning, match="refused it"):
        run.flush()
    for step in range(2, 5):
        run.log_metrics({"x": float(step)}, step=step)
    assert run.end() is not None
    stored = client.runs.get(run.id)
    assert stored.status == "finished"
    assert client.runs.history(run.id, "x").steps == [1, 2, 3, 4]
    quarantined = list((Spool.of(client.settings).folder / "quarantine").iterdir())
    assert len(quarantined) == 1 and quarantined[0].name.startswith(run.id)


def test_a_home_keeps_one_spool_per_target(tmp_path: Path) -> None:
    with connect(home=tmp_path) as local:
        local.projects.create("p")
        remote = Settings(home=tmp_path, db="", blobs="", url="http://127.0.0.1:9/")
        elsewhere = Spool.of(remote)
        assert elsewhere.folder != Spool.of(local.settings).folder
        batch = MetricBatch.model_construct(batch_id="b", series=_series([1]))
        path = elsewhere.write("r" + "0" * 31, batch)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing is sent to the wrong place, or quarantined
            assert dy.deliver_spool(local) == 0
            dy.start_run("p", client=local, capture=dy.Capture.off()).end()
        assert elsewhere.pending() == [path]
        assert Spool.of(replace(remote, url="http://127.0.0.1:9")).pending() == [path]


def test_flush_waits_for_a_batch_the_spool_thread_is_writing(tmp_path: Path) -> None:
    """The spool thread has taken the points and is still writing them when flush() is
    called: flush() returns only once they are on disk (a process killed right after a
    flush loses nothing it logged before)."""
    from dockyard.sdk.batcher import MetricBatcher

    with connect(home=tmp_path) as client:
        client.projects.create("p")
        run = client.runs.create("p")
        spool = Spool.of(client.settings)
        writing, written = threading.Event(), threading.Event()
        plain_write = spool.write

        def slow_write(run_id: str, batch: MetricBatch) -> Path:
            writing.set()
            time.sleep(0.5)
            path = plain_write(run_id, batch)
            written.set()
            return path

        spool.write = slow_write  # type: ignore[method-assign]
        batcher = MetricBatcher(client.runs, run.id, spool, flush_interval=0.05)
        batcher.add({"a": 1.0}, step=0, timestamp_ms=int(time.time() * 1000))
        assert writing.wait(5)  # the spool thread took the point and is writing it
        batcher.flush()
        assert written.is_set()
        batcher.close()
        assert _stored_steps(client, run.id, "a") == [0]


def test_memory_stays_bounded_while_the_server_is_away(own_server: Server, tmp_path: Path) -> None:
    """With the server dead, 300k points go to spool files: memory holds at most the
    pending points and two spooled batches (the others wait as file names), and the next
    server gets every point."""
    from dockyard.sdk.batcher import IN_MEMORY_BATCHES, MAX_PENDING_POINTS, MetricBatcher

    server = own_server
    with connect(url=server.url, home=tmp_path / "client") as client:
        run = client.runs.create("p")
        spool = Spool.of(client.settings)
        batcher = MetricBatcher(client.runs, run.id, spool, flush_interval=0.05)
        server.kill()
        now = int(time.time() * 1000)
        most_held = most_pending = 0
        for step in range(300_000):
            batcher.add({"a": float(step)}, step=step, timestamp_ms=now)
            if step % 5_000 == 0:
                held = sum(1 for item in list(batcher._queue) if item.batch is not None)
                most_held = max(most_held, held)
                most_pending = max(most_pending, batcher._count)
        with pytest.raises(dy.Unavailable):
            batcher.flush()  # everything is spooled; the delivery fails
        assert most_pending <= MAX_PENDING_POINTS
        assert most_held <= IN_MEMORY_BATCHES
        queued = list(batcher._queue)
        assert len(queued) > IN_MEMORY_BATCHES  # the rest wait on disk only
        assert sum(1 for item in queued if item.batch is not None) <= IN_MEMORY_BATCHES
        assert len(spool.pending()) == len(queued)
        server.start()
        batcher.close()
        assert _stored_steps(client, run.id, "a") == list(range(300_000))
    assert _client_spool(server, tmp_path).pending() == []
