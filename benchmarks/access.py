"""What the project-role check costs a request: the same calls through a running
`dockyard server` (a subprocess on loopback) with the server's admin token, which passes
without a lookup, and with an account's API token holding the editor role in the project,
whose principal is looked up (then kept for 2 s) and whose call's project is resolved
(a run's project is remembered; a model's is looked up every time).

    .venv/bin/python benchmarks/access.py [--calls 2000] [--db URL]

Prints per-call p50 / p99 in milliseconds for: logging one metric point to a run
(`metrics.log`), reading a run (`runs.get`), a run's heartbeat (a small write the audit log
leaves out) beside setting a tag (a small write it records: the difference is about the audit
entry's cost), reading a model (`models.get`), and listing the projects (filtered for the
account). One warm keep-alive HTTP client per token; the calls
alternate between the two tokens so that load and noise fall on both alike. What it leaves
out: TLS, many server workers, PostgreSQL round trips unless --db names one.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ADMIN = "bench-admin-token-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1000:.3f} / {p99 * 1000:.3f}"


def timed(
    clients: dict[str, httpx.Client], call: Callable[[httpx.Client, int], Any], n: int
) -> dict[str, list[float]]:
    """``n`` calls per client after 50 of warm-up, alternating between the clients."""
    times: dict[str, list[float]] = {name: [] for name in clients}
    for i in range(n + 50):
        for name, client in clients.items():
            start = time.perf_counter()
            answer = call(client, i)
            elapsed = time.perf_counter() - start
            if answer.status_code >= 400:
                raise SystemExit(f"{name}: {answer.status_code} {answer.text[:300]}")
            if i >= 50:
                times[name].append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per request kind and token")
    parser.add_argument("--db", default=None, help="metadata database URL (default: SQLite)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dockyard-access-"))
    env = {**os.environ, "DOCKYARD_HOME": str(home)}
    if args.db:
        env["DOCKYARD_DB"] = args.db
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "dockyard"]
    server = subprocess.Popen(
        [*cli, "--token", ADMIN, "server", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(url)
        api = url + "/api/v1"
        admin = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {ADMIN}"})
        # the first account is an admin: the measured account is the next one
        admin.post("/users", json={"name": "root"}).raise_for_status()
        user = admin.post("/users", json={"name": "ann", "token": True}).json()
        admin.post("/projects", json={"name": "bench"}).raise_for_status()
        admin.put(
            "/projects/bench/grants", json={"user": "ann", "role": "editor"}
        ).raise_for_status()
        ann = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {user['token']}"})
        run = admin.post("/runs", json={"project": "bench"}).json()["id"]
        admin.post("/models", json={"name": "m", "project": "bench"}).raise_for_status()
        clients = {"admin token": admin, "account token (editor)": ann}
        kinds = {
            "metrics.log (1 point)": lambda c, i: c.post(
                f"/runs/{run}/metrics",
                json={"series": {"x": {"steps": [i], "timestamps": [i], "values": [0.5]}}},
            ),
            "runs.get": lambda c, i: c.get(f"/runs/{run}"),
            "runs.heartbeat (not audited)": lambda c, i: c.post(f"/runs/{run}/heartbeat"),
            "runs.set_tags (audited)": lambda c, i: c.post(
                f"/runs/{run}/tags", json={"tags": {"k": str(i)}}
            ),
            "models.get": lambda c, i: c.get("/models/m"),
            "projects.list": lambda c, i: c.get("/projects"),
        }
        print(f"{args.calls} calls each; p50 / p99 ms; db: {args.db or 'SQLite'}")
        print(f"| request | {' | '.join(clients)} |")
        print(f"|---|{'---:|' * len(clients)}")
        for kind, call in kinds.items():
            times = timed(clients, call, args.calls)
            print(f"| {kind} | {' | '.join(_percentiles(times[n]) for n in clients)} |")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
