"""``dockyard pipelines ...``: run with params, runs, show, resume after a failure, cancel."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from cli_support import run_cli


def test_run_show_resume(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flag = tmp_path / "broken"
    flow = tmp_path / "cliflow.py"
    flow.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            import dockyard as dy

            @dy.step
            def base(n: int) -> int:
                return n * 10

            @dy.step
            def check(v: int, label: str) -> str:
                if Path({str(flag)!r}).exists():
                    raise ValueError("not today")
                return f"{{label}}={{v}}"

            @dy.pipeline
            def flow(n: int = 1, label: str = "x"):
                check(base(n), label)
            """
        )
    )
    target = f"{flow}:flow"
    code, out, err = run_cli(
        capsys, "pipelines", "run", target, "--set", "n=4", "--set", "label=total",
        "-e", "inprocess", "-p", "cli", "--json",
    )  # fmt: skip
    assert code == 0, err
    first = json.loads(out)
    assert first["status"] == "succeeded" and first["params"] == {"n": 4, "label": "total"}
    assert [s["status"] for s in first["steps"]] == ["succeeded", "succeeded"]
    code, out, _ = run_cli(capsys, "pipelines", "run", target, "--set", "n=4",
                           "--set", "label=total", "-e", "inprocess", "-p", "cli")  # fmt: skip
    assert code == 0 and "succeeded" in out and "2 of 2 steps cached" in out
    flag.write_text("1")
    code, out, err = run_cli(capsys, "pipelines", "run", target, "--set", "n=5", "-e", "inprocess",
                             "-p", "cli", "--json")  # fmt: skip
    assert code == 1
    failed = json.loads(out)
    assert failed["status"] == "failed" and "not today" in failed["error"]
    code, out, _ = run_cli(capsys, "pipelines", "show", failed["id"])
    assert code == 0 and "failed" in out and "ValueError: not today" in out
    code, out, _ = run_cli(capsys, "pipelines", "runs", "-p", "cli")
    assert code == 0 and failed["id"] in out and first["id"] in out
    flag.unlink()
    code, out, err = run_cli(capsys, "pipelines", "resume", failed["id"], "--json")
    assert code == 0, err
    resumed = json.loads(out)
    assert [s["status"] for s in resumed["steps"]] == ["cached", "succeeded"]
    assert resumed["resumed_from"] == failed["id"]
    code, _, err = run_cli(capsys, "pipelines", "cancel", resumed["id"])
    assert code == 4 and "not running" in err


def test_bad_input(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "pipelines", "run", "no_such_module_xyz:flow")
    assert code == 2 and "cannot import 'no_such_module_xyz'" in err
    code, _, err = run_cli(capsys, "pipelines", "run", "json:dumps")
    assert code == 2 and "is not a @dy.pipeline function" in err
    code, _, err = run_cli(capsys, "pipelines", "run", "json:dumps", "--set", "novalue")
    assert code == 2 and "KEY=VALUE" in err
    code, _, err = run_cli(capsys, "pipelines", "show", "0" * 32)
    assert code == 3 and "no pipeline run" in err
