"""Model serving: ``dockyard serve`` beside ``mlflow models serve``, a hand-written
Starlette + LightGBM floor and a constant-answer HTTP floor, on one LightGBM model.

Run from the project root:

    .venv/bin/python benchmarks/serving.py [--repeat 2] [--seconds 10] [--rate 500]
        [--only dockyard-1,mlflow,...] [--no-alias]

(``--only dockyard-1,dockyard-1-nolog`` adds the same server with ``--no-log``: how much the
prediction log costs) or ``--smoke`` (1 repetition, 3 s per measurement) for CI. Needs
``wrk`` (Debian: ``apt-get install wrk``). MLflow runs from its own venv, ``.bench/mlflow``
(created by benchmarks/models.py's helper when missing).

Set-up, in a fresh temporary dockyard home (embedded SQLite, removed at the end): a 200-tree
``LGBMClassifier`` on 12 float features of fraud-like data (serving_data.py, ``n_jobs=1``)
is logged and registered as ``fraud`` version 1, alias ``champion``; a second model (other
data seed) is version 2, for the alias move. MLflow's venv trains the same model from the
same data (serving_mlflow.py) and saves it with ``mlflow.lightgbm.save_model`` and an input
example (so MLflow checks a signature too); both copies' probabilities must agree.

Servers, each in turn a real process on 127.0.0.1, stopped before the next starts:

- ``dockyard-1`` / ``dockyard-2``: ``dockyard serve models:/fraud@champion --workers 1|2
  --threads 1`` (defaults otherwise: prediction log on, adaptive batching, alias polling
  every 0.5 s), native ``POST /v1/models/fraud/predict`` with ``{"inputs": {...}}``; the
  ``-mlflow-body`` rows are the same servers' ``POST /v1/models/fraud/invocations`` with
  MLflow's ``{"dataframe_records": [{...}]}``;
- ``mlflow``: ``mlflow models serve -m DIR --env-manager local -p P`` (its default: one
  uvicorn worker), ``POST /invocations`` with ``{"dataframe_records": [{...}]}``;
- ``floor``: a hand-written Starlette app under uvicorn (one worker, this script's
  ``--floor`` mode) that reads the native body with orjson and calls
  ``Booster.predict(x, num_threads=1)`` on the event loop: no checks, no log, no metrics;
- ``constant``: the same app answering a constant (the HTTP floor of Starlette + uvicorn,
  and of the load generators).

Load, from a separate process, on one fixed single-row body per protocol:

- throughput: ``wrk -t1 -cC -d{seconds}s`` with a Lua script for the POST body, closed
  loop at C = 1, 16, 64 connections, after a 2 s warm-up; requests/s counts 2xx answers;
- latency at a fixed rate: wrk has no fixed-rate mode (wrk2 is not packaged), so this
  script's ``--load`` mode is an open-loop generator (asyncio on uvloop + aiohttp, up to 64
  keep-alive connections): request i is due at start + i / rate and sent then, whatever
  happened to earlier ones, and its latency is measured from its due time to the end of the
  answer (no coordinated omission); an answer later than ``--timeout`` s is a failure
  (serving_features.py gives it a list of bodies instead, request i sending body i mod n);
- alias move (dockyard only): the open-loop load on the native route for ``--alias-seconds``;
  after a third of it ``champion`` is moved to version 2 through the SDK; failed requests
  are counted, and the switch time is from the move's commit to the due time of the last
  request answered by version 1 (answers carry ``version``).

The load average (``/proc/loadavg``, 1 min) is read before every measurement and printed
beside it. Medians over ``--repeat`` repetitions (servers interleaved each repetition).
Targets (issue 16): dockyard >= 8x MLflow's throughput at each concurrency, p99 <= 10 ms at
500 requests/s with the prediction log on, alias move with 0 failed requests and a switch
within 1 s. Exits 1 if one is missed. Figures also go to ``benchmarks/.data/serving/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

MLFLOW_PYTHON = ROOT / ".bench" / "mlflow" / "bin" / "python"
OUT = BENCH / ".data" / "serving"
PEER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONNOUSERSITE": "1"}
CONCURRENCY = (1, 16, 64)
MODEL = "fraud"


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# -- the hand-written floor (--floor) ---------------------------------------------------------


def floor_main(model_file: str, port: int, constant: bool) -> None:
    import lightgbm as lgb
    import numpy as np
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from serving_data import COLUMNS

    booster = lgb.Booster(model_file=model_file)

    async def predict(request: Request) -> Response:
        row = orjson.loads(await request.body())["inputs"]
        x = np.array([[row[c] for c in COLUMNS]], dtype=np.float64)
        p = float(booster.predict(x, num_threads=1)[0])
        return Response(
            orjson.dumps({"predictions": [int(p > 0.5)]}), media_type="application/json"
        )

    async def fixed(request: Request) -> Response:
        await request.body()
        return Response(b'{"predictions":[0]}', media_type="application/json")

    async def ping(request: Request) -> Response:
        return Response(b"ok")

    routes = [Route("/predict", fixed if constant else predict, methods=["POST"])]
    routes.append(Route("/ping", ping))
    app = Starlette(routes=routes)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the open-loop load generator (--load) -----------------------------------------------------


async def _open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp
    import orjson

    rate, seconds, limit = spec["rate"], spec["seconds"], spec["connections"]
    body = spec["body"].encode()
    # request i sends bodies[i % len(bodies)]: the spec's "bodies" when given, else "body"
    bodies = [b.encode() for b in spec["bodies"]] if spec.get("bodies") else [body]
    versions_wanted = spec.get("versions", False)
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=120)
    timeout = aiohttp.ClientTimeout(total=spec["timeout"])
    headers = {"Content-Type": "application/json"}
    count = int(rate * seconds)
    latency = [math.inf] * count
    lags = [0.0] * count
    versions: list[int | None] = [None] * count
    errors: dict[str, int] = {}
    now = time.monotonic  # uvloop's loop.time() is in whole milliseconds
    url = spec["url"]
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as s:

        async def one(i: int, due: float) -> None:
            lags[i] = now() - due
            try:
                async with s.post(url, data=bodies[i % len(bodies)]) as response:
                    got = await response.read()
                    if response.status != 200:
                        key = f"HTTP {response.status}"
                        errors[key] = errors.get(key, 0) + 1
                        return
                latency[i] = now() - due
                if versions_wanted:
                    versions[i] = orjson.loads(got)["version"]
            except Exception as exc:  # a timeout or a dropped connection: a failed request
                key = type(exc).__name__
                errors[key] = errors.get(key, 0) + 1

        async def warm() -> None:
            async with s.post(url, data=body) as response:
                await response.read()

        await asyncio.gather(*(warm() for _ in range(min(limit, 16))))
        tasks = []
        start = now() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        elapsed = now() - start
    ok = [x for x in latency if x != math.inf]
    return {
        "start": start,  # time.monotonic() of request 0's due time (one clock for all processes)
        "rate": rate,
        "sent": count,
        "ok": len(ok),
        "failed": count - len(ok),
        "errors": errors,
        "elapsed": elapsed,
        "latency_ms": [x * 1e3 for x in latency],
        "lag_p99_ms": sorted(lags)[int(count * 0.99)] * 1e3,
        "versions": versions if versions_wanted else None,
    }


def load_main(spec_file: str) -> None:
    import uvloop

    spec = json.loads(Path(spec_file).read_text())
    result = uvloop.run(_open_loop(spec))
    Path(spec["out"]).write_text(json.dumps(result))


# -- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    ready_path: str
    routes: dict[str, tuple[str, str]]  # route label -> (path, body)
    log: Path
    process: subprocess.Popen[bytes] | None = None
    rss_mib: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, seconds: float = 180) -> float:
        import httpx

        began = time.monotonic()
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=OUT,
                start_new_session=True,
            )
        while time.monotonic() - began < seconds:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"{self.name} exited: see {self.log}\n{self.log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready within {seconds:.0f} s: see {self.log}")

    def measure_rss(self) -> None:
        import psutil

        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        procs = [parent, *parent.children(recursive=True)]
        self.rss_mib = sum(p.memory_info().rss for p in procs) / 2**20

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def post(url: str, body: str) -> Any:
    import httpx

    answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=30)
    answer.raise_for_status()
    return answer.json()


# -- measurements -------------------------------------------------------------------------------

WRK_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[{body}]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests":%d,"duration_us":%d,"status":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"timeout":%d,"p50_us":%d,"p99_us":%d}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(url: str, body: str, connections: int, seconds: float, work: Path) -> dict[str, Any]:
    script = work / "post.lua"
    script.write_text(WRK_LUA.format(body=body))
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    argv += ["-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    bad = got["status"] + got["connect"] + got["read"] + got["write"] + got["timeout"]
    got["ok_per_s"] = (got["requests"] - got["status"]) / (got["duration_us"] / 1e6)
    got["errors"] = bad
    return got


def open_loop(
    url: str,
    body: str,
    args: argparse.Namespace,
    work: Path,
    *,
    seconds: float,
    versions: bool,
    bodies: list[str] | None = None,
) -> subprocess.Popen[str]:
    """Start the open-loop generator (this script's ``--load``) on ``body``, or on
    ``bodies`` cycled by request index when given."""
    spec = {
        "url": url,
        "body": body,
        "rate": args.rate,
        "seconds": seconds,
        "connections": 64,
        "timeout": args.timeout,
        "versions": versions,
    }
    if bodies:
        spec["bodies"] = bodies
    path = work / f"load-{time.monotonic_ns()}.json"
    spec["out"] = str(path.with_suffix(".out.json"))
    path.write_text(json.dumps(spec))
    argv = [sys.executable, str(Path(__file__).resolve()), "--load", str(path)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The generator's result (it writes it to the file named in its spec)."""
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{err[-3000:]}")
    spec = json.loads(Path(process.args[-1]).read_text())  # type: ignore[index]
    result: dict[str, Any] = json.loads(Path(spec["out"]).read_text())
    return result


def latency_summary(result: dict[str, Any]) -> dict[str, float]:
    """p50 / p99 / max over every request due (a failed one counts as infinite)."""
    ms = sorted(result["latency_ms"])
    n = len(ms)
    return {
        "p50": ms[n // 2],
        "p99": ms[min(n - 1, int(n * 0.99))],
        "max": ms[-1],
        "failed": result["failed"],
        "answered_per_s": result["ok"] / result["elapsed"],
        "lag_p99": result["lag_p99_ms"],
    }


def alias_switch(result: dict[str, Any], moved_at: float, old: int, new: int) -> dict[str, Any]:
    """When answers came from the new version, relative to the move's commit."""
    start, rate = result["start"], result["rate"]
    due = [start + i / rate for i in range(result["sent"])]
    answered = [(d, v) for d, v in zip(due, result["versions"], strict=True) if v is not None]
    last_old = max((d for d, v in answered if v == old), default=None)
    first_new = min((d for d, v in answered if v == new), default=None)
    after = [v for d, v in answered if d > moved_at]
    return {
        "failed": result["failed"],
        "errors": result["errors"],
        "sent": result["sent"],
        "old_answers": sum(1 for _, v in answered if v == old),
        "new_answers": sum(1 for _, v in answered if v == new),
        "switch_s": (last_old - moved_at) if last_old is not None else math.nan,
        "first_new_s": (first_new - moved_at) if first_new is not None else math.nan,
        "old_after_move": sum(1 for v in after if v == old),
        "ended_on_new": bool(answered) and answered[-1][1] == new,
    }


@dataclass
class Figures:
    throughput: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    wrk_latency: dict[str, dict[int, list[tuple[float, float]]]] = field(default_factory=dict)
    loads: dict[str, list[float]] = field(default_factory=dict)  # key -> load averages
    fixed_rate: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    alias: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    starts: dict[str, list[float]] = field(default_factory=dict)
    rss: dict[str, list[float]] = field(default_factory=dict)
    predlog: dict[str, list[dict[str, int]]] = field(default_factory=dict)


def run_server(
    server: Server, figures: Figures, args: argparse.Namespace, work: Path, say: Any
) -> None:
    started = server.start()
    figures.starts.setdefault(server.name, []).append(started)
    try:
        for label, (path, body) in server.routes.items():
            url = server.url + path
            wrk(url, body, 16, 2, work)  # warm-up, not counted
            for c in CONCURRENCY:
                key = f"{label} c={c}"
                figures.loads.setdefault(key, []).append(loadavg())
                got = wrk(url, body, c, args.seconds, work)
                figures.throughput.setdefault(label, {}).setdefault(c, []).append(got["ok_per_s"])
                figures.wrk_latency.setdefault(label, {}).setdefault(c, []).append(
                    (got["p50_us"] / 1e3, got["p99_us"] / 1e3)
                )
                figures.errors[key] = figures.errors.get(key, 0) + got["errors"]
                say(f"  {key}: {got['ok_per_s']:,.0f} req/s (load {figures.loads[key][-1]:.2f})")
            key = f"{label} @{args.rate:g}/s"
            time.sleep(1)
            figures.loads.setdefault(key, []).append(loadavg())
            proc = open_loop(url, body, args, work, seconds=args.seconds, versions=False)
            summary = latency_summary(finish(proc))
            figures.fixed_rate.setdefault(label, []).append(summary)
            say(
                f"  {key}: p50 {summary['p50']:.2f} ms, p99 {summary['p99']:.2f} ms, "
                f"failed {summary['failed']} (load {figures.loads[key][-1]:.2f})"
            )
        server.measure_rss()
        figures.rss.setdefault(server.name, []).append(server.rss_mib)
    finally:
        server.stop()


def point_champion(client: Any, version: int) -> None:
    from dockyard.core.errors import Conflict

    with contextlib.suppress(Conflict):  # it points there already
        client.models.set_alias(MODEL, "champion", version)


def run_alias_move(
    server: Server, client: Any, figures: Figures, args: argparse.Namespace, work: Path, say: Any
) -> None:
    point_champion(client, 1)
    server.start()
    try:
        path, body = server.routes[server.name]
        url = server.url + path
        wrk(url, body, 16, 2, work)
        time.sleep(1)
        key = f"{server.name} alias move"
        figures.loads.setdefault(key, []).append(loadavg())
        proc = open_loop(url, body, args, work, seconds=args.alias_seconds, versions=True)
        time.sleep(0.5 + args.alias_seconds / 3)
        client.models.set_alias(MODEL, "champion", 2, reason="benchmark: alias move under load")
        moved_at = time.monotonic()
        got = alias_switch(finish(proc), moved_at, 1, 2)
        figures.alias.setdefault(server.name, []).append(got)
        say(
            f"  {key}: failed {got['failed']}, switch {got['switch_s'] * 1e3:.0f} ms after the "
            f"move (first v2 answer at {got['first_new_s'] * 1e3:.0f} ms), "
            f"load {figures.loads[key][-1]:.2f}"
        )
    finally:
        server.stop()
        point_champion(client, 1)


def predlog_state(client: Any, since: float) -> dict[str, int]:
    """Accepted / logged / dropped predictions of the servers that stopped since ``since``."""
    import datetime as dt

    cutoff = dt.datetime.fromtimestamp(since, dt.UTC)
    total = {"accepted": 0, "logged": 0, "dropped": 0}
    for instance in client.serving.instances(live=False, limit=200):
        if instance.heartbeat_at < cutoff:
            continue
        total["accepted"] += instance.state.predictions_accepted
        total["logged"] += instance.state.predictions_logged
        total["dropped"] += instance.state.predictions_dropped
    return total


# -- set-up -------------------------------------------------------------------------------------


def setup_models(home: Path, work: Path, say: Any) -> tuple[Any, dict[str, Any], Path]:
    """Register the two dockyard versions, save MLflow's copy; check the copies agree."""
    import numpy as np
    import pandas as pd

    os.environ["DOCKYARD_HOME"] = str(home)
    import dockyard as dy
    from models import ensure_peer
    from serving_data import SEED, request_rows, train, training_data

    client = dy.connect()
    x, y = training_data()
    model = train(x, y)
    x2, y2 = training_data(seed=SEED + 100)
    second = train(x2, y2)
    versions = []
    for m in (model, second):
        with dy.start_run(project="bench", capture=dy.Capture.off(), client=client):
            logged = dy.log_model(m, "model", input_example=x.head(5))
        versions.append(dy.register_model(logged, name=MODEL, client=client).version)
    assert versions == [1, 2], versions
    client.models.set_alias(MODEL, "champion", 1)
    booster_file = work / "floor-model.txt"
    model.booster_.save_model(str(booster_file))
    say("dockyard: fraud v1 (champion) and v2 registered")

    ensure_peer()
    mlflow_dir = work / "mlflow-model"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "MLFLOW_"))}
    env.pop("VIRTUAL_ENV", None)
    argv = [str(MLFLOW_PYTHON), str(BENCH / "serving_mlflow.py"), "--out", str(mlflow_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env | PEER_ENV, cwd=work)
    if done.returncode:
        raise SystemExit(f"MLflow side failed:\n{done.stderr[-3000:]}")
    peer = json.loads(done.stdout.strip().splitlines()[-1])
    ours = model.predict_proba(pd.DataFrame(request_rows()))[:, 1]
    gap = float(np.max(np.abs(ours - np.asarray(peer["proba"]))))
    if gap > 1e-9:
        raise SystemExit(f"dockyard's and MLflow's copies of the model differ (max gap {gap})")
    say(f"MLflow {peer['mlflow']}: model saved, probabilities equal dockyard's (max gap {gap:g})")
    peer["expected"] = peer["labels"][0]
    return client, peer, mlflow_dir


def servers(home: Path, work: Path, mlflow_dir: Path, only: set[str] | None) -> list[Server]:
    from serving_data import request_rows

    row = request_rows()[0]
    native = json.dumps({"inputs": row})
    records = json.dumps({"dataframe_records": [row]})
    port = free_port()
    env = {**os.environ, "DOCKYARD_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
    exe = str(Path(sys.executable).with_name("dockyard"))
    peer_env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "MLFLOW_"))}
    peer_env.pop("VIRTUAL_ENV", None)
    peer_env |= PEER_ENV
    peer_env["PATH"] = f"{MLFLOW_PYTHON.parent}{os.pathsep}{peer_env.get('PATH', '')}"
    mlflow_exe = str(MLFLOW_PYTHON.with_name("mlflow"))
    this = str(Path(__file__).resolve())
    found = []
    for workers in (1, 2):
        name = f"dockyard-{workers}"
        argv = [exe, "serve", f"models:/{MODEL}@champion", "--port", str(port)]
        argv += ["--workers", str(workers), "--threads", "1"]
        routes = {
            name: (f"/v1/models/{MODEL}/predict", native),
            f"{name}-mlflow-body": (f"/v1/models/{MODEL}/invocations", records),
        }
        found.append(Server(name, argv, env, port, "/readyz", routes, work / f"{name}.log"))
    if only is not None and "dockyard-1-nolog" in only:  # a diagnosis, not a target row
        name = "dockyard-1-nolog"
        argv = [exe, "serve", f"models:/{MODEL}@champion", "--port", str(port)]
        argv += ["--workers", "1", "--threads", "1", "--no-log"]
        routes = {name: (f"/v1/models/{MODEL}/predict", native)}
        found.append(Server(name, argv, env, port, "/readyz", routes, work / f"{name}.log"))
    argv = [mlflow_exe, "models", "serve", "-m", str(mlflow_dir), "--env-manager", "local"]
    argv += ["-p", str(port)]
    routes = {"mlflow": ("/invocations", records)}
    found.append(Server("mlflow", argv, peer_env, port, "/ping", routes, work / "mlflow.log"))
    model_file = str(work / "floor-model.txt")
    for name, extra in (("floor", []), ("constant", ["--constant"])):
        argv = [sys.executable, this, "--floor", model_file, "--port", str(port), *extra]
        routes = {name: ("/predict", native)}
        found.append(Server(name, argv, env, port, "/ping", routes, work / f"{name}.log"))
    return [s for s in found if only is None or s.name in only]


