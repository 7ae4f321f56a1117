"""``dockyard models ...``: register, show, alias with gates, rollback, history, download, card,
traffic, freeze and unfreeze."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

import dockyard as dy
from cli_support import run_cli


def log_and_evaluate(auc: float) -> str:
    """A training run that logs a model, and an evaluation run of it logging ``auc``."""
    x = pd.DataFrame({"amount": np.arange(40.0), "reports": np.arange(40) % 4})
    y = (x.amount > 20).astype(int)
    with dy.start_run(project="fraud", capture=dy.Capture.off()) as run:
        dy.log_model(DecisionTreeClassifier(max_depth=2).fit(x, y), "model", input_example=x)
    return run.id


def test_register_alias_gates_rollback_history_card(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [log_and_evaluate(0.9) for _ in range(3)]
    for run_id in runs:
        code, out, _ = run_cli(capsys, "models", "register", run_id, "--name", "det", "--json")
        assert code == 0, out
    assert json.loads(out)["version"] == 3
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0 and "det" in out and "fraud" in out
    code, out, _ = run_cli(capsys, "models", "show", "det")
    assert code == 0 and "sklearn" in out and runs[2] in out
    code, out, _ = run_cli(capsys, "models", "show", "det/2")
    assert code == 0 and "models:/det/2" in out and "amount" in out
    for version in ("1", "2"):
        code, out, _ = run_cli(capsys, "models", "alias", "det", "champion", version)
        assert code == 0 and f"det@champion -> v{version}" in out
    code, out, _ = run_cli(
        capsys, "models", "policy", "det", "champion", "--gate", "auc>=0.95", "--not-worse"
    )
    assert code == 0 and "requires auc >= 0.95" in out
    code, out, _ = run_cli(capsys, "models", "check", "det", "champion", "3")
    assert code == 4 and "FAILED" in out and "no metric 'auc'" in out
    code, _, err = run_cli(capsys, "models", "alias", "det", "champion", "3")
    assert code == 4 and "does not pass the gates" in err
    code, out, _ = run_cli(
        capsys, "models", "alias", "det", "champion", "3", "--force", "-r", "urgent fix"
    )
    assert code == 0 and "-> v3" in out
    code, out, _ = run_cli(capsys, "models", "rollback", "det", "champion", "-r", "v3 broke")
    assert code == 0 and "det@champion -> v2" in out
    code, out, _ = run_cli(capsys, "models", "history", "det", "champion", "--json")
    moves = json.loads(out)
    assert [(m["action"], m["from_version"], m["to_version"]) for m in moves] == [
        ("rollback", 3, 2),
        ("override", 2, 3),
        ("set", 1, 2),
        ("set", None, 1),
    ]
    code, out, _ = run_cli(capsys, "models", "history", "det", "champion")
    assert code == 0 and "urgent fix" in out and "v3 broke" in out
    dest = tmp_path / "downloaded"
    code, out, _ = run_cli(capsys, "models", "download", "det@champion", "--dest", str(dest))
    assert code == 0 and (dest / "model.json").is_file()
    assert json.loads((dest / "model.json").read_text())["flavor"] == "sklearn"
    code, out, _ = run_cli(capsys, "models", "card", "det/2")
    assert code == 0 and out.startswith("# Model card: det v2") and "Signature" in out
    page = tmp_path / "card.html"
    code, out, _ = run_cli(capsys, "models", "card", "det@champion", "--html", "-o", str(page))
    assert code == 0 and page.read_text().startswith("<!doctype html>")
    code, out, _ = run_cli(capsys, "models", "policy", "det", "champion", "--clear")
    assert code == 0 and "no gates" in out


def test_bad_input_exit_codes(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = log_and_evaluate(0.9)
    code, _, err = run_cli(capsys, "models", "show", "missing")
    assert code == 3 and "no registered model 'missing'" in err
    code, _, err = run_cli(capsys, "models", "register", run_id, "--name", "det", "--path", "nope")
    assert code == 3 and "has no artifact folder 'nope'" in err
    run_cli(capsys, "models", "register", run_id, "--name", "det")
    code, _, err = run_cli(capsys, "models", "rollback", "det", "champion")
    assert code == 3 and "no alias 'champion'" in err
    code, _, err = run_cli(capsys, "models", "policy", "det", "champion", "--gate", "auc=0.9")
    assert code == 2 and "METRIC OP NUMBER" in err
    code, _, err = run_cli(capsys, "models", "alias", "det", "champion", "7")
    assert code == 3 and "no version 7" in err
    code, _, err = run_cli(capsys, "models", "show", "det/x")
    assert code == 2 and "not a model URI" in err


def test_run_ids_may_be_given_by_a_unique_start(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = log_and_evaluate(0.9)
    start = run_id[:20]  # the only run: any start is unique
    code, out, err = run_cli(capsys, "models", "register", start, "--name", "det", "--json")
    assert code == 0 and json.loads(out)["run_id"] == run_id, err
    dest = tmp_path / "from-run"
    code, out, err = run_cli(capsys, "models", "download", f"runs:/{start}/model", "-o", str(dest))
    assert code == 0 and (dest / "model.json").is_file(), err
    assert f"runs:/{run_id}/model" in out
    code, _, err = run_cli(
        capsys, "models", "download", "runs:/zz/model", "-o", str(tmp_path / "x")
    )
    assert code == 3 and "no run has an id starting with 'zz'" in err


def test_traffic_freeze_and_the_model_history(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = log_and_evaluate(0.9)
    for _ in range(2):
        run_cli(capsys, "models", "register", run_id, "--name", "det")
    for alias, version in (("champion", "1"), ("challenger", "2")):
        assert run_cli(capsys, "models", "alias", "det", alias, version)[0] == 0
    code, out, err = run_cli(
        capsys, "models", "traffic", "det", "champion=90", "challenger=10", "--sticky", "card",
        "-r", "canary",
    )  # fmt: skip
    assert code == 0 and "champion 90% · challenger 10% · sticky by card" in out, err
    code, out, _ = run_cli(capsys, "models", "traffic", "det", "--json")
    assert code == 0 and json.loads(out)["weights"] == {"champion": 90, "challenger": 10}
    code, _, err = run_cli(capsys, "models", "traffic", "det", "champion=90", "challenger=5")
    assert code == 2 and "add up to 95" in err
    code, _, err = run_cli(capsys, "models", "traffic", "det", "champion")
    assert code == 2 and "ALIAS=PERCENT" in err
    code, _, err = run_cli(capsys, "models", "traffic", "det", "nope=100")
    assert code == 3 and "no alias 'nope'" in err
    code, out, _ = run_cli(capsys, "models", "freeze", "det", "-r", "bad labels")
    assert code == 0 and "unfreeze det" in out
    code, out, _ = run_cli(capsys, "models", "show", "det")
    assert code == 0 and "FROZEN" in out and "bad labels" in out
    assert "traffic: champion 90% · challenger 10% · sticky by card (canary)" in out
    code, _, err = run_cli(capsys, "models", "alias", "det", "champion", "2")
    assert code == 4 and "is frozen" in err and "bad labels" in err
    assert "`dockyard models unfreeze det`" in err
    code, _, err = run_cli(capsys, "models", "traffic", "det", "--clear")
    assert code == 4 and "is frozen" in err
    code, _, err = run_cli(capsys, "models", "freeze", "det", "-r", "again")
    assert code == 4 and "already frozen" in err
    code, out, _ = run_cli(capsys, "models", "unfreeze", "det", "-r", "fixed")
    assert code == 0 and "unfroze det" in out
    code, _, err = run_cli(capsys, "models", "unfreeze", "det")
    assert code == 4 and "not frozen" in err
    code, out, _ = run_cli(capsys, "models", "traffic", "det", "--clear")
    assert code == 0 and "cleared" in out
    assert "FROZEN" not in run_cli(capsys, "models", "show", "det")[1]
    code, out, _ = run_cli(capsys, "models", "history", "det", "--json")
    events = [(e["alias"], e["action"]) for e in json.loads(out)]
    assert events == [
        ("", "traffic"),
        ("", "unfreeze"),
        ("", "freeze"),
        ("", "traffic"),
        ("challenger", "set"),
        ("champion", "set"),
    ]
    code, out, _ = run_cli(capsys, "models", "history", "det")
    assert code == 0 and "(model)" in out and "@champion" in out and "bad labels" in out
    assert "lifted the freeze of" in out and "cleared" in out
    code, out, _ = run_cli(capsys, "models", "history", "det", "champion", "--json")
    assert [m["action"] for m in json.loads(out)] == ["set"]
