"""What a run records about itself without being asked: code, environment, output, load.

Each part can be switched off through :class:`Capture`.
"""

from __future__ import annotations

import functools
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path
from typing import Any, TextIO

_GIT_TIMEOUT = 10


@dataclass(frozen=True)
class Capture:
    """Switches for automatic capture; ``Capture.off()`` records nothing extra."""

    git: bool = True
    environment: bool = True
    output: bool = True
    system_metrics: bool = True
    system_interval: float = 10.0
    output_interval: float | None = 5.0
    """Seconds between uploads of the printed output so far while the run runs (only when
    it grew); None: only when the run ends."""

    @classmethod
    def off(cls) -> Capture:
        return cls(git=False, environment=False, output=False, system_metrics=False)


def _git_all(commands: dict[str, list[str]], cwd: Path) -> dict[str, str | None]:
    """Run several read-only git commands at once; each one's stdout, or None if it failed.

    Started together and then waited for, they cost about one git start instead of five.
    """
    started: dict[str, subprocess.Popen[str]] = {}
    for name, args in commands.items():
        try:
            started[name] = subprocess.Popen(
                ["git", *args],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError:
            continue
    deadline = time.monotonic() + _GIT_TIMEOUT
    results: dict[str, str | None] = dict.fromkeys(commands)
    for name, process in started.items():
        try:
            out, _ = process.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            continue
        results[name] = out if process.returncode == 0 else None
    return results


def git_state(cwd: Path) -> tuple[dict[str, str], str] | None:
    """Tags (commit, branch, remote, dirty) and the uncommitted diff, or None outside git."""
    out = _git_all(
        {
            "commit": ["rev-parse", "HEAD"],
            "branch": ["rev-parse", "--abbrev-ref", "HEAD"],
            "diff": ["diff", "HEAD", "--binary"],
            "untracked": ["ls-files", "--others", "--exclude-standard"],
            "remote": ["config", "--get", "remote.origin.url"],
        },
        cwd,
    )
    commit = out["commit"]
    if commit is None:
        return None
    diff = out["diff"] or ""
    untracked = out["untracked"] or ""
    tags = {
        "dockyard.git.commit": commit.strip(),
        "dockyard.git.branch": (out["branch"] or "").strip(),
        "dockyard.git.dirty": str(bool(diff.strip() or untracked.strip())).lower(),
    }
    remote = (out["remote"] or "").strip()
    if remote:
        tags["dockyard.git.remote"] = remote
    if untracked.strip():
        diff += "".join(f"# untracked: {line}\n" for line in untracked.splitlines())
    return {k: v for k, v in tags.items() if v}, diff


def _nvidia_smi(fields: str) -> list[list[str]]:
    """One row per GPU of the requested ``--query-gpu`` fields; none without nvidia-smi."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [[part.strip() for part in line.split(",")] for line in out.strip().splitlines()]


def _gpus() -> list[dict[str, str]]:
    return [
        dict(zip(("name", "memory_mib", "driver"), row, strict=False))
        for row in _nvidia_smi("name,memory.total,driver_version")
    ]


@functools.cache
def _machine() -> dict[str, Any]:
    """What stays put for the life of a process: interpreter, packages, hardware.

    Listing the installed packages takes ~0.1 s, so it is done once per process, not once
    per run (a package installed while the process runs shows from the next process on).
    """
    packages = sorted(
        {f"{d.metadata['Name']}=={d.version}" for d in distributions() if d.metadata["Name"]},
        key=str.lower,
    )
    return {
        "python": sys.version,
        "executable": sys.executable,
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "memory_bytes": _psutil().virtual_memory().total,
        "gpus": _gpus(),
        "packages": packages,
    }


def environment() -> tuple[dict[str, str], dict[str, Any]]:
    """Tags for search (python, host, entry point) and the full record (packages, hardware)."""
    machine = _machine()
    entry = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    record: dict[str, Any] = {
        **{k: v for k, v in machine.items() if k != "packages"},
        "gpus": [dict(gpu) for gpu in machine["gpus"]],
        "entry_point": entry,
        "command": list(sys.argv),
        "cwd": str(Path.cwd()),
        "packages": list(machine["packages"]),
    }
    tags = {
        "dockyard.python": platform.python_version(),
        "dockyard.host": record["host"],
        "dockyard.entry_point": entry[:6000],
        "dockyard.command": " ".join(sys.argv)[:6000] or entry,
        "dockyard.gpus": str(len(record["gpus"])),
    }
    return tags, record


def environment_files(record: dict[str, Any]) -> dict[str, bytes]:
    """Artifacts describing the environment: the whole record and a requirements file."""
    return {
        "dockyard/environment.json": json.dumps(record, indent=2).encode(),
        "dockyard/requirements.txt": ("\n".join(record["packages"]) + "\n").encode(),
    }


class Tee(io.TextIOBase):
    """Writes go to the original stream and to a copy kept for the run."""

    def __init__(self, original: TextIO, copy: TextIO, lock: threading.Lock) -> None:
        self._original = original
        self._copy = copy
        self._lock = lock

    def write(self, text: str) -> int:
        self._original.write(text)
        with self._lock:
            self._copy.write(text)
        return len(text)

    def flush(self) -> None:
        self._original.flush()

    def isatty(self) -> bool:
        return self._original.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._original.encoding


class OutputCapture:
    """Copies ``sys.stdout`` and ``sys.stderr`` (Python-level writes) into one log."""

    def __init__(self) -> None:
        self._log = io.StringIO()
        self._lock = threading.Lock()
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = Tee(sys.stdout, self._log, self._lock)
        sys.stderr = Tee(sys.stderr, self._log, self._lock)

    def size(self) -> int:
        """Characters written so far."""
        with self._lock:
            return self._log.tell()

    def snapshot(self) -> bytes:
        """What was written so far (the streams stay captured)."""
        with self._lock:
            return self._log.getvalue().encode()

    def stop(self) -> bytes:
        """Restore the streams and return what was written."""
        if isinstance(sys.stdout, Tee):
            sys.stdout = self._saved[0]
        if isinstance(sys.stderr, Tee):
            sys.stderr = self._saved[1]
        return self.snapshot()


_SHIPPED_AT_FULL_SPEED = 1 << 20
"""Characters of output shipped every interval; a longer log waits as many intervals as it
has MiB (each upload stores the whole log as a new blob until ``gc``: ~1 MiB per interval)."""


class OutputShipper:
    """Uploads the output captured so far every ``interval`` seconds, when it grew, from a
    thread of its own, so that a running run's log can be read while it runs (a log over
    1 MiB less often: every ``interval`` times its size in MiB).

    A failed upload never reaches the user's program: it is warned about once, and the
    next interval tries again.
    """

    def __init__(
        self,
        output: OutputCapture,
        upload: Callable[[bytes], object],
        interval: float,
        what: str = "the run",
    ) -> None:
        self._output = output
        self._upload = upload
        self._interval = interval
        self._what = what
        self._shipped = 0  # characters delivered by the last successful upload
        self._shipped_at = -float("inf")  # and when (time.monotonic())
        self._warned = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dockyard-output", daemon=True)
        self._thread.start()

    def shipped(self, characters: int) -> bool:
        """Whether the output up to ``characters`` was delivered already."""
        return self._shipped >= characters

    def ship(self) -> None:
        """Upload the output so far if it grew since the last upload."""
        size = self._output.size()
        wait = self._interval * (size / _SHIPPED_AT_FULL_SPEED - 0.5)  # wakes come 1 apart
        if size <= self._shipped or time.monotonic() - self._shipped_at < wait:
            return
        try:
            self._upload(self._output.snapshot())
        except Exception as exc:  # never break the program over its log
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"the printed output of {self._what} could not be uploaded while it runs "
                    f"({type(exc).__name__}: {exc}); trying again every {self._interval:g} s "
                    "and when it ends",
                    RuntimeWarning,
                    stacklevel=1,
                )
            return
        self._shipped, self._shipped_at = size, time.monotonic()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.ship()

    def stop(self) -> None:
        """Stop the thread (an upload under way finishes first)."""
        self._stop.set()
        self._thread.join()


class SystemSampler:
    """Logs CPU, memory and process RSS (and GPU use when nvidia-smi is there) every interval."""

    def __init__(self, log: Any, interval: float) -> None:
        self._log = log
        self._interval = interval
        self._stop = threading.Event()
        self._process: Any = None
        self._thread = threading.Thread(target=self._loop, name="dockyard-system", daemon=True)
        self._thread.start()

    def _prime(self) -> Any:
        """psutil, loaded on the sampler's thread: importing it costs the caller ~10 ms."""
        psutil = _psutil()
        if self._process is None:
            self._process = psutil.Process()
            psutil.cpu_percent(None)  # prime: the first reading is against this moment
        return psutil

    def sample(self) -> dict[str, float]:
        psutil = self._prime()
        values = {
            "system/cpu_percent": float(psutil.cpu_percent(None)),
            "system/memory_percent": float(psutil.virtual_memory().percent),
            "system/process_rss_mib": self._process.memory_info().rss / 2**20,
        }
        for i, gpu in enumerate(_gpu_load()):
            values[f"system/gpu{i}_percent"] = gpu
        return values

    def _loop(self) -> None:
        self._prime()
        step = 0
        while not self._stop.wait(self._interval):
            self._log(self.sample(), step=step)
            step += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _psutil() -> Any:
    import psutil  # only the capture threads need it

    return psutil


def _gpu_load() -> list[float]:
    loads = []
    for row in _nvidia_smi("utilization.gpu"):
        try:
            loads.append(float(row[0]))
        except (IndexError, ValueError):
            continue
    return loads
