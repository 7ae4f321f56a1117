"""Running the ``dockyard`` CLI in-process from tests."""

from __future__ import annotations

import io

import pytest

from dockyard.cli.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``dockyard *argv``; its exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """What the next command reads from stdin (not a terminal)."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
