"""``dockyard serve`` as users start it (a real process), ``dockyard trace`` and
``dockyard serving list|log``: a killed server and what the next one says, a model whose
library is missing, a graceful stop that logs everything."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import dockyard as dy
from cli_support import run_cli
from serving_support import register_constant, wait_for

EXE = Path(sys.executable).with_name("dockyard")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(
    home: Path,
    *uris: str,
    extra_path: Path | None = None,
    log_file: Path,
    options: tuple[str, ...] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = _free_port()
    env = {**os.environ, "DOCKYARD_HOME": str(home)}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    with open(log_file, "ab") as out:
        process = subprocess.Popen(
            [str(EXE), "serve", *uris, "--port", str(port), *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise AssertionError(f"dockyard serve exited: {log_file.read_text()}")
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"dockyard serve did not start: {log_file.read_text()}")
            time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_killed_server_is_reported_by_the_next_and_a_graceful_stop_logs_everything(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = dy.connect()
    register_constant(client, "pricer", 3.0, alias="champion")
    log_file = tmp_path / "serve.log"
    row = {"inputs": {"amount": 1.0, "reports": 0}}
    with _serving(home, "models:/pricer@champion", log_file=log_file) as (process, url):
        ids = [httpx.post(url + "/v1/models/pricer/predict", json=row).json() for _ in range(10)]
        assert all(a["predictions"] == [3.0] for a in ids)
        wait_for(lambda: len(client.serving.predictions("pricer", limit=100).predictions) == 10)
        for _ in range(5):
            httpx.post(url + "/v1/models/pricer/predict", json=row)
        process.kill()  # kill -9: what was still queued is lost
        process.wait()
    logged = [p.prediction_id for p in client.serving.predictions("pricer", limit=100).predictions]
    assert 10 <= len(logged) <= 15 and len(set(logged)) == len(logged)

    with _serving(home, "models:/pricer@champion", log_file=log_file) as (process, url):
        answers = [httpx.post(url + "/v1/models/pricer/predict", json=row).json() for _ in range(7)]
        process.send_signal(signal.SIGINT)  # graceful: the whole log is written
        assert process.wait(timeout=30) == 0
    text = log_file.read_text()
    assert "stopped without shutting down" in text, text
    after = {p.prediction_id for p in client.serving.predictions("pricer", limit=100).predictions}
    assert {a["prediction_ids"][0] for a in answers} <= after

    pid = answers[0]["prediction_ids"][0]
    code, out, _ = run_cli(capsys, "trace", pid)
    assert code == 0 and pid in out and "models:/pricer/1" in out and "run" in out
    code, out, _ = run_cli(capsys, "serving", "log", "pricer", "--limit", "5")
    assert code == 0 and "champion" in out
    code, out, _ = run_cli(capsys, "serving", "list", "--all")
    assert code == 0 and "pricer" in out
    code, _, err = run_cli(capsys, "trace", "0" * 32)
    assert code == 3 and "no logged prediction" in err
    code, _, err = run_cli(capsys, "serve", "models:/nope@champion")
    assert code == 3 and "nope" in err
    code, _, err = run_cli(capsys, "serve", "models:/pricer@nowhere")
    assert code != 0 and "nowhere" in err
    client.close()


def test_a_model_whose_library_is_missing_says_what_to_install(home: Path, tmp_path: Path) -> None:
    import lightgbm as lgb
    import numpy as np
    import pandas as pd

    client = dy.connect()
    x = pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 3})
    model = lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(x, x.a * 2)
    with dy.start_run(project="shop", capture=dy.Capture.off(), client=client):
        logged = dy.log_model(model, "model", input_example=x)
    version = dy.register_model(logged, name="boosted", client=client).version
    client.models.set_alias("boosted", "champion", version)
    client.close()
    shadowing = tmp_path / "no_lightgbm"
    (shadowing / "lightgbm").mkdir(parents=True)
    (shadowing / "lightgbm" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'lightgbm'\", name='lightgbm')\n"
    )
    with _serving(
        home, "models:/boosted@champion", extra_path=shadowing, log_file=tmp_path / "s.log"
    ) as (_, url):
        ready = httpx.get(url + "/readyz")
        assert ready.status_code == 503
        message = ready.json()["models"]["boosted"]
        assert "pip install 'lightgbm" in message, message
        answer = httpx.post(url + "/v1/models/boosted/predict", json={"inputs": {"a": 1, "b": 1}})
        assert answer.status_code == 503 and "pip install 'lightgbm" in answer.text


def test_several_workers_share_the_port_and_their_metrics_add_up(
    home: Path, tmp_path: Path
) -> None:
    client = dy.connect()
    register_constant(client, "pricer", 3.0, alias="champion")
    client.close()
    row = {"inputs": {"amount": 1.0, "reports": 0}}
    log_file = tmp_path / "workers.log"
    with _serving(
        home, "models:/pricer@champion", log_file=log_file, options=("--workers", "2")
    ) as (process, url):
        wait_for(lambda: httpx.get(url + "/readyz").status_code == 200, seconds=180)
        with httpx.Client(base_url=url, timeout=30) as http:
            answers = [http.post("/v1/models/pricer/predict", json=row) for _ in range(40)]
            assert all(a.json()["predictions"] == [3.0] for a in answers)
            metrics = http.get("/metrics").text
        line = 'dockyard_serve_requests_total{model="pricer",outcome="ok",version="1"}'
        counted = [x for x in metrics.splitlines() if x.startswith(line)]
        assert counted and float(counted[0].split()[-1]) == 40.0, metrics[-2000:]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    text = log_file.read_text()
    assert text.count("Application shutdown complete") == 2, text
