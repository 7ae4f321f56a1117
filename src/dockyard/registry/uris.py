"""Model URIs: ``models:/name/3``, ``models:/name@alias``, ``models:/name/latest`` (or just
``models:/name``) and ``runs:/<run id>/<path>``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.core.errors import InvalidInput

_MODELS = re.compile(
    r"^models:/(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,63})"
    r"(?:@(?P<alias>[A-Za-z][A-Za-z0-9_-]{0,63})|/(?P<version>v?\d{1,9}|latest))?/?$"
)
_RUNS = re.compile(r"^runs:/(?P<run_id>[A-Za-z0-9]{1,64})/(?P<path>[^\x00]+)\Z")
FORMS = (
    "models:/<name>/<version>, models:/<name>@<alias>, models:/<name>/latest "
    "or runs:/<run id>/<path>"
)


@dataclass(frozen=True)
class RegistryRef:
    """A registered model version: ``ref`` is a number, ``latest`` or ``@alias``."""

    name: str
    ref: str

    def __str__(self) -> str:
        return f"models:/{self.name}{self.ref if self.ref.startswith('@') else '/' + self.ref}"


@dataclass(frozen=True)
class RunRef:
    """A logged model in a run's artifacts."""

    run_id: str
    path: str

    def __str__(self) -> str:
        return f"runs:/{self.run_id}/{self.path}"


def parse_model_uri(uri: str) -> RegistryRef | RunRef:
    """Parse a model URI; a malformed one gets an error listing the accepted forms."""
    text = uri.strip()
    match = _MODELS.match(text)
    if match:
        if match.group("alias"):
            return RegistryRef(match.group("name"), "@" + match.group("alias"))
        version = (match.group("version") or "latest").removeprefix("v")
        return RegistryRef(match.group("name"), version)
    match = _RUNS.match(text)
    if match:
        path = match.group("path").strip("/")
        if path and ".." not in path.split("/"):
            return RunRef(match.group("run_id"), path)
    raise InvalidInput(f"{uri[:200]!r} is not a model URI: use {FORMS}")
