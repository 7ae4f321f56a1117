"""Model serving with online features: ``dockyard serve`` on a model that looks 50 features
up in the feature store for each request, beside the same model given all its columns.

Run from the project root:

    .venv/bin/python benchmarks/serving_features.py [--repeat 2] [--seconds 20] [--rate 500]
        [--entities 10000] [--events 300000] [--bodies 10000] [--redis] [--redis-db 13]

or ``--smoke`` (1 repetition, 3 s per measurement, 2,000 cards / 50,000 events) for CI.

Set-up, in a fresh temporary dockyard home under ``benchmarks/.data/serving_features/``
(embedded SQLite metadata and online store; removed at the end unless ``--keep``):

- ``--events`` synthetic purchases of ``--entities`` cards over the 7 days before now
  (``features_online.events``) are ingested as dataset ``purchases`` of project ``bench``;
  the 50-feature view ``activity`` of ``features_online.view`` (5 value columns x latest,
  sums, means, counts, min, max, last over 1 h / 24 h / 7 d) is applied and materialized;
  with ``--redis``, also materialized into ``redis://127.0.0.1:6379/DB`` (``--redis-db``,
  flushed first and at the end; skipped with a message when Redis does not answer);
- training data: NOT a point-in-time training set, but the online values of every card at
  set-up time (``dy.features.online``), 20,000 rows of random cards, each with a random
  request value ``amount`` and a synthetic fraud label drawn from the amount against the
  card's 7-day mean and its 1-hour count. The values do not matter to the latency, only the
  model's shape: a 200-tree ``LGBMClassifier(n_jobs=1)`` (``serving_data.train``) on the 50
  feature columns + ``amount``;
- that one trained model is logged twice: ``fraud-features`` with
  ``features=dy.FeatureLookup(project="bench", features=[all 50 "activity:..."])`` (requests
  carry ``card`` and ``amount``), and ``fraud-plain`` without (requests carry the 51
  columns); each is registered and aliased ``champion``.

Servers, each in turn a real process on 127.0.0.1 (``serving.Server``), stopped before the
next starts, the order reversed every other repetition:

- ``features-sqlite``: ``dockyard serve models:/fraud-features@champion --workers 1
  --threads 1`` (defaults otherwise: prediction log on, adaptive batching), native ``POST
  /v1/models/fraud-features/predict`` with ``{"inputs": {"card": C, "amount": A}}``: each
  batch's 50 features are looked up in the embedded online store, then predicted;
- ``features-redis`` (``--redis``): the same with ``DOCKYARD_ONLINE=redis://...``;
- ``no-features`` (the baseline): ``dockyard serve models:/fraud-plain@champion`` with the
  same options, the body carrying the 51 values (the card's online values at set-up time,
  nulls included, and the amount): the difference is the lookup's cost.

Checked once per server before its first load (fails loudly otherwise): the answer is 200;
``"return_features": true`` gives the same 50 values as ``dy.features.online`` for that card
(the card with the most purchases in the last hour, so the 1 h windows are not empty); the
served probability equals the model's own ``predict_proba`` on those values; the baseline's
probability equals the model's on its body.

Load: ``serving.py --load`` (the open-loop generator, a process of its own: asyncio + uvloop
+ aiohttp, up to 64 keep-alive connections, request i due at start + i / rate, latency from
its due time to the end of the answer, an answer later than ``--timeout`` s is a failure)
at ``--rate`` for ``--seconds``, on ``--bodies`` prepared bodies sent in turn (request i
sends body i mod n): a random card and amount per body, so with the defaults no body is
sent twice and the server's in-process cache of feature vectors only hits when a card
comes up again by chance. Before each measured run, ``--warmup`` s of the same load on
other random cards (not counted), then 1 s idle.

Reported per server: p50 / p99 / max over every request due (a failed one counts as
infinite), failed requests, answered/s, the generator's send lag p99 (its timer's floor),
the 1-minute load average read just before the run, the server's CPU time per request
(user + system of its process tree during the measured run / requests sent: less sensitive
to a busy machine than the latencies) and its RSS after the run; medians of ``--repeat``;
and the prediction log's accepted / logged / dropped counts.

Left out: the network (loopback only), TLS and auth, the feature store's writes during the
load (no pushes or materializations run meanwhile), more than one row per request, feature
freshness (the values are whatever the store holds), on-demand features, and the cost of
the first request after start-up (warmed up first).

Target (issue 16): with online feature lookup (50 features) + predict, p99 <= 5 ms at 500
requests/s; judged on every ``features-*`` row, exit 1 if one misses it. Figures are also
written as JSON to ``benchmarks/.data/serving_features/``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import serving
from features_http import feature_names, same, server_cpu
from serving import (
    Server,
    finish,
    fmt_ms,
    free_port,
    latency_summary,
    loadavg,
    med,
    open_loop,
    post,
    predlog_state,
    span,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / ".data" / "serving_features"
PROJECT = "bench"
VIEW = "activity"
WITH, PLAIN = "fraud-features", "fraud-plain"
TRAIN_ROWS = 20_000
TARGET_MS = 5.0


@dataclass
class Setup:
    """The home once built: a client on it, the features and their set-up values."""

    home: Path
    client: Any
    names: list[str]
    values: dict[str, list[Any]]  # feature -> value of card i, at set-up time
    model: Any
    redis_url: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


# -- set-up -----------------------------------------------------------------------------------


def online_values(client: Any, cards: list[int]) -> dict[str, list[Any]]:
    import dockyard as dy

    return dy.features.online({"card": cards}, [f"{VIEW}:*"], project=PROJECT, client=client)


def fill_home(client: Any, args: argparse.Namespace, say: Any) -> dict[str, float]:
    """Ingest the purchases, apply the view and materialize it into the embedded store."""
    import dockyard as dy
    from features_online import events, view

    table = events(args.events, args.entities, time.time_ns() // 1_000)
    client.projects.create(PROJECT)
    client.datasets.ingest(PROJECT, "purchases", table)
    dy.features.apply([view()], project=PROJECT, client=client)
    started = time.perf_counter()
    dy.features.materialize(VIEW, project=PROJECT, client=client)
    seconds = time.perf_counter() - started
    say(f"{args.events:,} purchases of {args.entities:,} cards materialized in {seconds:.1f} s")
    return {"materialize_sqlite_s": seconds}


def fill_redis(home: Path, args: argparse.Namespace, say: Any) -> tuple[str | None, float]:
    """Materialize the view into Redis DB ``--redis-db`` (flushed first); None when Redis
    does not answer."""
    import redis

    from dockyard.client.client import connect_with
    from dockyard.core.config import load_settings

    url = f"redis://127.0.0.1:6379/{args.redis_db}"
    try:
        db = redis.Redis.from_url(url, socket_timeout=2)
        had = db.dbsize()
        db.flushdb()
    except redis.RedisError as exc:
        say(f"Redis at {url} does not answer ({exc}): no features-redis row")
        return None, math.nan
    say(f"Redis DB {args.redis_db}: flushed ({had} keys)")
    client = connect_with(load_settings(home=home, online=url))
    try:
        started = time.perf_counter()
        client.features.materialize(PROJECT, VIEW)
        seconds = time.perf_counter() - started
    finally:
        client.close()
    say(f"materialized into Redis in {seconds:.1f} s")
    return url, seconds


def training_data(values: dict[str, list[Any]], names: list[str], entities: int) -> Any:
    """Rows of random cards' set-up values, a random amount each, a synthetic label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(11)
    cards = rng.integers(0, entities, TRAIN_ROWS)
    x = pd.DataFrame({n: np.asarray(values[n], dtype=np.float64)[cards] for n in names})
    x["amount"] = rng.lognormal(3, 1, TRAIN_ROWS).round(2)
    mean_7d = x["amount_mean_7d"].fillna(x["amount"])
    logit = (
        -3.5
        + 1.5 * np.log1p(x["amount"] / mean_7d)
        + 0.5 * x["amount_count_1h"].fillna(0)
        + rng.normal(0, 0.8, TRAIN_ROWS)
    )
    y = (rng.random(TRAIN_ROWS) < 1 / (1 + np.exp(-logit))).astype("int64")
    return x, y


