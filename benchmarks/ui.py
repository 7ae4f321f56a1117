"""Web UI: the runs page on 100k runs, dockyard's UI beside MLflow's, in headless Chromium.

Run from the project root:

    .venv/bin/python benchmarks/ui.py [--repeat 3] [--runs 100000] [--timeout 900]
                                      [--budget 300] [--no-mlflow] [--smoke]

Seeds (or reuses) a dockyard home with ``--runs`` runs in the project ``scale``
(`ui/e2e/seed.py HOME --runs N`, idempotent) and an MLflow SQLite store with the same runs
(the seed of `tracking.py search`, `tracking_mlflow.seed`, fed with the e2e seed's
`scale_runs` and all runs in one experiment, renamed ``scale`` and marked as a model-training
experiment so that its page opens on the runs table). Both are kept in benchmarks/.data/ui/
for the next invocation. Then serves them with `dockyard --home HOME server --no-scheduler`
and `mlflow server --backend-store-uri sqlite:///...` (its default 4 workers, from
`.bench/mlflow`, created if missing) and drives headless Chromium (benchmarks/ui_timings.mjs,
playwright-core from ui/node_modules; after one untimed visit of each runs page, a new browser
context per measurement, 1440x900):

- first rows: navigation to the runs list until the first run row is drawn (from the
  navigation's start; an empty cache, so the UI's own code is downloaded too);
- sort: a click on the ``accuracy`` metric's column header until the table shows the sorted
  rows (MLflow hides metric columns by default: the column is ticked in "Columns" first,
  untimed);
- filter: Enter in the search box holding ``metrics.accuracy > 0.9`` until the rows are the
  filtered ones;
- scroll jump (dockyard): the table scrolled to ~1/2, 1/4 or 3/4 of all runs until the rows
  in view are filled; MLflow has no equivalent (it pages by 100 with "Load more");
- load more (MLflow): a click on "Load more" until the 101st run is drawn.

Interactions are timed in the page from the trusted input event to the animation frame that
shows the result, as ui/e2e/runs.e2e.ts does for dockyard. Medians of ``--repeat`` repetitions
(round-robin over the tools); a measurement is not repeated once its times add up to
``--budget`` seconds, and one that takes longer than ``--timeout`` counts as failed. Targets
(2 cores): first rows <= 1 s, each interaction <= 300 ms. Exits 1 if dockyard misses one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from cold_start import ensure_mlflow
from tracking_env import DOCKYARD, MLFLOW_VENV, PEER_ENV, PYTHON, ROOT, code_version, free_port

DATA = ROOT / "benchmarks" / ".data" / "ui"
SEED = ROOT / "ui" / "e2e" / "seed.py"
TIMINGS = ROOT / "benchmarks" / "ui_timings.mjs"
PLAYWRIGHT = ROOT / "ui" / "node_modules" / "playwright-core"
PROJECT = "scale"  # what ui/e2e/seed.py calls the project of many runs
METRIC = "accuracy"
FILTER = "metrics.accuracy > 0.9"
console = Console(width=160)

MLFLOW_SEED = """
import dataclasses, json, sys, time
from pathlib import Path

root = Path(sys.argv[1])
sys.path[:0] = [str(root / "benchmarks"), str(root / "ui" / "e2e")]
import mlflow
import tracking_mlflow
from mlflow import MlflowClient
from seed import scale_runs

