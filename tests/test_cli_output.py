"""The CLI for people: whole ids and unique id prefixes, tables that fit 80 columns, one
flag per idea, ``--version``, empty listings that say so, plurals, unwrapped pipes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer

import dockyard as dy
from cli_support import run_cli
from dockyard._version import __version__
from dockyard.cli.main import app
from dockyard.server.runner import RunningServer
from id_support import common_start, unique_start


def _runs(home: Path, count: int, *, name: str = "run") -> list[str]:
    ids = []
    with dy.connect() as client:
        if "fraud" not in [p.name for p in client.projects.list()]:
            client.projects.create("fraud")
        for i in range(count):
            with dy.start_run("fraud", name=f"{name}{i}", client=client) as run:
                run.log_params({"lr": 0.1 * (i + 1), "features": "a,b,c,d,e,f,g,h,i,j,k" * 3})
                for key in ("auc", "average_precision", "holdout_rows", "precision_at_k"):
                    run.log_metric(key, 0.5 + i / 10)
            ids.append(run.id)
    return ids


def test_every_run_command_takes_a_unique_prefix(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _runs(home, 3)
    start = unique_start(ids[0], ids)
    code, out, err = run_cli(capsys, "runs", "show", start.upper())
    assert code == 0 and ids[0] in out, err
    assert run_cli(capsys, "runs", "delete", start)[0] == 0
    assert run_cli(capsys, "runs", "restore", start)[0] == 0  # deleted runs resolve too
    assert run_cli(capsys, "runs", "artifacts", start)[0] == 0
    code, out, _ = run_cli(capsys, "runs", "compare", start, unique_start(ids[1], ids), "--json")
    assert code == 0 and set(json.loads(out)) == {ids[0], ids[1]}

    common = common_start(ids)
    code, out, err = run_cli(capsys, "runs", "show", common)
    assert code == 2 and "more than one run id" in err and "Traceback" not in err
    assert all(run_id in err for run_id in ids) and "run run1 in fraud" in err  # candidates

    for unknown in ("f" * 8 if not ids[0].startswith("f") else "0" * 8, "xyz", "01a%"):
        code, _, err = run_cli(capsys, "runs", "show", unknown)
        assert code == 3 and "no run has an id starting with" in err
    code, _, err = run_cli(capsys, "models", "register", common, "--name", "m")
    assert code == 2 and "more than one run id" in err


def test_pipeline_commands_take_a_unique_prefix(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockyard.pipelines.schemas import PipelineRunCreate

    with dy.connect() as client:
        client.projects.create("fraud")
        run = client.runs.create("fraud", experiment="train", name="train")
        client.pipelines.create(PipelineRunCreate(run_id=run.id, project="fraud", pipeline="t"))
        client.runs.create("fraud", experiment="train", name="step", parent_id=run.id)
    # The step run shares the start of the id; only pipeline runs count here.
    code, out, err = run_cli(capsys, "pipelines", "show", run.id[:13])
    assert code == 0 and run.id in out, err
    code, out, err = run_cli(capsys, "pipelines", "cancel", run.id[:13])
    assert code == 0 and run.id in out, err
    code, _, err = run_cli(capsys, "pipelines", "show", "fff0")
    assert code == 3 and "no pipeline run has an id starting with" in err


@pytest.mark.parametrize("width", [80, 120])
def test_tables_show_whole_ids_and_fit_the_terminal(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    ids = _runs(home, 3, name="a-rather-long-run-name-")
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, _ = run_cli(capsys, "runs", "list")
    assert code == 0
    assert all(run_id in out for run_id in ids)
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    if width == 80:
        assert "not shown at 80 columns" in out  # metrics dropped before ids are cut

    code, out, _ = run_cli(capsys, "runs", "compare", *ids)
    assert code == 0 and max(len(line) for line in out.splitlines()) <= width
    header_lines = "\n".join(line for line in out.splitlines() if "┃" in line)
    headers = re.findall(r"\b[0-9a-f]{13,32}\b", header_lines)
    assert len(set(headers)) == 3 and all(any(i.startswith(h) for i in ids) for h in headers)
    for rows in ("params.lr", "metrics.auc", "name", "status"):
        assert rows in out  # transposed: one row per key
    short = headers[0]
    assert run_cli(capsys, "runs", "show", short)[0] == 0  # the short ids shown are accepted


def test_output_to_a_pipe_is_not_wrapped(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "a-name-" + "x" * 120
    ids = _runs(home, 1, name=name)
    monkeypatch.delenv("COLUMNS")
    code, out, _ = run_cli(capsys, "runs", "list")
    line = next(line for line in out.splitlines() if ids[0] in line)
    assert code == 0 and f"{name}0" in line and "not shown" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "--version")[:2] == (0, f"dockyard {__version__}\n")
    assert run_cli(capsys, "version")[:2] == (0, f"dockyard {__version__}\n")


def test_empty_listings_say_so(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "projects", "list")[1].startswith("no projects yet")
    assert run_cli(capsys, "runs", "list")[1] == "no runs yet\n"
    run_cli(capsys, "projects", "create", "fraud")
    cases = {
        ("runs", "list", "-p", "fraud"): "no runs in project fraud",
        ("runs", "search", "metrics.auc > 2", "-p", "fraud"): (
            "no runs match 'metrics.auc > 2' in project fraud"
        ),
        ("pipelines", "runs", "-p", "fraud"): "no pipeline runs match project fraud",
        ("pipelines", "runs"): "no pipeline runs yet",
        ("data", "list", "-p", "fraud"): "no datasets in project fraud",
        ("models", "list"): "no models registered yet",
        ("models", "list", "-p", "fraud"): "no models match project 'fraud'",
        ("pipelines", "schedule", "list", "-p", "fraud"): "no schedules in project fraud",
    }
    for argv, said in cases.items():
        code, out, err = run_cli(capsys, *argv)
        assert (code, out) == (0, said + "\n"), (argv, err)


def test_counts_are_pluralised(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with dy.connect() as client:
        client.projects.create("fraud")
        with dy.start_run("fraud", client=client) as run:
            run.log_metric("once", 1.0)
            run.log_metric("twice", 1.0, step=0)
            run.log_metric("twice", 2.0, step=1)
    out = run_cli(capsys, "runs", "show", run.id)[1]
    assert "1 point" in out and "1 points" not in out and "2 points" in out
    out = run_cli(capsys, "runs", "reap", "--timeout", "1h")[1]
    assert out == "marked 0 silent runs as failed\n"


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """Every leaf command under ``group`` (Typer's own click: duck-typed)."""
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append((" ".join((*path, name)), command))
    return found


def test_one_flag_for_one_idea_everywhere() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert len(commands) > 40
    meaning: dict[str, set[str]] = {}  # short flag -> the long names it stands for
    for where, command in commands:
        for param in command.params:
            names = set(param.opts) | set(param.secondary_opts)
            if param.name == "project" or "--project" in names:
                assert param.param_type_name == "option", f"{where}: project is positional"
                assert set(param.opts) == {"--project", "-p"}, where
                assert param.envvar == "DOCKYARD_PROJECT", where
            if "--limit" in names:
                assert set(param.opts) == {"--limit", "-n"}, where
            if "--json" in names:
                assert param.is_flag, where
            if param.name in ("dest", "output"):
                assert set(param.opts) == {"--dest", "-o"} or param.opts == ["--dest"], where
            shorts = [o for o in param.opts if re.fullmatch(r"-[A-Za-z]", o)]
            longs = [o for o in param.opts if o.startswith("--")]
            for short in shorts:
                meaning.setdefault(short, set()).update(longs)
    assert {k: v for k, v in meaning.items() if len(v) > 1} == {}, "a letter with two meanings"


def test_project_comes_from_the_environment(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_cli(capsys, "projects", "create", "fraud")
    monkeypatch.setenv("DOCKYARD_PROJECT", "fraud")
    assert run_cli(capsys, "data", "list")[1] == "no datasets in project fraud\n"
    assert run_cli(capsys, "runs", "list")[1] == "no runs in project fraud\n"
    assert run_cli(capsys, "data", "list", "-p", "other")[0] == 3  # the option wins


def test_runs_list_shows_the_columns_asked_for(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _runs(home, 2)
    code, out, _ = run_cli(capsys, "runs", "list", "-c", "params.lr", "-c", "metrics.auc")
    header = next(line for line in out.splitlines() if "params.lr" in line)
    assert code == 0 and "metrics.auc" in header and "holdout_rows" not in out
    assert "0.2" in next(line for line in out.splitlines() if ids[1] in line)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run_cli(capsys, "runs", "search", "metrics.auc > 0", "-c", "metrics.auc")
    assert code == 0 and "metrics.auc" in out and all(i in out for i in ids)
    for bad in ("auc", "metrics.", "code.x"):
        code, _, err = run_cli(capsys, "runs", "list", "-c", bad)
        assert code == 2 and "params.NAME, metrics.NAME or tags.NAME" in err


def test_listings_say_when_the_limit_cut_them(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b", "c"):
        run_cli(capsys, "projects", "create", name)
    code, out, _ = run_cli(capsys, "projects", "list", "-n", "2")
    assert code == 0 and "raise --limit" in out and " c " not in out
    assert "raise --limit" not in run_cli(capsys, "projects", "list", "-n", "3")[1]
    assert len(json.loads(run_cli(capsys, "projects", "list", "--json")[1])) == 3


def test_prefixes_resolve_through_a_server(
    home: Path,
    server: RunningServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    with dy.connect(url=server.url) as client:
        client.projects.create("fraud")
        ids = [client.runs.create("fraud", name=f"r{i}").id for i in range(2)]
    url = ("--url", server.url)
    code, out, err = run_cli(capsys, *url, "runs", "show", unique_start(ids[1], ids))
    assert code == 0 and ids[1] in out, err
    code, _, err = run_cli(capsys, *url, "runs", "delete", common_start(ids))
    assert code == 2 and all(i in err for i in ids)
    code, out, _ = run_cli(capsys, *url, "runs", "list", "-p", "fraud")
    assert code == 0 and all(i in out for i in ids)
