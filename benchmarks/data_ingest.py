"""Data ingestion: a large CSV into a version's Parquet files and read back, beside `dvc add`.

Run from the project root:

    .venv/bin/python benchmarks/data_ingest.py [--size-gib 5] [--smoke]

A transactions-like CSV (ints, floats, strings, timestamps, low-cardinality categories, a
mostly-empty text column) is generated once into benchmarks/.data/ and reused while its size
matches. Each step runs as a child process of its own, so its peak RSS is its own
(``os.wait4`` in a small launcher returns the child's ``ru_maxrss``, which covers the
child's own children; see ``measure``):

* dockyard: ``dockyard.data.ingest.to_parquet`` of the CSV into a scratch folder (streamed:
  types from the first 16 MiB, zstd Parquet files of about 256 MB);
* dockyard, the whole user path: ``dockyard data ingest`` into a fresh embedded home
  (convert, upload into the blob store, statistics with DuckDB, commit);
* read back, with ``dockyard.data.read``: a count with a filter and one column's mean
  (DuckDB over the Parquet files), then every row and column streamed with ``iter_batches``;
* DVC (the peer, in its own venv ``.bench/dvc``, created if missing): ``dvc add`` of a copy
  of the same CSV in a fresh ``git init`` + ``dvc init`` repository, default cache settings.

Target (issue 4): the 5 GiB CSV ingests with a peak RSS under 1 GiB. Exits 1 if it does not.
`--smoke` uses a 50 MiB file. Scratch folders are removed at the end; the CSV is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / ".data"
DVC_VENV = ROOT / ".bench" / "dvc"
MIB = 1 << 20
GIB = 1 << 30
RSS_TARGET = GIB
PEER_ENV = {"DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1", "PYTHONNOUSERSITE": "1"}

CATEGORIES = [
    "groceries", "restaurants", "fuel", "travel", "electronics", "clothing", "health",
    "entertainment", "utilities", "home", "sports", "books", "gifts", "other",
]  # fmt: skip
COUNTRIES = [
    "FR", "DE", "GB", "US", "ES", "IT", "NL", "BE", "PL", "SE",
    "PT", "IE", "AT", "CH", "DK", "NO", "FI", "CZ", "RO", "GR",
]  # fmt: skip
NOTES = ["refund requested", "chargeback", "disputed by customer", "manual review", "rule 7"]
CHUNK_ROWS = 500_000


# --- measuring a child command ----------------------------------------------------------


@dataclass
class Measured:
    """How a child command ran: wall seconds, CPU seconds (user + system, its waited-for
    descendants included), peak RSS (bytes) and its output."""

    argv: list[str]
    seconds: float
    cpu_seconds: float
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        """The last stdout line, parsed (the child modes of this script print one)."""
        result: dict[str, Any] = json.loads(self.stdout.strip().splitlines()[-1])
        return result


# A small launcher between this script and the measured command. On Linux a process's
# peak RSS starts from the high-water mark of the process that exec'd it, so a command
# spawned straight from this (large) script would report at least this script's peak. The
# launcher (python -S -I, ~10 MiB) spawns the command, waits for it and writes the
# command's own rusage to the file named by its first argument.
_LAUNCHER = """
import os, sys
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], dict(os.environ))
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> Measured:
    """Run ``argv`` to completion: its wall time, CPU time and peak RSS (the largest of it
    and of any descendant it waited for, from ``wait4``; floor: the launcher's ~10 MiB).
    Output goes to temporary files, so a chatty child cannot block on a full pipe."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as rusage,
    ):
        launcher = [sys.executable, "-S", "-I", "-c", _LAUNCHER, rusage.name, *argv]
        start = time.perf_counter()
        returncode = subprocess.run(
            launcher, stdout=out, stderr=err, cwd=cwd, env=env, check=False
        ).returncode
        seconds = time.perf_counter() - start
        maxrss_kib, cpu = rusage.read().split() or ["0", "0"]
        out.seek(0)
        err.seek(0)
        done = Measured(
            argv=list(argv),
            seconds=seconds,
            cpu_seconds=float(cpu),
            peak_rss=int(maxrss_kib) * 1024,  # kilobytes on Linux
            returncode=returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )
    if check and done.returncode != 0:
        raise SystemExit(
            f"{' '.join(done.argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done


# --- the CSV ----------------------------------------------------------------------------


def _chunk(index: int, rows: int, first_id: int) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(index)
    ids = np.arange(first_id, first_id + rows, dtype=np.int64)
    seconds = (1_704_067_200 + ids // 20 + rng.integers(0, 60, rows)).astype("int64")
    merchants = pa.array([f"merchant_{k:05d}" for k in range(50_000)])
    notes = pa.array(
        np.array(NOTES, dtype=object)[rng.integers(0, len(NOTES), rows)],
        mask=rng.random(rows) > 0.02,
    )
    currency = rng.choice(3, rows, p=[0.6, 0.3, 0.1])
    return pa.table(
        {
            "transaction_id": ids,
            "ts": pa.array(seconds, pa.timestamp("s")),
            "customer_id": rng.integers(1, 2_000_000, rows),
            "merchant": merchants.take(pa.array(rng.integers(0, 50_000, rows))),
            "category": pa.array(CATEGORIES).take(pa.array(rng.integers(0, len(CATEGORIES), rows))),
            "amount": np.round(rng.lognormal(3.5, 1.2, rows), 2),
            "currency": pa.array(["EUR", "USD", "GBP"]).take(pa.array(currency)),
            "country": pa.array(COUNTRIES).take(pa.array(rng.integers(0, len(COUNTRIES), rows))),
            "card_present": rng.random(rows) < 0.7,
            "is_fraud": (rng.random(rows) < 0.002).astype(np.int8),
            "note": notes,
        }
    )


def ensure_csv(size: int) -> Path:
    """benchmarks/.data/transactions-<MiB>MiB.csv of at least ``size`` bytes (made once)."""
    import pyarrow.csv as pcsv

    path = DATA / f"transactions-{size // MIB}MiB.csv"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".csv.partial")
    print(f"generating {path.relative_to(ROOT)} ({size / GIB:.2f} GiB, one-off)...", flush=True)
    began = time.perf_counter()
    with open(partial, "wb") as sink:
        index = 0
        rows = max(10_000, min(CHUNK_ROWS, size // 2_000))  # about 100 bytes a row
        while sink.tell() < size:
            table = _chunk(index, rows, index * rows)
            options = pcsv.WriteOptions(include_header=index == 0, quoting_style="needed")
            pcsv.write_csv(table, sink, options)
            index += 1
    partial.replace(path)
    print(f"  done in {time.perf_counter() - began:.0f} s", flush=True)
    return path


# --- the peer ---------------------------------------------------------------------------


def ensure_dvc() -> Path:
    """DVC in its own venv (`.bench/dvc`), created if it is not there yet."""
    dvc = DVC_VENV / "bin" / "dvc"
    if not dvc.exists():
        print(f"creating {DVC_VENV.relative_to(ROOT)} with dvc (one-off)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DVC_VENV)], check=True)
        subprocess.run([str(DVC_VENV / "bin" / "pip"), "install", "-q", "dvc"], check=True)
    return dvc


def peer_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "DVC_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{DVC_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env | PEER_ENV


def dvc_add(csv: Path, scratch: Path) -> tuple[Measured, int]:
    """`dvc add` of a copy of ``csv`` in a new git + DVC repository; (run, cache bytes)."""
    dvc = ensure_dvc()
    repo = scratch / "dvc-repo"
    repo.mkdir()
    env = peer_env()
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run([str(dvc), "init", "-q"], cwd=repo, check=True, env=env)
    shutil.copyfile(csv, repo / csv.name)
    run = measure([str(dvc), "add", "-q", csv.name], cwd=repo, env=env)
    cache = sum(p.stat().st_size for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file())
    return run, cache


# --- child modes ------------------------------------------------------------------------


def child_ingest(csv: str, workdir: str) -> dict[str, Any]:
    from dockyard.data.ingest import to_parquet

    calls = 0

    def progress(done: int, total: int | None) -> None:
        nonlocal calls
        calls += 1

    began = time.perf_counter()
    result = to_parquet(csv, Path(workdir), progress=progress)
    return {
        "seconds": time.perf_counter() - began,
        "rows": result.rows,
        "files": len(result.files),
        "bytes": result.bytes,
        "columns": [f"{c.name}:{c.type}" for c in result.columns],
        "progress_calls": calls,
    }


def child_query(workdir: str) -> dict[str, Any]:
    from dockyard.data.read import scan

    paths = sorted(Path(workdir).glob("part-*.parquet"))
    began = time.perf_counter()
    count = scan(paths, filter="amount > 100 AND category = 'travel'").aggregate("count(*)")
    matching = count.fetchall()[0][0]
    counted = time.perf_counter() - began
    began = time.perf_counter()
    mean = scan(paths, columns=["amount"]).aggregate("avg(amount)").fetchall()[0][0]
    averaged = time.perf_counter() - began
    return {"count": matching, "count_s": counted, "mean": mean, "mean_s": averaged}


def child_stream(workdir: str) -> dict[str, Any]:
    from dockyard.data.read import iter_batches

    paths = sorted(Path(workdir).glob("part-*.parquet"))
    rows = batches = 0
    for batch in iter_batches(paths):
        rows += batch.num_rows
        batches += 1
    return {"rows": rows, "batches": batches}


CHILDREN = {"child-ingest": child_ingest, "child-query": child_query, "child-stream": child_stream}


def dockyard_cli_ingest(csv: Path, scratch: Path) -> tuple[Measured, dict[str, Any]]:
    """The whole path a user takes: `dockyard data ingest` on a fresh embedded home
    (convert, upload into the blob store, statistics and commit)."""
    home = scratch / "home"
    exe = Path(sys.executable).with_name("dockyard")
    env = {**os.environ, "DOCKYARD_HOME": str(home)}
    env.pop("DOCKYARD_URL", None)
    argv = [str(exe), "data", "ingest", str(csv), "-d", "big", "-p", "bench", "--json"]
    run = measure(argv, cwd=ROOT, env=env)
    version: dict[str, Any] = json.loads(run.stdout)
    shutil.rmtree(home, ignore_errors=True)
    return run, version


def run_child(mode: str, *args: str) -> Measured:
    return measure([sys.executable, str(Path(__file__).resolve()), mode, *args], cwd=ROOT)


# --- report -----------------------------------------------------------------------------


def code_version() -> str:
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    changes = " + uncommitted changes in src/" if dirty.stdout.strip() else ""
    return f"dockyard at commit {head.stdout.strip() or '?'}{changes}"


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=5.0, help="size of the CSV (GiB)")
    parser.add_argument("--smoke", action="store_true", help="a 50 MiB CSV, for CI")
    parser.add_argument("--no-dvc", action="store_true", help="skip the DVC peer")
    args = parser.parse_args()
    size = 50 * MIB if args.smoke else int(args.size_gib * GIB)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    csv = ensure_csv(size)
    csv_bytes = csv.stat().st_size
    console.print(
        f"{code_version()}; {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}; CSV {csv.name}: {mb(csv_bytes)}"
    )
    DATA.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="data-ingest-", dir=DATA))
    try:
        workdir = scratch / "parquet"
        ingest = run_child("child-ingest", str(csv), str(workdir))
        ingested = ingest.json()
        query = run_child("child-query", str(workdir))
        queried = query.json()
        stream = run_child("child-stream", str(workdir))
        streamed = stream.json()
        if streamed["rows"] != ingested["rows"]:
            raise SystemExit(f"read back {streamed['rows']} rows, ingested {ingested['rows']}")
        cli_run, cli_version = dockyard_cli_ingest(csv, scratch)
        peer: tuple[Measured, int] | None = None
        if not args.no_dvc:
            shutil.rmtree(workdir)
            peer = dvc_add(csv, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    table = Table(title=f"{csv.name}: {mb(csv_bytes)}, {ingested['rows']:,} rows")
    for column in ("step", "seconds", "CPU s", "MB/s of CSV", "peak RSS", "output"):
        table.add_column(column, justify="left" if column == "step" else "right")

    def rss(run: Measured) -> str:
        return f"{run.peak_rss / MIB:,.0f} MiB"

    table.add_row(
        "dockyard to_parquet",
        f"{ingest.seconds:.1f}",
        f"{ingest.cpu_seconds:.1f}",
        f"{csv_bytes / 1e6 / ingest.seconds:,.0f}",
        rss(ingest),
        f"{mb(ingested['bytes'])} in {ingested['files']} Parquet file(s); "
        f"{ingested['seconds']:.1f} s in to_parquet",
    )
    table.add_row(
        "dockyard data ingest (CLI, embedded)",
        f"{cli_run.seconds:.1f}",
        f"{cli_run.cpu_seconds:.1f}",
        f"{csv_bytes / 1e6 / cli_run.seconds:,.0f}",
        rss(cli_run),
        f"version {cli_version['number']}: {cli_version['rows']:,} rows, "
        f"{len(cli_version['files'])} files, statistics of {len(cli_version['stats'])} columns",
    )
    if peer is not None:
        run, cache = peer
        table.add_row(
            "dvc add (peer)",
            f"{run.seconds:.1f}",
            f"{run.cpu_seconds:.1f}",
            f"{csv_bytes / 1e6 / run.seconds:,.0f}",
            rss(run),
            f"{mb(cache)} in .dvc/cache",
        )
    table.add_row(
        "read: count where amount > 100 and category = 'travel'",
        f"{queried['count_s']:.2f}",
        "",
        "",
        rss(query),
        f"{queried['count']:,} rows",
    )
    table.add_row(
        "read: avg(amount)", f"{queried['mean_s']:.2f}", "", "", "", f"{queried['mean']:.4f}"
    )
    table.add_row(
        "read: iter_batches, every row and column",
        f"{stream.seconds:.1f}",
        f"{stream.cpu_seconds:.1f}",
        f"{csv_bytes / 1e6 / stream.seconds:,.0f}",
        rss(stream),
        f"{streamed['batches']:,} batches",
    )
    console.print(table)
    console.print(
        "seconds of the two read queries are timed inside their child (DuckDB only); the "
        "other rows are whole child processes, interpreter start included; CPU s is user + "
        "system time of the child (the machine is shared: CPU s / seconds shows how much of "
        "it the step got)"
    )
    ok = ingest.peak_rss < RSS_TARGET and cli_run.peak_rss < RSS_TARGET
    verdict = "PASS" if ok else "FAIL"
    console.print(
        f"peak RSS: to_parquet {rss(ingest)}, `dockyard data ingest` {rss(cli_run)} "
        f"(target < 1 GiB): {verdict}"
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        print(json.dumps(CHILDREN[sys.argv[1]](*sys.argv[2:])))
    else:
        main()
