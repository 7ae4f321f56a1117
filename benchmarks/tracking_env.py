"""What benchmarks/tracking.py runs on: servers, throwaway PostgreSQL databases, the MLflow
subprocess, a bulk seed of dockyard's tables, a log of the SQL a call executes, and the
writer processes of the concurrency mode (``python benchmarks/tracking_env.py writer ...``
runs one)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Connection, Engine

from dockyard.core.config import load_settings
from dockyard.services import Services
from dockyard.store.tables import (
    ExperimentRow,
    MetricSeriesRow,
    ProjectRow,
    RunRow,
)
from dockyard.tracking.runs import as_number
from tracking_data import (
    EXPERIMENTS,
    STEPS_PER_RUN,
    SeedRun,
    report,
    seed_runs,
    start_together,
    wait_for_go,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
DOCKYARD = ROOT / ".venv" / "bin" / "dockyard"
PYTHON = ROOT / ".venv" / "bin" / "python"
MLFLOW_VENV = ROOT / ".bench" / "mlflow" / "bin"
PEER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONNOUSERSITE": "1"}


def code_version() -> str:
    """The dockyard code measured: its commit, and whether the working tree has changes."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    changes = " + uncommitted changes in src/" if dirty.stdout.strip() else ""
    return f"dockyard at commit {head.stdout.strip() or '?'}{changes}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def process_serving(argv: list[str], health: str, log_path: Path, cwd: Path) -> Iterator[None]:
    """Run ``argv`` until the block ends; enter once GET ``health`` answers 200."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "MLFLOW_"))}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, env=env | PEER_ENV
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{argv[0]} did not start:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def dockyard_server(home: Path, db: str | None = None) -> Iterator[str]:
    """`dockyard [--db URL] server` over ``home`` in a subprocess; yields its URL."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(DOCKYARD), "--home", str(home), *(["--db", db] if db else [])]
    argv += ["server", "--port", str(port)]
    with process_serving(argv, f"{url}/api/v1/health", home.parent / f"{home.name}.log", home):
        yield url


@contextlib.contextmanager
def mlflow_server(work: Path) -> Iterator[str]:
    """`mlflow server` on a new SQLite file in ``work`` (its default workers); yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(MLFLOW_VENV / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--backend-store-uri", f"sqlite:///{work / 'mlflow-server.db'}"]
    argv += ["--default-artifact-root", str(work / "mlflow-artifacts")]
    with process_serving(argv, f"{url}/health", work / "mlflow-server.log", work):
        yield url


def run_mlflow(mode: str, args: list[str], work: Path) -> dict[str, Any]:
    """Run tracking_mlflow.py in MLflow's venv (cwd ``work``); return its JSON result."""
    argv = [str(MLFLOW_VENV / "python"), str(BENCH / "tracking_mlflow.py"), mode, *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "MLFLOW_"))}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=work, env=env | PEER_ENV)
    if done.returncode != 0:
        raise RuntimeError(f"MLflow {mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def postgres_database(admin_url: str, tag: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for the block (dropped after); yields its URL."""
    name = f"bench_{tag}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_ok(admin_url: str) -> str | None:
    """None if PostgreSQL answers at ``admin_url``, else why not."""
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {admin_url} unreachable: {str(exc).strip()}"
    return None


# --- seeding --------------------------------------------------------------------------------


def _ms(millis: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def _run_id(run: SeedRun, rng: random.Random) -> str:
    """A time-ordered 32-hex id like dockyard's own (48-bit ms, then random bits)."""
    return f"{(run.start_ms << 80) | rng.getrandbits(80):032x}"


def seed_tracking(
    home: Path,
    db: str | None,
    runs: int,
    chunk: int = 5000,
    *,
    project: str = "bench",
    experiments: list[str] | None = None,
    make_runs: Callable[[int], Iterable[SeedRun]] = seed_runs,
) -> float:
    """Create the schema (Services.open), then insert ``runs`` runs of ``make_runs`` (default
    tracking_data's) in a new ``project`` straight into the tables; ``experiments`` names the
    experiments a run's index points into (default e0..e9). ANALYZE on PostgreSQL as
    autovacuum would. Returns the seconds taken."""
    began = time.perf_counter()
    services = Services.open(load_settings(home=home, db=db))
    try:
        now = dt.datetime.now(dt.UTC)
        project_row = {"id": "0" * 31 + "1", "name": project, "description": ""}
        project_row |= {"created_by": "seed", "created_at": now, "updated_at": now}
        names = experiments or [f"e{i}" for i in range(EXPERIMENTS)]
        experiment_rows = [
            {"id": f"{i + 1:032x}", "project_id": project_row["id"], "name": name}
            | {"description": "", "created_by": "seed", "created_at": now, "deleted_at": None}
            for i, name in enumerate(names)
        ]
        rng = random.Random(5)
        with services.db.write_connection() as conn:
            conn.execute(insert(ProjectRow.__table__), [project_row])
            conn.execute(insert(ExperimentRow.__table__), experiment_rows)
            series_id = conn.scalar(select(func.coalesce(func.max(MetricSeriesRow.id), 0))) or 0
            runs_rows: list[dict[str, Any]] = []
            rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _COLUMNS}
            for run in make_runs(runs):
                rid = _run_id(run, rng)
                start, end = _ms(run.start_ms), _ms(run.end_ms)
                runs_rows.append(
                    {"id": rid, "project_id": project_row["id"], "parent_id": None}
                    | {"experiment_id": experiment_rows[run.experiment]["id"], "name": run.name}
                    | {"status": run.status, "user": run.user, "note": "", "start_time": start}
                    | {"end_time": end, "heartbeat_at": end, "deleted_at": None}
                )
                rows["run_params"] += [(rid, k, v, as_number(v)) for k, v in run.params]
                rows["run_tags"] += [(rid, key, value) for key, value in run.tags]
                for key, last, low, high in run.metrics:
                    series_id += 1
                    points, count, last_ts = run.history.get(key), STEPS_PER_RUN, run.end_ms
                    if points:
                        gap = max(1, (run.end_ms - run.start_ms) // len(points))
                        rows["metric_points"] += [
                            (series_id, i, run.start_ms + (i + 1) * gap, value)
                            for i, value in enumerate(points)
                        ]
                        last, low, high = points[-1], min(points), max(points)
                        count, last_ts = len(points), run.start_ms + len(points) * gap
                    rows["metric_series"].append(
                        (series_id, rid, key, count, count - 1, last_ts, last, low, high)
                    )
                if len(runs_rows) >= chunk:
                    _flush(conn, runs_rows, rows)
            _flush(conn, runs_rows, rows)
        if services.db.dialect == "postgresql":
            with services.db.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql(  # the ids given above are past the sequence's
                    "SELECT setval(pg_get_serial_sequence('metric_series', 'id'), "
                    "(SELECT max(id) FROM metric_series))"
                )
                conn.exec_driver_sql("ANALYZE")
    finally:
        services.close()
    return time.perf_counter() - began


_COLUMNS = {
    "run_params": ("run_id", "key", "value", "value_num"),
    "run_tags": ("run_id", "key", "value"),
    "metric_series": (
        "id", "run_id", "key", "count", "last_step", "last_ts", "last_value", "min_value",
        "max_value",
    ),
    "metric_points": ("series_id", "step", "ts", "value"),
}  # fmt: skip
"""The tables seeded with plain tuples through the driver: SQLAlchemy's per-row parameter
handling took twice the time of SQLite's own executemany."""


def _flush(
    conn: Connection, runs: list[dict[str, Any]], rows: dict[str, list[tuple[Any, ...]]]
) -> None:
    if runs:
        conn.execute(insert(RunRow.__table__), runs)  # timestamps through their column type
        runs.clear()
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    for table, batch in rows.items():
        if batch:
            columns = _COLUMNS[table]
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join([mark] * len(columns))
            conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", batch)
            batch.clear()


# --- what SQL a call runs -------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float


@dataclass
class SqlLog:
    """Every statement any engine executes while :meth:`capture` is active, with its time."""

    statements: list[Statement] = field(default_factory=list)
    _on: bool = False

    def __post_init__(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, conn: Connection, _cursor: Any, *_: Any) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Connection, _c: Any, sql: str, params: Any, *_: Any) -> None:
        if self._on:
            seconds = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
            self.statements.append(Statement(sql, params, seconds))

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[Statement]]:
        self.statements, self._on = [], True
        try:
            yield self.statements
        finally:
            self._on = False