def register(client: Any, model: Any, x: Any, name: str, lookup: Any) -> None:
    import dockyard as dy

    with dy.start_run(project=PROJECT, capture=dy.Capture.off(), client=client):
        logged = dy.log_model(model, "model", input_example=x.head(5), features=lookup)
    version = dy.register_model(logged, name=name, client=client).version
    client.models.set_alias(name, "champion", version)


def prepare(home: Path, args: argparse.Namespace, say: Any) -> Setup:
    import dockyard as dy
    from serving_data import train

    client = dy.connect(home=home)
    info: dict[str, Any] = fill_home(client, args, say)
    redis_url = None
    if args.redis:
        redis_url, info["materialize_redis_s"] = fill_redis(home, args, say)
    names = feature_names(VIEW)
    values = online_values(client, list(range(args.entities)))
    x, y = training_data(values, names, args.entities)
    model = train(x, y)
    lookup = dy.FeatureLookup(project=PROJECT, features=[f"{VIEW}:{n}" for n in names])
    register(client, model, x, WITH, lookup)
    register(client, model, x, PLAIN, None)
    say(f"model trained on {len(x):,} rows x {x.shape[1]} columns ({y.mean():.1%} positive)")
    say(f"registered {WITH}@champion ({len(names)} features looked up) and {PLAIN}@champion")
    return Setup(home, client, names, values, model, redis_url, info)


