"""Feature store over HTTP: dockyard's server beside Feast's feature server, at a fixed rate.

Run from the project root (Redis at 127.0.0.1:6379 for the Redis rows):

    .venv/bin/python benchmarks/features_http.py [--smoke] [--repeat 3] [--rate 500]
        [--seconds 25] [--entities 10000] [--events 300000] [--plain-events 200000]
        [--plain-entities 20000] [--redis-db 12] [--no-redis] [--no-feast] [--feast-defaults]

Servers, each in a process of its own, started the way their users start them:

- dockyard: ``dockyard --home H server --no-scheduler`` (uvicorn, one process; embedded
  SQLite metadata in a temporary home), once with the embedded online store (SQLite) and
  once with ``DOCKYARD_ONLINE=redis://127.0.0.1:6379/DB``. Each home holds two views,
  materialized through the service before the server starts: ``activity``, the 50-feature
  view of ``features_online.py`` (5 value columns x latest, sums, means, counts, min, max,
  last over 1 h / 24 h / 7 d) over ``--events`` purchases of ``--entities`` cards in the 7
  days before now, and ``plain``, 50 ``Field``s over the 50 float columns of
  ``features_feast.py``'s online data (``--plain-events`` events of ``--plain-entities``
  cards), which is what Feast can serve too.
- Feast 0.67 (its own venv, ``.bench/feast``, created by ``features_feast.py`` when
  missing): ``feast serve`` (gunicorn, one worker) over the repo of
  ``features_feast_peer.py serve``: the same 50 float columns as a FeatureView, its sqlite
  and redis online stores (DB ``--redis-db`` too). Feast's ``--max-requests`` (default 1000:
  the only worker is restarted every 1,000 requests, every 2 s at 500 requests/s) is set
  to 0 unless ``--feast-defaults``; its access log stays on, as dockyard's does.

The load generator is a separate process (``--load``): asyncio with a keep-alive aiohttp
session (``--concurrency`` connections), open loop: request ``i`` is due at ``start +
i / rate`` and is sent then whatever happened to the earlier ones; its latency is counted
from that due time to the last byte of the answer, so queueing (in the client's connection
pool or the server) counts. Timers have about 1 ms resolution: the send lag (actual send
minus due time) is reported beside the figures, and a ``health`` row (the cheapest GET of
each server) shows the floor of the harness. A request not answered within ``--timeout``
seconds is an error. Bodies are prepared before the clock starts: 1 entity x 50 features
(a random card each request) and 100 random entities x 50 features, all 50 features named
(dockyard: ``POST /api/v1/projects/bench/features/online``; Feast: ``POST
/get-online-features``). Runs are interleaved (the order of the sides alternates by
repetition) and the server is left to go idle between runs.

Before the load, a sample of cards is looked up over HTTP on every server: ``plain`` values
must equal Feast's (sqlite and redis), and ``activity`` values must equal the offline
training set (``dockyard.features.offline.training_set``) at the same time.
No PASS/FAIL: exits 0 unless a server fails or values differ.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

PROJECT = "bench"
VALUE_COLUMNS = [f"f{i:02d}" for i in range(50)]


# -- the load generator (a process of its own: --load) -------------------------------------


async def _load(
    url: str, bodies: list[bytes], method: str, rate: float, seconds: float, args: Any
) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=args.concurrency, keepalive_timeout=120)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    headers = {"Content-Type": "application/json"}
    count = int(rate * seconds)
    latencies: list[float] = [math.inf] * count
    lags: list[float] = [0.0] * count
    errors: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers
    ) as session:

        async def one(i: int, due: float, body: bytes) -> None:
            lags[i] = loop.time() - due
            try:
                async with session.request(method, url, data=body or None) as response:
                    await response.read()
                    if response.status != 200:
                        errors[f"HTTP {response.status}"] += 1
                        return
                latencies[i] = loop.time() - due
            except TimeoutError:
                errors["timeout"] += 1
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] += 1

        async def warm(body: bytes) -> None:
            async with session.request(method, url, data=body or None) as response:
                await response.read()

        # warm-up, not counted: open the connections
        await asyncio.gather(*(warm(bodies[i % len(bodies)]) for i in range(args.concurrency)))
        tasks = []
        start = loop.time() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due, bodies[i % len(bodies)])))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - start
    done = sorted(x for x in latencies if x != math.inf)
    return {
        "sent": count,
        "ok": len(done),
        "errors": dict(errors),
        "elapsed": elapsed,
        "latencies_ms": [round(x * 1e3, 4) for x in latencies if x != math.inf],
        "failed": count - len(done),
        "lag_p50_ms": statistics.median(lags) * 1e3,
        "lag_p99_ms": sorted(lags)[int(count * 0.99)] * 1e3,
    }


def load_main(args: argparse.Namespace) -> int:
    spec = json.loads(Path(args.load).read_text())
    bodies = [b.encode() for b in spec["bodies"]]
    result = asyncio.run(_load(spec["url"], bodies, spec["method"], args.rate, args.seconds, args))
    print(json.dumps(result))
    return 0


# -- data and servers ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def server_cpu(pid: int) -> float:
    """Seconds of CPU the server (and its children) used so far."""
    import psutil

    procs = [psutil.Process(pid)]
    procs += procs[0].children(recursive=True)
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def idle(pid: int, limit_s: float = 90) -> None:
    """Wait until the process (and its children) uses under 5% of a core for a second."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            before = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
            time.sleep(1.0)
            after = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
            if after - before < 0.05:
                return
    except psutil.NoSuchProcess:
        return


