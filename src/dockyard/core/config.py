"""Settings: explicit arguments > environment > config file > defaults, each with its source.

The config file is ``$DOCKYARD_HOME/config.toml`` with keys ``db``, ``blobs``, ``url``,
``token``, ``user_tokens``, ``online`` and ``secrets_key_file`` (``home`` itself cannot come
from the file that lives inside it). ``online`` is the online feature store: a file path
(SQLite, the default ``$DOCKYARD_HOME/online.sqlite``) or ``redis://host:port/db``.
``token`` is the credential a client sends, and a server's admin token; ``user_tokens`` are the
further tokens a server accepts, each for a named user (see :mod:`dockyard.core.tokens`).
``secrets_key`` (base64) or ``secrets_key_file`` is the key project secrets are encrypted
with (see :mod:`dockyard.access.cipher`); the key itself never comes from the config file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.core.errors import InvalidInput
from dockyard.core.tokens import describe_grants

ENV_VARS = {
    "home": "DOCKYARD_HOME",
    "db": "DOCKYARD_DB",
    "blobs": "DOCKYARD_BLOBS",
    "url": "DOCKYARD_URL",
    "token": "DOCKYARD_TOKEN",
    "user_tokens": "DOCKYARD_USER_TOKENS",
    "online": "DOCKYARD_ONLINE",
    "secrets_key": "DOCKYARD_SECRETS_KEY",
    "secrets_key_file": "DOCKYARD_SECRETS_KEY_FILE",
}
FILE_KEYS = ("db", "blobs", "url", "token", "user_tokens", "online", "secrets_key_file")
PRIVATE = frozenset({"secrets_key", "secrets_key_file"})
"""Settings a process keeps to itself: never passed on to the environment of work it starts
(a pipeline step, a model server's workers)."""
CONFIG_FILE = "config.toml"


@dataclass(frozen=True)
class Settings:
    """The effective settings, and where each one came from."""

    home: Path
    db: str
    blobs: str
    url: str | None = None
    token: str | None = None
    user_tokens: str | None = None
    online: str | None = None
    secrets_key: str | None = field(default=None, repr=False)
    secrets_key_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def online_store(self) -> str:
        """Where online feature values live: ``online``, else a SQLite file in the home."""
        return self.online or str(self.home / "online.sqlite")

    @property
    def is_remote(self) -> bool:
        """Whether the client should talk to a server instead of embedded services."""
        return bool(self.url)

    def describe(self) -> list[tuple[str, str | None, str]]:
        """(name, value, source) rows, with the token masked."""
        rows: list[tuple[str, str | None, str]] = []
        for name in ENV_VARS:
            value = getattr(self, name)
            shown = None if value is None else str(value)
            if name == "token" and shown:
                shown = shown[:4] + "…" if len(shown) > 8 else "…"
            if name == "secrets_key" and shown:
                shown = "(set)"
            if name == "user_tokens" and shown:
                shown = describe_grants(shown)
            rows.append((name, shown, self.sources.get(name, "default")))
        return rows


def _read_config_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise InvalidInput(
            f"config file {path} has unknown keys {unknown}; allowed keys are {list(FILE_KEYS)}"
        )
    bad = [key for key, value in data.items() if not isinstance(value, str)]
    if bad:
        raise InvalidInput(f"config file {path}: keys {bad} must be strings")
    return dict(data)


def load_settings(
    *,
    home: str | Path | None = None,
    db: str | None = None,
    blobs: str | None = None,
    url: str | None = None,
    token: str | None = None,
    user_tokens: str | None = None,
    online: str | None = None,
    secrets_key: str | None = None,
    secrets_key_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings from explicit arguments, the environment, the config file and defaults."""
    env = os.environ if environ is None else environ
    explicit = {
        "home": home,
        "db": db,
        "blobs": blobs,
        "url": url,
        "token": token,
        "user_tokens": user_tokens,
        "online": online,
        "secrets_key": secrets_key,
        "secrets_key_file": secrets_key_file,
    }
    values: dict[str, str] = {}
    sources: dict[str, str] = {}

    def take(name: str, value: object, source: str) -> None:
        if name not in values and value not in (None, ""):
            values[name] = str(value)
            sources[name] = source

    for name, value in explicit.items():
        take(name, value, "argument")
    for name, var in ENV_VARS.items():
        take(name, env.get(var), f"env {var}")
    home_path = Path(values.get("home", Path.home() / ".dockyard")).expanduser()
    config_path = home_path / CONFIG_FILE
    for name, value in _read_config_file(config_path).items():
        take(name, value, f"file {config_path}")
    take("db", f"sqlite:///{home_path / 'dockyard.db'}", "default")
    take("blobs", str(home_path / "blobs"), "default")
    sources.setdefault("home", "default")
    return Settings(
        home=home_path,
        db=values["db"],
        blobs=values["blobs"],
        url=values.get("url"),
        token=values.get("token"),
        user_tokens=values.get("user_tokens"),
        online=values.get("online"),
        secrets_key=values.get("secrets_key"),
        secrets_key_file=values.get("secrets_key_file"),
        sources=sources,
    )