# -- bodies, servers, checks --------------------------------------------------------------------


def make_bodies(setup: Setup, count: int, seed: int) -> dict[str, list[str]]:
    """``count`` requests of random cards and amounts, in each model's shape."""
    rng = random.Random(seed)
    entities = len(setup.values[setup.names[0]])
    looked_up, plain = [], []
    for _ in range(count):
        card = rng.randrange(entities)
        amount = round(rng.lognormvariate(3, 1), 2)
        looked_up.append(json.dumps({"inputs": {"card": card, "amount": amount}}))
        row = {n: setup.values[n][card] for n in setup.names} | {"amount": amount}
        plain.append(json.dumps({"inputs": row}))
    return {WITH: looked_up, PLAIN: plain}


def make_servers(setup: Setup, work: Path) -> list[Server]:
    port = free_port()
    env = {**os.environ, "DOCKYARD_HOME": str(setup.home), "PYTHONPATH": str(ROOT / "src")}
    exe = str(Path(sys.executable).with_name("dockyard"))
    runs = [("features-sqlite", WITH, {}), ("no-features", PLAIN, {})]
    if setup.redis_url:
        runs.append(("features-redis", WITH, {"DOCKYARD_ONLINE": setup.redis_url}))
    found = []
    for label, model, extra in runs:
        argv = [exe, "serve", f"models:/{model}@champion", "--port", str(port)]
        argv += ["--workers", "1", "--threads", "1"]
        routes = {model: (f"/v1/models/{model}/predict", "")}
        log = work / f"{label}.log"
        found.append(Server(label, argv, env | extra, port, "/readyz", routes, log))
    return found


def ask(server: Server, body: dict[str, Any]) -> Any:
    import httpx

    ((path, _),) = server.routes.values()
    try:
        return post(server.url + path, json.dumps(body))
    except httpx.HTTPStatusError as exc:
        raise SystemExit(
            f"{server.name}: HTTP {exc.response.status_code} for {json.dumps(body)[:200]}: "
            f"{exc.response.text[:2000]}"
        ) from None


def check_proba(server: Server, setup: Setup, row: dict[str, Any], got: Any) -> None:
    """The served probability must be the model's own on the same values."""
    import numpy as np
    import pandas as pd

    columns = [*setup.names, "amount"]
    x = pd.DataFrame(np.array([[row[c] for c in columns]], dtype=np.float64), columns=columns)
    wanted = float(setup.model.predict_proba(x)[0, 1])
    served = float(got["probabilities"][0][1])
    if abs(served - wanted) > 1e-9:
        raise SystemExit(f"{server.name}: served probability {served} != the model's {wanted}")


def check_features(server: Server, setup: Setup) -> str:
    counts = setup.values["amount_count_1h"]
    card = max(range(len(counts)), key=lambda i: counts[i] or 0)
    body = {"inputs": {"card": card, "amount": 42.0}, "return_features": True, "proba": True}
    for _ in range(3):  # a window may move between the two lookups: ask again
        got = ask(server, body)
        wanted = online_values(setup.client, [card])
        served = got.get("features") or {}
        wrong = [n for n in setup.names if n not in served or not same(served[n][0], wanted[n][0])]
        if not wrong:
            break
    else:
        detail = {n: (served.get(n), wanted[n]) for n in wrong[:5]}
        raise SystemExit(
            f"{server.name}: return_features differs from dy.features.online for card {card} "
            f"in {len(wrong)} of {len(setup.names)} features, e.g. {detail}"
        )
    check_proba(server, setup, {n: wanted[n][0] for n in setup.names} | {"amount": 42.0}, got)
    return f"card {card}: {len(setup.names)} features = dy.features.online, probability = model's"


