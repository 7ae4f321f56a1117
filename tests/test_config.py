"""Settings precedence: explicit arguments > environment > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.core.config import load_settings
from dockyard.core.errors import InvalidInput


def test_defaults_live_under_the_home(tmp_path: Path) -> None:
    settings = load_settings(environ={"DOCKYARD_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    assert settings.db == f"sqlite:///{tmp_path / 'dockyard.db'}"
    assert settings.blobs == str(tmp_path / "blobs")
    assert settings.url is None and not settings.is_remote
    assert settings.sources == {
        "home": "env DOCKYARD_HOME",
        "db": "default",
        "blobs": "default",
    }


def test_home_defaults_to_dot_dockyard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings(environ={}).home == tmp_path / ".dockyard"


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'db = "sqlite:///from-file.db"\nblobs = "/from/file"\nurl = "http://file:1"\n'
    )
    env = {
        "DOCKYARD_HOME": str(tmp_path),
        "DOCKYARD_BLOBS": "/from/env",
        "DOCKYARD_URL": "http://env:2",
    }
    settings = load_settings(url="http://arg:3", environ=env)
    assert settings.url == "http://arg:3"
    assert settings.blobs == "/from/env"
    assert settings.db == "sqlite:///from-file.db"
    assert settings.sources["url"] == "argument"
    assert settings.sources["blobs"] == "env DOCKYARD_BLOBS"
    assert settings.sources["db"].startswith("file ")


def test_empty_environment_values_are_ignored(tmp_path: Path) -> None:
    settings = load_settings(environ={"DOCKYARD_HOME": str(tmp_path), "DOCKYARD_URL": ""})
    assert settings.url is None


def test_token_is_masked_when_shown(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, token="supersecrettoken")
    shown = dict((name, value) for name, value, _ in settings.describe())
    assert "supersecrettoken" not in str(shown)
    assert shown["token"] == "supe…"


def test_bad_config_files_say_what_to_fix(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("db = [unclosed")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_settings(home=tmp_path)
    config.write_text('dbb = "typo"')
    with pytest.raises(InvalidInput, match="unknown keys"):
        load_settings(home=tmp_path)
    config.write_text("db = 5")
    with pytest.raises(InvalidInput, match="must be strings"):
        load_settings(home=tmp_path)
