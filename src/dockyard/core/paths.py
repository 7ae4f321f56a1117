"""Paths that come from the network or a stored record, confined to the folder they belong in.

A stored record (a step's output, a model manifest, a run's artifact list) names files by a
relative POSIX path. Before such a path touches the local disk it must be relative, made of
plain names (no ``..``, ``.``, empty part, backslash, control character or NUL), without a
Windows drive, and, joined to its folder, still inside that folder once symbolic links are
followed. :func:`confined` does all of that; :func:`check_relative_path` is the part that
needs no disk, used where records are accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator

from dockyard.core.errors import InvalidInput

MAX_PATH = 1024
_SEGMENT = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}\Z")
_DRIVE = re.compile(r"^[A-Za-z]:")
_DIGEST = re.compile(r"^[0-9a-f]{64}\Z")
PATH_RULE = (
    "a relative path like 'plots/roc.png': no leading '/', drive, '..', '.', empty part, "
    "backslash or control character"
)


def path_problem(path: object) -> str | None:
    """What makes ``path`` unsafe to join to a folder, or None when it is a plain relative
    POSIX path."""
    if not isinstance(path, str) or not path:
        return "it is empty"
    if len(path) > MAX_PATH:
        return f"it is longer than {MAX_PATH} characters"
    if path.startswith("/"):
        return "it is absolute"
    if _DRIVE.match(path):
        return "it starts with a drive"
    for segment in path.split("/"):
        if not segment:
            return "it has an empty part"
        if segment in (".", ".."):
            return f"it has a {segment!r} part"
        if not _SEGMENT.match(segment):
            return "it holds a backslash, a control character or a part over 255 characters"
    return None


def check_relative_path(path: str, what: str = "path") -> str:
    """``path`` when it is a plain relative POSIX path; InvalidInput saying why otherwise."""
    problem = path_problem(path)
    if problem is not None:
        shown = path[:100] if isinstance(path, str) else path
        raise InvalidInput(f"{what} {shown!r} is not allowed ({problem}): use {PATH_RULE}")
    return path


def _pydantic_check(path: str) -> str:
    problem = path_problem(path)
    if problem is not None:
        raise ValueError(f"path {path[:100]!r} is not allowed ({problem}): use {PATH_RULE}")
    return path


RelativePath = Annotated[str, AfterValidator(_pydantic_check)]
"""A field holding a relative POSIX path (refused at validation otherwise)."""


def _digest_check(value: str) -> str:
    if not _DIGEST.match(value):
        raise ValueError("digest must be 64 lower-case hex characters (sha256)")
    return value


Sha256 = Annotated[str, AfterValidator(_digest_check)]
"""A field holding a sha256 digest, 64 lower-case hex characters (never empty)."""


def confined(root: Path, relative: str, what: str = "path") -> Path:
    """``root / relative`` after checking that ``relative`` is a plain relative path and that
    the result, symbolic links followed, stays inside ``root``; InvalidInput otherwise.

    The returned path is the unresolved join (what callers write to); nothing is created.
    """
    check_relative_path(relative, what)
    target = Path(root) / relative
    base = Path(root).resolve()
    if not target.resolve().is_relative_to(base):
        raise InvalidInput(
            f"{what} {relative[:100]!r} leads outside {root} through a symbolic link; refusing it"
        )
    return target


def confined_name(root: Path, name: str, what: str = "name") -> Path:
    """``root / name`` where ``name`` must be a single plain part (a digest, a key), never
    a path of several parts."""
    check_relative_path(name, what)
    if "/" in name:
        raise InvalidInput(f"{what} {name[:100]!r} is not allowed: one name, no '/'")
    return confined(root, name, what)