def dockyard_home(
    home: Path, online: str | None, activity: Path, plain: Path | None
) -> dict[str, float]:
    """A home with the two views (``activity`` only without ``plain``) materialized; the
    seconds each materialization took."""
    import pyarrow.parquet as pq

    from dockyard.client.client import connect_with
    from dockyard.core.config import Settings
    from dockyard.features import Entity, FeatureView, Field
    from features_online import view

    settings = Settings(
        home=home, db=f"sqlite:///{home / 'meta.db'}", blobs=str(home / "blobs"), online=online
    )
    plain_view = FeatureView(
        "plain",
        entities=[Entity("card", keys=["card"])],
        source="plain_events",
        timestamp="ts",
        features=[Field(c) for c in VALUE_COLUMNS],
    )
    client = connect_with(settings)
    try:
        client.projects.create(PROJECT)
        client.datasets.ingest(PROJECT, "purchases", pq.read_table(activity))
        views = [view()]
        if plain is not None:
            client.datasets.ingest(PROJECT, "plain_events", pq.read_table(plain))
            views.append(plain_view)
        entities = {e.name: e.canonical() for v in views for e in v.entities}
        client.features.apply(
            PROJECT, entities=list(entities.values()), views=[v.canonical() for v in views]
        )
        seconds = {}
        for name in [v.name for v in views]:
            started = time.perf_counter()
            client.features.materialize(PROJECT, name)
            seconds[name] = time.perf_counter() - started
        return seconds
    finally:
        client.close()