def check_plain(server: Server, setup: Setup, body: str) -> str:
    payload = json.loads(body) | {"proba": True}
    check_proba(server, setup, payload["inputs"], ask(server, payload))
    return "probability = the model's on the body's 51 values"


# -- runs ---------------------------------------------------------------------------------------


def measure(
    server: Server, bodies: list[str], warm: list[str], args: argparse.Namespace, work: Path
) -> dict[str, float]:
    """Warm-up (not counted), 1 s idle, then the open loop on ``bodies``; the server's CPU
    time per request sent and its RSS after it."""
    ((path, _),) = server.routes.values()
    url = server.url + path

    def load(sent: list[str], seconds: float) -> dict[str, Any]:
        return finish(
            open_loop(url, sent[0], args, work, seconds=seconds, versions=False, bodies=sent)
        )

    if args.warmup > 0:
        load(warm, args.warmup)
    time.sleep(1)
    before = loadavg()
    assert server.process is not None
    cpu = server_cpu(server.process.pid)
    result = load(bodies, args.seconds)
    cpu_ms = (server_cpu(server.process.pid) - cpu) / result["sent"] * 1e3
    server.measure_rss()
    return latency_summary(result) | {
        "load_1m": before,
        "cpu_ms": cpu_ms,
        "rss_mib": server.rss_mib,
    }


def run_server(
    server: Server,
    setup: Setup,
    bodies: dict[str, list[str]],
    args: argparse.Namespace,
    work: Path,
    figures: dict[str, Any],
) -> dict[str, float]:
    model = next(iter(server.routes))
    warm = bodies[f"warm-{model}"]
    ready = server.start()
    try:
        if server.name not in figures["checks"]:
            checked = (
                check_features(server, setup)
                if model == WITH
                else check_plain(server, setup, warm[0])
            )
            figures["checks"][server.name] = checked
        got = measure(server, bodies[model], warm, args, work)
    finally:
        server.stop()
    return got | {"ready_s": ready}


# -- report -------------------------------------------------------------------------------------


def report(figures: dict[str, Any], args: argparse.Namespace, console: Any) -> list[Any]:
    from rich.table import Table

    runs: dict[str, list[dict[str, float]]] = figures["runs"]
    table = Table(
        title=f"open loop at {args.rate:g} requests/s for {args.seconds:g} s, 1 row per request, "
        f"latency from each request's due time; medians of {args.repeat}"
    )
    heads = ["server", "p50 ms", "p99 ms", "max ms", "failed", "answered/s"]
    heads += ["send lag p99 ms", "load 1m", "server CPU ms/req", "RSS MiB"]
    for h in heads:
        table.add_column(h, justify="left" if h == "server" else "right")
    for label, got in runs.items():
        table.add_row(
            label,
            fmt_ms(med([r["p50"] for r in got])),
            fmt_ms(med([r["p99"] for r in got])),
            fmt_ms(med([r["max"] for r in got])),
            "/".join(str(int(r["failed"])) for r in got),
            f"{med([r['answered_per_s'] for r in got]):,.0f}",
            f"{med([r['lag_p99'] for r in got]):.2f}",
            span([r["load_1m"] for r in got]),
            f"{med([r['cpu_ms'] for r in got]):.2f}",
            f"{med([r['rss_mib'] for r in got]):.0f}",
        )
    console.print(table)
    for name, text in figures["checks"].items():
        console.print(f"checked {name}: {text}")
    for name, states in figures["predlog"].items():
        console.print(f"prediction log of {name}: {states}")
    return verdicts(runs, args, console)


