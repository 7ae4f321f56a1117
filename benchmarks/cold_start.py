"""Cold start: `dockyard --help` and `import dockyard`, side by side with MLflow.

Run from the project root:

    .venv/bin/python benchmarks/cold_start.py [--repeat 15]

Each command runs in a fresh subprocess; after one warm-up run of each, the commands are run
round-robin ``--repeat`` times and the wall time of each run is recorded. Bytecode caches go to
benchmarks/.data/pycache (PYTHONPYCACHEPREFIX), written by the warm-up for both projects alike,
so nothing is written into src/ or the venvs and an inherited PYTHONDONTWRITEBYTECODE does not
make every run recompile. Targets (2 cores, 24 GiB): `dockyard --help` <= 0.3 s,
`python -c "import dockyard"` <= 0.2 s. The peer is MLflow in its own venv, `.bench/mlflow`
(created here if absent).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
MLFLOW_VENV = ROOT / ".bench" / "mlflow"


@dataclass
class Case:
    """One command to time, with an optional target (seconds) on its median."""

    name: str
    argv: list[str]
    target: float | None = None
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p90(self) -> float:
        if len(self.times) < 2:
            return self.times[0]
        return statistics.quantiles(self.times, n=10, method="inclusive")[8]


def ensure_mlflow() -> None:
    """Create the peer's venv (`.bench/mlflow`) with MLflow in it, if it is not there yet."""
    if (MLFLOW_VENV / "bin" / "mlflow").exists():
        return
    print(f"creating {MLFLOW_VENV} with mlflow (one-off)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
    subprocess.run([str(MLFLOW_VENV / "bin" / "pip"), "install", "-q", "mlflow"], check=True)


def run_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one run of ``argv``, output discarded; fails loudly if it fails."""
    start = time.perf_counter()
    done = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def cases() -> dict[str, Case]:
    py, mlpy = str(VENV / "bin" / "python"), str(MLFLOW_VENV / "bin" / "python")
    return {
        "dockyard --help": Case("dockyard --help", [str(VENV / "bin" / "dockyard"), "--help"], 0.3),
        "import dockyard": Case("import dockyard", [py, "-c", "import dockyard"], 0.2),
        "mlflow --help": Case("mlflow --help", [str(MLFLOW_VENV / "bin" / "mlflow"), "--help"]),
        "import mlflow": Case("import mlflow", [mlpy, "-c", "import mlflow"]),
        # The floor: starting the project's interpreter and doing nothing.
        "python -c pass": Case("python -c pass", [py, "-c", "pass"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per command")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    ensure_mlflow()
    # A clean environment: no dockyard settings, no user site, no inherited venv; bytecode
    # caches in one place outside the projects (see the module docstring).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKYARD_", "MLFLOW_"))}
    for var in ("VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE"):
        env.pop(var, None)
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONPYCACHEPREFIX"] = str(ROOT / "benchmarks" / ".data" / "pycache")

    console = Console(width=100)
    todo = cases()
    console.print(f"cold start: 1 warm-up + {args.repeat} timed runs of each command, round-robin")
    for case in todo.values():
        run_once(case.argv, env)
    for i in range(args.repeat):
        for case in todo.values():
            case.times.append(run_once(case.argv, env))
        console.print(f"  run {i + 1}/{args.repeat} done", style="dim")

    table = Table(title=f"cold start, wall time over {args.repeat} runs (s)")
    for column in ("command", "median", "p90", "min", "target", "result"):
        table.add_column(column, justify="left" if column == "command" else "right")
    failed = False
    for case in todo.values():
        verdict = ""
        if case.target is not None:
            ok = case.median <= case.target
            failed |= not ok
            verdict = "[green]PASS[/]" if ok else "[red]FAIL[/]"
        target = f"<= {case.target:.1f}" if case.target is not None else ""
        table.add_row(
            case.name,
            f"{case.median:.3f}",
            f"{case.p90:.3f}",
            f"{min(case.times):.3f}",
            target,
            verdict,
        )
    console.print(table)

    ratios = Table(title="peer / dockyard, medians")
    ratios.add_column("comparison")
    ratios.add_column("ratio", justify="right")
    for peer, ours in (("mlflow --help", "dockyard --help"), ("import mlflow", "import dockyard")):
        ratios.add_row(f"{peer} / {ours}", f"{todo[peer].median / todo[ours].median:.1f}x")
    console.print(ratios)
    console.print("overall: " + ("[red]FAIL[/]" if failed else "[green]PASS[/]"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