def explain(engine: Engine, statement: Statement) -> list[str]:
    """The plan of ``statement``: EXPLAIN QUERY PLAN (SQLite), EXPLAIN ANALYZE (PostgreSQL)."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement.sql, statement.params).all()
    if postgres:
        return [str(row[0]) for row in rows]
    return [f"{row[0]:>3} {row[1]:>3} {row[3]}" for row in rows]


# --- concurrency: writers on one embedded home ----------------------------------------------


def dockyard_writers(
    home: Path, project: str, procs: int, steps: int, metrics: int, work: Path, timeout: float
) -> tuple[float, list[dict[str, Any]]]:
    """``procs`` writer processes on the embedded home ``home`` (DOCKYARD_HOME), started
    together; returns :func:`tracking_data.start_together`'s go time and outcomes."""
    argv = [str(PYTHON), str(BENCH / "tracking_env.py"), "writer", "--project", project]
    argv += ["--steps", str(steps), "--metrics", str(metrics)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    env["DOCKYARD_HOME"] = str(home)
    return start_together([argv] * procs, env=env, cwd=work, timeout=timeout)


def writer(project: str, steps: int, metrics: int) -> None:
    """One writer: a run in ``project`` on $DOCKYARD_HOME with ``metrics`` metrics logged at
    each of ``steps`` steps, the way a user would; reports its run, points logged (calls
    that returned), wall-clock times and the exception that stopped it, if any."""
    import dockyard as dy

    keys = [f"m{i}" for i in range(metrics)]
    rnd = random.Random(os.getpid()).random
    result: dict[str, Any] = {"run_id": None, "logged": 0, "error": None}
    result["began"] = wait_for_go()
    try:
        with dy.start_run(project, capture=dy.Capture.off()) as run:
            result["run_id"] = run.id
            result["started"] = time.time()
            for step in range(steps):
                run.log_metrics({k: rnd() for k in keys}, step=step)
                result["logged"] += metrics
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:1000]
    result["ended"] = time.time()
    report(result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one writer of tracking.py concurrency")
    parser.add_argument("role", choices=("writer",))
    parser.add_argument("--project", required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--metrics", type=int, default=10)
    args = parser.parse_args()
    writer(args.project, args.steps, args.metrics)