db, runs, name = sys.argv[2], int(sys.argv[3]), sys.argv[4]
# tracking.py search's seed, with the UI e2e seed's runs, all in its first experiment
tracking_mlflow.seed_runs = lambda n: (
    dataclasses.replace(run, experiment=0) for run in scale_runs(n)
)
began = time.perf_counter()
experiment = tracking_mlflow.seed(db, runs)[0]
client = MlflowClient(f"sqlite:///{db}")
client.rename_experiment(experiment, name)
client.set_experiment_tag(experiment, "mlflow.experimentKind", "custom_model_development")
seconds = time.perf_counter() - began
print(json.dumps({"experiment": experiment, "seconds": seconds, "mlflow": mlflow.__version__}))
"""
"""Run by MLflow's python: seeds ``db`` with ``runs`` runs of ui/e2e/seed.py's scale_runs
through tracking_mlflow.seed (the SQLite seed of `tracking.py search`)."""


@dataclass(frozen=True)
class Measurement:
    key: str
    label: str
    target_ms: float | None  # dockyard's target; None where dockyard has no such action
    tools: tuple[str, ...]


MEASUREMENTS = [
    Measurement("first_rows", "first rows", 1000, ("dockyard", "mlflow")),
    Measurement("sort", f"sort ({METRIC} header)", 300, ("dockyard", "mlflow")),
    Measurement("filter", "filter (accuracy > 0.9)", 300, ("dockyard", "mlflow")),
    Measurement("scroll_jump", "scroll jump (dockyard)", 300, ("dockyard",)),
    Measurement("load_more", "load more (MLflow)", None, ("mlflow",)),
]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "MLFLOW_"))}
    env.pop("VIRTUAL_ENV", None)
    return env | PEER_ENV


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- seeding (kept for the next invocation) -------------------------------------------------


def seed_dockyard(runs: int) -> tuple[Path, float]:
    """The dockyard home with ``runs`` runs in ``scale`` (ui/e2e/seed.py, idempotent)."""
    home = DATA / f"dockyard-{runs}"
    began = time.perf_counter()
    done = subprocess.run(
        [str(PYTHON), str(SEED), str(home), "--runs", str(runs)],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ui/e2e/seed.py failed ({done.returncode}):\n{done.stdout[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if summary["scale"]["runs"] != runs:
        raise SystemExit(f"ui/e2e/seed.py made {summary['scale']['runs']} runs, not {runs}")
    return home, time.perf_counter() - began


def seed_mlflow(runs: int) -> tuple[Path, dict[str, Any]]:
    """MLflow's SQLite store with the same ``runs`` runs in one experiment; reused while its
    marker names the same run count."""
    db = DATA / f"mlflow-{runs}.db"
    marker = db.with_suffix(".json")
    if db.exists() and marker.exists():
        info: dict[str, Any] = json.loads(marker.read_text())
        if info.get("runs") == runs:
            return db, info | {"reused": True}
    fresh = db.with_suffix(".seeding.db")
    fresh.unlink(missing_ok=True)
    argv = [str(MLFLOW_VENV / "python"), "-c", MLFLOW_SEED, str(ROOT), str(fresh), str(runs)]
    done = subprocess.run(
        [*argv, PROJECT], capture_output=True, text=True, env=clean_env(), cwd=DATA, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"seeding MLflow failed ({done.returncode}):\n{done.stderr[-3000:]}")
    info = json.loads(done.stdout.strip().splitlines()[-1]) | {"runs": runs}
    fresh.replace(db)
    marker.write_text(json.dumps(info))
    return db, info | {"reused": False}


# --- servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(argv: list[str], health: str, log_path: Path) -> Iterator[None]:
    """Run ``argv`` in a process group of its own until the block ends (the group is
    terminated: `mlflow server` runs its workers as children); enter once ``health`` is 200."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=DATA,
            env=clean_env(),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{argv[0]} did not start:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with contextlib.suppress(ProcessLookupError):  # workers that outlived their parent
            os.killpg(proc.pid, signal.SIGKILL)


@contextlib.contextmanager
def dockyard_server(home: Path, work: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(DOCKYARD), "--home", str(home), "server", "--port", str(port), "--no-scheduler"]
    with serving(argv, f"{url}/api/v1/health", work / "dockyard-server.log"):
        yield url