def start_dockyard(
    home: Path, online: str | None, log: Path
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = dict(os.environ, DOCKYARD_HOME=str(home), DOCKYARD_DB=f"sqlite:///{home / 'meta.db'}")
    env["DOCKYARD_BLOBS"] = str(home / "blobs")
    env.pop("DOCKYARD_URL", None)
    env.pop("DOCKYARD_TOKEN", None)
    if online:
        env["DOCKYARD_ONLINE"] = online
    cmd = [sys.executable, "-c", "from dockyard.cli.main import main; main()"]
    cmd += ["--home", str(home), "server", "--port", str(port), "--no-scheduler"]
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/api/v1/health", proc)
    return url, proc


def start_feast(
    feast_bin: Path, repo: Path, log: Path, defaults: bool
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    cmd = [str(feast_bin), "-c", str(repo), "serve", "-h", "127.0.0.1", "-p", str(port)]
    if not defaults:
        cmd += ["--max-requests", "0"]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + "/health", proc)
    return url, proc


# -- requests ------------------------------------------------------------------------------


def dockyard_body(view: str, cards: list[int], at: str | None = None) -> str:
    body: dict[str, Any] = {
        "keys": {"card": cards},
        "features": [f"{view}:{name}" for name in feature_names(view)],
    }
    if at is not None:
        body["at"] = at
    return json.dumps(body)


def feast_body(cards: list[int]) -> str:
    return json.dumps(
        {"features": [f"activity:{c}" for c in VALUE_COLUMNS], "entities": {"card": cards}}
    )


def feature_names(view: str) -> list[str]:
    if view == "plain":
        return VALUE_COLUMNS
    from features_online import view as activity

    return [f.name for f in activity().features]


def dockyard_values(url: str, view: str, cards: list[int], at: str | None = None) -> Any:
    import httpx

    response = httpx.post(
        f"{url}/api/v1/projects/{PROJECT}/features/online",
        content=dockyard_body(view, cards, at),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    response.raise_for_status()
    columns = response.json()["columns"]
    names = feature_names(view)
    return {str(c): [columns[n][i] for n in names] for i, c in enumerate(columns["card"])}


def feast_values(url: str, cards: list[int]) -> dict[str, list[Any]]:
    import httpx

    response = httpx.post(
        f"{url}/get-online-features",
        content=feast_body(cards),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    response.raise_for_status()
    got = response.json()
    names = got["metadata"]["feature_names"]
    results = dict(zip(names, got["results"], strict=True))
    return {
        str(c): [results[n]["values"][i] for n in VALUE_COLUMNS]
        for i, c in enumerate(results["card"]["values"])
    }


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def equal_rows(ours: dict[str, list[Any]], theirs: dict[str, list[Any]]) -> tuple[int, int]:
    keys = sorted(set(ours) | set(theirs))
    equal = sum(
        1
        for k in keys
        if k in ours
        and k in theirs
        and all(same(a, b) for a, b in zip(ours[k], theirs[k], strict=True))
    )
    return equal, len(keys)


def offline_activity(activity: Path, cards: list[int], at_us: int) -> dict[str, list[Any]]:
    """The training set's values of the sample cards at ``at_us``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dockyard.features.offline import training_set
    from features_online import view

    labels = pa.table(
        {
            "card": pa.array(cards, pa.int64()),
            "event_time": pa.array([at_us] * len(cards), pa.int64()).cast(
                pa.timestamp("us", tz="UTC")
            ),
        }
    )
    out = training_set(labels, [view()], {"purchases": pq.read_table(activity)}, ["activity:*"])
    names = feature_names("activity")
    columns = {n: out.column(n).to_pylist() for n in names}
    return {str(c): [columns[n][i] for n in names] for i, c in enumerate(cards)}


# -- the run -------------------------------------------------------------------------------


def bodies_for(side: str, view: str, size: int, entities: int, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        cards = [rng.randrange(entities)] if size == 1 else rng.sample(range(entities), size)
        out.append(feast_body(cards) if side == "feast" else dockyard_body(view, cards))
    return out


def run_load(
    url: str, method: str, bodies: list[str], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    spec = work / "load.json"
    spec.write_text(json.dumps({"url": url, "method": method, "bodies": bodies}))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--load", str(spec)]
    cmd += ["--rate", str(args.rate), "--seconds", str(args.seconds)]
    cmd += ["--concurrency", str(args.concurrency), "--timeout", str(args.timeout)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def summary(result: dict[str, Any]) -> dict[str, float]:
    """p50 / p99 / max over every request sent (an unanswered one counts as infinite)."""
    sent = result["sent"]
    ms = sorted(result["latencies_ms"]) + [math.inf] * result["failed"]
    return {
        "p50": ms[sent // 2],
        "p99": ms[min(sent - 1, int(sent * 0.99))],
        "max": ms[-1],
        "errors": result["failed"],
        "rate": result["ok"] / result["elapsed"],
        "lag_p99": result["lag_p99_ms"],
        "cpu_ms": result.get("cpu_ms", math.nan),
    }


def fmt(x: float) -> str:
    if x == math.inf:
        return "timeout"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--plain-entities", type=int, default=20_000)
    parser.add_argument("--plain-events", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--rates", default="", help="comma-separated rates, each in turn")
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--no-feast", action="store_true")
    parser.add_argument("--feast-defaults", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated run labels to keep")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        return load_main(args)
    if args.smoke:
        args.events, args.entities = 20_000, 1_000
        args.plain_events, args.plain_entities = 20_000, 2_000
        args.seconds, args.repeat = 5.0, 1

    import pyarrow.parquet as pq
    import redis

    from features_feast import FEAST_PY, ensure_feast, online_events
    from features_online import events

    feast_version = None if args.no_feast else ensure_feast()
    load = os.getloadavg()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; Feast {feast_version}",
        flush=True,
    )
    stores = ["sqlite"] if args.no_redis else ["sqlite", "redis"]
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    if "redis" in stores and redis.Redis.from_url(redis_url).dbsize():
        raise SystemExit(f"Redis DB {args.redis_db} is not empty: pick another --redis-db")
    procs: list[subprocess.Popen[bytes]] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="features-http-") as tmp:
        work = Path(tmp)
        activity = work / "activity.parquet"
        pq.write_table(events(args.events, args.entities, time.time_ns() // 1_000), activity)
        plain = online_events(args.plain_events, args.plain_entities)
        servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
        try:
            for store in stores:
                online = redis_url if store == "redis" else None
                home = work / f"dockyard-{store}"
                seconds = dockyard_home(home, online, activity, plain)
                print(f"dockyard {store}: materialized {seconds}", flush=True)
                servers[f"dockyard-{store}"] = start_dockyard(home, online, work / f"{store}.log")
                procs.append(servers[f"dockyard-{store}"][1])
                if args.no_feast:
                    continue
                repo = work / f"feast-{store}"
                cmd = [str(FEAST_PY), str(ROOT / "benchmarks" / "features_feast_peer.py")]
                cmd += ["serve", "--events", str(plain), "--repo", str(repo), "--store", store]
                cmd += ["--redis", f"127.0.0.1:6379,db={args.redis_db}"]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                print(f"Feast {store}: {out.stdout.strip().splitlines()[-1]}", flush=True)
                feast_bin = FEAST_PY.parent / "feast"
                servers[f"feast-{store}"] = start_feast(
                    feast_bin, repo, work / f"feast-{store}.log", args.feast_defaults
                )
                procs.append(servers[f"feast-{store}"][1])
            ok = check_values(servers, activity, args) and ok
            ok = measure(servers, args, work) and ok
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if "redis" in stores:
                client = redis.Redis.from_url(redis_url)
                left = client.dbsize()
                client.flushdb()  # it was empty before: all of it is ours
                print(f"Redis DB {args.redis_db}: {left} keys removed", flush=True)
    end = os.getloadavg()
    print(f"load average at the end {end[0]:.2f} {end[1]:.2f} {end[2]:.2f}")
    return 0 if ok else 1


def check_values(
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]],
    activity: Path,
    args: argparse.Namespace,
) -> bool:
    rng = random.Random(7)
    plain_cards = rng.sample(range(args.plain_entities), min(200, args.plain_entities))
    cards = rng.sample(range(args.entities), min(200, args.entities))
    at_us = time.time_ns() // 1_000
    at = datetime.fromtimestamp(at_us / 1e6, UTC).isoformat()
    wanted = offline_activity(activity, cards, at_us)
    ok = True
    for name, (url, _) in servers.items():
        if name.startswith("feast"):
            continue
        got = dockyard_values(url, "activity", cards, at)
        equal, compared = equal_rows(got, wanted)
        print(f"{name}: activity = training set at {at} for {equal} of {compared} cards")
        ok = ok and equal == compared
        store = name.split("-", 1)[1]
        if f"feast-{store}" in servers:
            ours = dockyard_values(url, "plain", plain_cards)
            theirs = feast_values(servers[f"feast-{store}"][0], plain_cards)
            equal, compared = equal_rows(ours, theirs)
            print(f"{name}: plain = Feast {store} for {equal} of {compared} cards")
            ok = ok and equal == compared
    return ok


def measure(
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]], args: argparse.Namespace, work: Path
) -> bool:
    runs: list[tuple[str, str, str, str, list[str]]] = []  # label, server, url, method, bodies
    count = int(max([args.rate, *(float(r) for r in args.rates.split(",") if r)]) * args.seconds)
    for name, (url, _) in servers.items():
        if name.startswith("feast"):
            runs.append((f"{name} health", name, url + "/health", "GET", [""]))
            for size in (1, 100):
                bodies = bodies_for("feast", "", size, args.plain_entities, count, size)
                runs.append(
                    (f"{name} plain {size}x50", name, url + "/get-online-features", "POST", bodies)
                )
            continue
        runs.append((f"{name} health", name, url + "/api/v1/health", "GET", [""]))
        lookup = f"{url}/api/v1/projects/{PROJECT}/features/online"
        for view, entities in (("activity", args.entities), ("plain", args.plain_entities)):
            for size in (1, 100):
                bodies = bodies_for("dockyard", view, size, entities, count, size)
                runs.append((f"{name} {view} {size}x50", name, lookup, "POST", bodies))
    if args.only:
        keep = args.only.split(",")
        runs = [r for r in runs if any(k in r[0] for k in keep)]
    results: dict[str, list[dict[str, float]]] = {}
    ok = True
    rates = [float(r) for r in args.rates.split(",")] if args.rates else [args.rate]
    for rep, rate in ((rep, rate) for rep in range(args.repeat) for rate in rates):
        args.rate = rate
        order = runs if rep % 2 == 0 else sorted(runs, key=lambda r: r[1].startswith("dockyard"))
        for label, server, url, method, bodies in order:
            label = f"{label} @{rate:.0f}/s"
            pid = servers[server][1].pid
            idle(pid)
            cpu = server_cpu(pid)
            result = run_load(url, method, bodies, args, work)
            idle(pid)  # requests given up on by the client may still be worked on
            if "error" not in result:
                result["cpu_ms"] = (server_cpu(pid) - cpu) / result["sent"] * 1e3
            if "error" in result:
                print(f"  {label}: load failed: {result['error']}", flush=True)
                ok = False
                continue
            s = summary(result)
            results.setdefault(label, []).append(s)
            print(
                f"  rep {rep + 1} {label}: p50 {fmt(s['p50'])} p99 {fmt(s['p99'])} max "
                f"{fmt(s['max'])} ms, {s['errors']:.0f} errors {result['errors']}, "
                f"{s['rate']:.0f} ok/s, send lag p99 {s['lag_p99']:.2f} ms, server CPU "
                f"{s['cpu_ms']:.2f} ms/request",
                flush=True,
            )
    print(f"\nmedians of {args.repeat} runs of {args.seconds:.0f} s at the given rate:")
    print("| run | p50 ms | p99 ms | max ms | errors | answered/s | server CPU ms/request |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, items in results.items():
        med = {k: statistics.median(x[k] for x in items) for k in items[0]}
        print(
            f"| {label} | {fmt(med['p50'])} | {fmt(med['p99'])} | {fmt(med['max'])} | "
            f"{med['errors']:.0f} | {med['rate']:.0f} | {med['cpu_ms']:.2f} |"
        )
    return ok


if __name__ == "__main__":
    sys.exit(main())