def verdicts(runs: dict[str, Any], args: argparse.Namespace, console: Any) -> list[Any]:
    base = runs.get("no-features")
    found = []
    for label, got in runs.items():
        if not label.startswith("features-"):
            continue
        p99 = med([r["p99"] for r in got])
        extra = ""
        if base:
            extra = f", no-features {fmt_ms(med([r['p99'] for r in base]))} ms"
        text = (
            f"p99 <= {TARGET_MS:g} ms at {args.rate:g}/s with {len(feature_names(VIEW))} "
            f"features looked up ({label}: {fmt_ms(p99)} ms{extra})"
        )
        found.append((text, p99 <= TARGET_MS))
    for text, ok in found:
        console.print(f"{'PASS' if ok else 'FAIL'} {text}", style="green" if ok else "red")
    return found


# -- main ---------------------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not counted")
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--bodies", type=int, default=10_000, help="prepared bodies, cycled")
    parser.add_argument("--timeout", type=float, default=10.0, help="a later answer is a failure")
    parser.add_argument("--redis", action="store_true", help="add a row on the Redis store")
    parser.add_argument("--redis-db", type=int, default=13, help="flushed before and after")
    parser.add_argument("--smoke", action="store_true", help="1 x 3 s, 2,000 cards, 50k events")
    parser.add_argument("--keep", action="store_true", help="keep the home and logs")
    args = parser.parse_args()
    if args.smoke:
        args.repeat, args.seconds, args.warmup = 1, 3.0, 1.0
        args.entities, args.events = 2_000, 50_000
    return args


def clean_environment(home: Path) -> None:
    """This process and the servers use the temporary home only."""
    for name in ("URL", "TOKEN", "DB", "BLOBS", "ONLINE"):
        os.environ.pop(f"DOCKYARD_{name}", None)
    os.environ["DOCKYARD_HOME"] = str(home)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for module in ("lightgbm", "uvicorn", "starlette", "aiohttp", "uvloop"):
        found[module] = metadata.version(module)
    return found


def run_all(
    setup: Setup, args: argparse.Namespace, work: Path, figures: dict[str, Any], say: Any
) -> None:
    bodies = make_bodies(setup, args.bodies, seed=1)
    warm = make_bodies(setup, max(1, int(args.rate * args.warmup)), seed=2)
    bodies |= {f"warm-{k}": v for k, v in warm.items()}
    for rep in range(args.repeat):
        order = make_servers(setup, work)
        if rep % 2:
            order.reverse()
        for server in order:
            say(f"repetition {rep + 1}: {server.name} (load {loadavg():.2f})")
            since = time.time()
            got = run_server(server, setup, bodies, args, work, figures)
            figures["runs"].setdefault(server.name, []).append(got)
            state = predlog_state(setup.client, since)
            figures["predlog"].setdefault(server.name, []).append(state)
            say(
                f"  p50 {got['p50']:.2f} ms, p99 {got['p99']:.2f} ms, max {fmt_ms(got['max'])} "
                f"ms, failed {got['failed']}, server CPU {got['cpu_ms']:.2f} ms/request, "
                f"load before {got['load_1m']:.2f}"
            )


def main() -> int:
    args = parse()
    from rich.console import Console

    console = Console(width=160)

    def say(text: str) -> None:
        console.print(text, style="dim")

    OUT.mkdir(parents=True, exist_ok=True)
    serving.OUT.mkdir(parents=True, exist_ok=True)  # the servers' working directory
    work = Path(tempfile.mkdtemp(prefix="run-", dir=OUT))
    home = work / "home"
    clean_environment(home)
    began = time.time()
    say(f"load average at the start: {Path('/proc/loadavg').read_text().strip()}")
    figures: dict[str, Any] = {"runs": {}, "checks": {}, "predlog": {}}
    found: list[Any] = []
    setup = None
    try:
        setup = prepare(home, args, say)
        figures["setup"] = setup.info
        run_all(setup, args, work, figures, say)
        found = report(figures, args, console)
    finally:
        if setup is not None:
            setup.client.close()
            if setup.redis_url and not args.keep:
                import redis

                redis.Redis.from_url(setup.redis_url).flushdb()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    path = OUT / f"results-{int(began)}.json"
    record = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(began)),
        "argv": sys.argv,
        "args": vars(args),
        "versions": versions(),
        "cpus": os.cpu_count(),
        "figures": figures,
        "verdicts": found,
    }
    path.write_text(json.dumps(record, indent=1, default=str))
    console.print(f"figures written to {path}")
    return 0 if found and all(ok for _, ok in found) else 1


if __name__ == "__main__":
    raise SystemExit(main())
