"""``dockyard data ...``: ingest with progress, inspect, rules, diff, download, lineage."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cli_support import run_cli


def write_csv(path: Path, start: int, n: int, amount_shift: float = 0.0) -> Path:
    ids = range(start, start + n)
    pd.DataFrame(
        {"id": list(ids), "amount": [i * 1.5 + amount_shift for i in ids], "card": ["c"] * n}
    ).to_csv(path, index=False)
    return path


def test_ingest_show_versions_diff_download(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_csv(tmp_path / "a.csv", 0, 100)
    code, out, _ = run_cli(
        capsys, "data", "ingest", str(first), "-d", "tx", "-p", "fraud", "--json"
    )
    assert code == 0
    v1 = json.loads(out)
    assert (v1["number"], v1["rows"], v1["created"]) == (1, 100, True)
    code, out, _ = run_cli(capsys, "data", "ingest", str(first), "-d", "tx", "-p", "fraud")
    assert code == 0 and "same content as version 1" in out
    second = write_csv(tmp_path / "b.csv", 100, 50)
    code, out, _ = run_cli(
        capsys, "data", "ingest", str(second), "-d", "tx", "-p", "fraud", "--append", "-m", "more"
    )
    assert code == 0 and "fraud/tx@2" in out
    code, out, _ = run_cli(capsys, "data", "versions", "tx", "-p", "fraud")
    assert code == 0 and "more" in out and "150" in out
    code, out, _ = run_cli(capsys, "data", "show", "tx@1", "-p", "fraud")
    assert code == 0 and "amount" in out and "double" in out
    code, out, _ = run_cli(capsys, "data", "diff", "tx", "1", "2", "-p", "fraud", "-k", "id")
    assert code == 0 and "50 added" in out
    code, out, _ = run_cli(capsys, "data", "list", "-p", "fraud", "--json")
    assert [(d["name"], d["versions"], d["latest"]) for d in json.loads(out)] == [("tx", 2, 2)]
    target = tmp_path / "out.csv"
    code, out, _ = run_cli(capsys, "data", "download", "tx@2", "-p", "fraud", "--dest", str(target))
    assert code == 0
    assert sorted(pd.read_csv(target).id) == list(range(150))
    folder = tmp_path / "parts"
    code, out, _ = run_cli(capsys, "data", "download", "tx", "-p", "fraud", "--dest", str(folder))
    assert code == 0 and len(list(folder.glob("*.parquet"))) == 2
    code, out, _ = run_cli(capsys, "data", "lineage", "tx", "-p", "fraud")
    assert code == 0 and "no run" in out


def test_rules_and_validate_exit_codes(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"check": "range", "column": "amount", "min": 0}]))
    assert run_cli(capsys, "data", "rules", "tx", "-p", "fraud", "--set", str(rules))[0] == 0
    good = write_csv(tmp_path / "good.csv", 0, 10)
    assert run_cli(capsys, "data", "ingest", str(good), "-d", "tx", "-p", "fraud")[0] == 0
    bad = write_csv(tmp_path / "bad.csv", 0, 10, amount_shift=-100)
    code, out, _ = run_cli(capsys, "data", "ingest", str(bad), "-d", "tx", "-p", "fraud")
    assert code == 0 and "validation failed" in out
    code, out, _ = run_cli(capsys, "data", "validate", "tx@2", "-p", "fraud")
    assert code == 1 and "FAIL" in out
    assert run_cli(capsys, "data", "validate", "tx", "-p", "fraud")[0] == 0  # latest is v1
    code, _, err = run_cli(capsys, "data", "show", "tx@9", "-p", "fraud")
    assert code == 3 and "no version" in err
    broken = tmp_path / "broken.csv"
    broken.write_text("a,b\n1,2\n3\n")
    code, _, err = run_cli(capsys, "data", "ingest", str(broken), "-d", "tx", "-p", "fraud")
    assert code == 2 and err
    code, _, err = run_cli(
        capsys, "data", "ingest", "x.csv", "-d", "tx", "-p", "fraud", "-t", "bad"
    )
    assert code == 2