# -- report -------------------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def span(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    return f"{low:.2f}" if low == high else f"{low:.2f}-{high:.2f}"


def fmt_ms(x: float) -> str:
    return "timeout" if x == math.inf else f"{x:,.0f}" if x >= 100 else f"{x:.2f}"


def report(figures: Figures, args: argparse.Namespace, console: Any) -> list[tuple[str, bool]]:
    from rich.table import Table

    verdicts: list[tuple[str, bool]] = []
    base = figures.throughput.get("mlflow", {})
    table = Table(title=f"closed loop (wrk -t1, {args.seconds:g} s): 2xx answers/s, medians")
    for h in (
        "server / route",
        "c",
        "req/s",
        "x MLflow",
        "wrk p50 ms",
        "wrk p99 ms",
        "errors",
        "load 1m",
    ):
        table.add_column(h, justify="left" if h == "server / route" else "right")
    for label, per_c in figures.throughput.items():
        for c, values in per_c.items():
            ratio = med(values) / med(base[c]) if c in base and label != "mlflow" else math.nan
            lat = figures.wrk_latency[label][c]
            table.add_row(
                label,
                str(c),
                f"{med(values):,.0f}",
                "" if math.isnan(ratio) else f"{ratio:.1f}",
                f"{med([a for a, _ in lat]):.2f}",
                f"{med([b for _, b in lat]):.2f}",
                str(figures.errors.get(f"{label} c={c}", 0)),
                span(figures.loads.get(f"{label} c={c}", [])),
            )
    console.print(table)
    table = Table(
        title=f"open loop at {args.rate:g} requests/s for {args.seconds:g} s, "
        "latency from each request's due time; medians"
    )
    for h in (
        "server / route",
        "p50 ms",
        "p99 ms",
        "max ms",
        "failed",
        "answered/s",
        "send lag p99 ms",
        "load 1m",
    ):
        table.add_column(h, justify="left" if h == "server / route" else "right")
    for label, runs in figures.fixed_rate.items():
        table.add_row(
            label,
            fmt_ms(med([r["p50"] for r in runs])),
            fmt_ms(med([r["p99"] for r in runs])),
            fmt_ms(med([r["max"] for r in runs])),
            "/".join(str(int(r["failed"])) for r in runs),
            f"{med([r['answered_per_s'] for r in runs]):,.0f}",
            f"{med([r['lag_p99'] for r in runs]):.2f}",
            span(figures.loads.get(f"{label} @{args.rate:g}/s", [])),
        )
    console.print(table)
    if figures.alias:
        table = Table(title=f"alias move under {args.rate:g} requests/s (champion v1 -> v2, SDK)")
        for h in (
            "server",
            "run",
            "failed",
            "switch ms",
            "first v2 ms",
            "v1 answers after the move",
            "load 1m",
        ):
            table.add_column(h, justify="left" if h == "server" else "right")
        for name, runs in figures.alias.items():
            loads = figures.loads.get(f"{name} alias move", [])
            for i, r in enumerate(runs):
                table.add_row(
                    name,
                    str(i + 1),
                    str(r["failed"]),
                    f"{r['switch_s'] * 1e3:.0f}",
                    f"{r['first_new_s'] * 1e3:.0f}",
                    str(r["old_after_move"]),
                    f"{loads[i]:.2f}" if i < len(loads) else "",
                )
        console.print(table)
    for name, states in figures.predlog.items():
        console.print(f"prediction log of {name}: {states}")
    for name, values in figures.rss.items():
        start = med(figures.starts.get(name, []))
        console.print(
            f"{name}: ready after {start:.1f} s, RSS after the load {med(values):.0f} MiB"
        )

    if base:
        for name in ("dockyard-1", "dockyard-2"):
            if name not in figures.throughput:
                continue
            ratios = [med(figures.throughput[name][c]) / med(base[c]) for c in base]
            verdicts.append(
                (
                    f"{name}: throughput >= 8x MLflow's at c=1,16,64 (min {min(ratios):.1f}x)",
                    min(ratios) >= 8,
                )
            )
    for name in ("dockyard-1", "dockyard-2"):
        fixed = figures.fixed_rate.get(name)
        if fixed:
            p99 = med([r["p99"] for r in fixed])
            verdicts.append(
                (
                    f"{name}: p99 <= 10 ms at {args.rate:g} req/s, log on ({fmt_ms(p99)} ms)",
                    p99 <= 10,
                )
            )
    for name, runs in figures.alias.items():
        failed = sum(r["failed"] for r in runs)
        worst = max(r["switch_s"] for r in runs)
        ok = failed == 0 and worst <= 1.0 and all(r["ended_on_new"] for r in runs)
        verdicts.append(
            (f"{name}: alias move, {failed} failed, switch within {worst * 1e3:.0f} ms", ok)
        )
    for text, ok in verdicts:
        console.print(f"{'PASS' if ok else 'FAIL'}  {text}", style="green" if ok else "red")
    return verdicts