@contextlib.contextmanager
def mlflow_server(db: Path, work: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(MLFLOW_VENV / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--backend-store-uri", f"sqlite:///{db}"]
    argv += ["--default-artifact-root", str(work / "mlflow-artifacts")]
    with serving(argv, f"{url}/health", work / "mlflow-server.log"):
        yield url


# --- the browser --------------------------------------------------------------------------------


def drive(tools: list[dict[str, str]], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Run ui_timings.mjs over ``tools`` (its progress on stderr); return its JSON result."""
    node = shutil.which("node")
    if node is None or not PLAYWRIGHT.exists():
        raise SystemExit("needs `node` (>= 20) and ui/node_modules (run `cd ui && npm ci`)")
    config = {
        "tools": tools,
        "repeat": args.repeat,
        "timeoutMs": args.timeout * 1000,
        "budgetMs": args.budget * 1000,
        "shots": str(work / "screenshots"),
        "filter": FILTER,
        "metric": METRIC,
        "chromium": args.chromium,
    }
    path = work / "timings-config.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [node, str(TIMINGS), str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"ui_timings.mjs failed ({done.returncode}):\n{done.stdout[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the report -------------------------------------------------------------------------------


def median(times: list[float | None]) -> float:
    """The median, a timed-out measurement counting as infinitely slow; nan if none."""
    if not times:
        return math.nan
    return float(statistics.median([math.inf if t is None else t for t in times]))


def fmt(ms: float, timeout_s: float) -> str:
    if math.isnan(ms):
        return ""
    return f"> {timeout_s:.0f} s" if math.isinf(ms) else f"{ms:,.0f}"


def runs_of(times: list[float | None]) -> str:
    return " ".join("timeout" if t is None else f"{t:.0f}" for t in times)


def report(result: dict[str, Any], args: argparse.Namespace, mlflow_version: str | None) -> bool:
    tools: dict[str, dict[str, Any]] = result["tools"]
    table = Table(
        title=f"runs page, {args.runs:,} runs: medians of up to {args.repeat} repetition(s); "
        "request ms: the median time of the runs/search request the action made"
    )
    columns = ["measurement", "dockyard ms", "runs (ms)", "request ms", "MLflow ms", "runs (ms) "]
    columns += ["request ms ", "MLflow / dockyard"]
    for column in columns:
        table.add_column(column, justify="left" if column == "measurement" else "right")
    table.add_column("target (dockyard)")
    table.add_column("result")
    ok = True
    for m in MEASUREMENTS:
        cells: list[str] = [m.label]
        medians: dict[str, float] = {}
        for tool in ("dockyard", "mlflow"):
            row = tools.get(tool, {}).get(m.key)
            if tool not in m.tools or tool not in tools or row is None:
                cells += ["n/a" if tool not in m.tools else "", "", ""]
                continue
            medians[tool] = median(row["times"])
            requests = [r for r in row["requests"] if r is not None]
            cells += [
                fmt(medians[tool], args.timeout),
                runs_of(row["times"]),
                f"{statistics.median(requests):,.0f}" if requests else "",
            ]
        both = len(medians) == 2 and all(math.isfinite(v) for v in medians.values())
        cells.append(f"{medians['mlflow'] / medians['dockyard']:,.1f}x" if both else "")
        if m.target_ms is not None and "dockyard" in medians:
            passed = medians["dockyard"] <= m.target_ms
            ok &= passed
            cells += [f"<= {m.target_ms:,.0f} ms", "[green]PASS[/]" if passed else "[red]FAIL[/]"]
        table.add_row(*cells)
    console.print(table)
    sizes = result.get("pageSize", {})
    for tool, name in (("dockyard", "dockyard"), ("mlflow", f"MLflow {mlflow_version}")):
        if tool not in tools:
            continue
        first = tools[tool].get("first_rows", {}).get("notes", [{}])[0]
        filtered = tools[tool].get("filter", {}).get("notes", [{}])[0]
        console.print(
            f"{name}: runs/search page sizes on opening {sizes.get(tool)}; shows "
            f"{first.get('total', '?')!r} on opening, first row {first.get('first', '?')}; after "
            f"the filter, first row {filtered.get('first', '?')}",
            highlight=False,
        )
    for tool, name in (("dockyard", "dockyard"), ("mlflow", "MLflow")):
        loads = [x for row in tools.get(tool, {}).values() for x in row.get("load", [])]
        if loads:
            console.print(
                f"1-min load average after each {name} measurement: min {min(loads):.1f}, "
                f"median {statistics.median(loads):.1f}, max {max(loads):.1f}",
                highlight=False,
            )
    console.print(f"Chromium {result.get('chromium')}", highlight=False)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measurement")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the project/experiment")
    parser.add_argument("--timeout", type=float, default=900, help="s before a measurement fails")
    parser.add_argument("--budget", type=float, default=300, help="s of repetitions per cell")
    parser.add_argument("--no-mlflow", action="store_true", help="dockyard's UI only")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--smoke", action="store_true", help="CI size: 2,000 runs, 1 repetition")
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.repeat, args.timeout = 2_000, 1, 120
    if args.repeat < 1 or args.runs < 1:
        parser.error("--repeat and --runs must be at least 1")
    DATA.mkdir(parents=True, exist_ok=True)
    work = DATA / "last"  # logs and screenshots of the last invocation
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    console.print(f"ui: {code_version()}; load average {load()}", style="dim")

    home, seconds = seed_dockyard(args.runs)
    console.print(f"  dockyard home {home}: ready in {seconds:.0f} s", style="dim")
    mlflow_info: dict[str, Any] | None = None
    if not args.no_mlflow:
        ensure_mlflow()
        db, mlflow_info = seed_mlflow(args.runs)
        how = "reused" if mlflow_info["reused"] else f"seeded in {mlflow_info['seconds']:.0f} s"
        console.print(f"  MLflow {mlflow_info['mlflow']} store {db}: {how}", style="dim")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(dockyard_server(home, work))
        tools = [{"tool": "dockyard", "url": f"{url}/runs?project={PROJECT}"}]
        if mlflow_info is not None:
            ml_url = stack.enter_context(mlflow_server(db, work))
            experiment = mlflow_info["experiment"]
            tools.append({"tool": "mlflow", "url": f"{ml_url}/#/experiments/{experiment}/runs"})
        console.print(f"  servers up; load average {load()}", style="dim")
        result = drive(tools, args, work)
    ok = report(result, args, mlflow_info["mlflow"] if mlflow_info else None)
    console.print(
        f"ui: {code_version()} at the end; load average {load()}; screenshots and server logs "
        f"in {work.relative_to(ROOT)}",
        style="dim",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