# -- main ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--alias-seconds", type=float, default=12.0)
    parser.add_argument("--timeout", type=float, default=10.0, help="a later answer is a failure")
    parser.add_argument(
        "--only",
        help="comma-separated: dockyard-1,dockyard-2,mlflow,floor,constant; dockyard-1-nolog "
        "(prediction log off, a diagnosis) only when named here",
    )
    parser.add_argument("--no-alias", action="store_true", help="skip the alias moves")
    parser.add_argument("--smoke", action="store_true", help="1 repetition, 3 s per measurement")
    parser.add_argument("--keep", action="store_true", help="keep the home and logs")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--floor", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--constant", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args.load)
        return 0
    if args.floor:
        floor_main(args.floor, args.port, args.constant)
        return 0
    if args.smoke:
        args.repeat, args.seconds, args.alias_seconds = 1, 3.0, 6.0
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    from rich.console import Console

    console = Console(width=160)

    def say(text: str) -> None:
        console.print(text, style="dim")

    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="serving-", dir=OUT))
    home = work / "home"
    began = time.time()
    say(f"load average at the start: {Path('/proc/loadavg').read_text().strip()}")
    client, peer, mlflow_dir = setup_models(home, work, say)
    only = set(args.only.split(",")) if args.only else None
    figures = Figures()
    versions = {
        "python": platform.python_version(),
        "mlflow": peer["mlflow"],
        "lightgbm (mlflow venv)": peer["lightgbm"],
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0],
    }
    for module in ("lightgbm", "uvicorn", "starlette", "aiohttp", "uvloop"):
        versions[f"{module} (dockyard venv)"] = metadata.version(module)
    path = OUT / f"results-{int(began)}.json"

    def save(verdicts: list[tuple[str, bool]]) -> None:
        record = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(began)),
            "argv": sys.argv,
            "versions": versions,
            "cpus": os.cpu_count(),
            "figures": dict(figures.__dict__),
            "verdicts": verdicts,
        }
        path.write_text(json.dumps(record, indent=1, default=str))

    try:
        for rep in range(args.repeat):
            order = servers(home, work, mlflow_dir, only)
            if rep % 2:
                order.reverse()
            for server in order:
                say(f"repetition {rep + 1}: {server.name}")
                since = time.time()
                run_server(server, figures, args, work, say)
                if server.name.startswith("dockyard"):
                    figures.predlog.setdefault(server.name, []).append(predlog_state(client, since))
                save([])
            if not args.no_alias:
                for server in servers(home, work, mlflow_dir, only):
                    if server.name.startswith("dockyard"):
                        run_alias_move(server, client, figures, args, work, say)
                        save([])
        verdicts = report(figures, args, console)
    finally:
        client.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    console.print(f"versions: {versions}")
    save(verdicts)
    console.print(f"figures written to {path}")
    return 0 if all(ok for _, ok in verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
