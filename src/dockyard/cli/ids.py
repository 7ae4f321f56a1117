"""Ids on the command line: a unique prefix stands for the whole id, as in git."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from dockyard.core.errors import InvalidInput, NotFound
from dockyard.core.ids import is_id

if TYPE_CHECKING:
    from dockyard.client.client import Client
    from dockyard.core.schemas import IdMatches

_HEX = re.compile(r"^[0-9a-f]{1,32}\Z")
_SHOWN = 10  # candidates listed when a prefix is ambiguous


def resolve(kind: str, text: str, lookup: Callable[[str, int], IdMatches]) -> str:
    """The one id of a ``kind`` that starts with ``text``. Unknown: :class:`NotFound` (exit
    3); more than one: :class:`InvalidInput` (exit 2) listing the candidates."""
    prefix = text.strip().lower()
    if is_id(prefix):
        return prefix  # whole: the command's own lookup says if it exists
    if not _HEX.match(prefix):
        raise NotFound(f"no {kind} has an id starting with {text!r} (ids are hex digits)")
    found = lookup(prefix, _SHOWN)
    if not found.items:
        raise NotFound(f"no {kind} has an id starting with {prefix!r}")
    if len(found.items) == 1 and not found.more:
        return found.items[0].id
    lines = [f"  {m.id}  {m.label}" for m in found.items]
    if found.more:
        lines.append(f"  ... and more; only the first {_SHOWN} are listed")
    raise InvalidInput(
        f"{prefix!r} is the start of more than one {kind} id; give more characters:\n"
        + "\n".join(lines)
    )


def run_id(client: Client, text: str) -> str:
    """A run's whole id from its id or a unique prefix of it (deleted runs count)."""
    return resolve("run", text, lambda p, n: client.runs.resolve(p, limit=n))


def pipeline_run_id(client: Client, text: str) -> str:
    """A pipeline run's whole id from its id or a unique prefix of it."""
    return resolve("pipeline run", text, lambda p, n: client.pipelines.resolve(p, limit=n))


def short_ids(client: Client, ids: list[str], *, start: int = 13) -> dict[str, str]:
    """For each run id, its shortest prefix of at least ``start`` characters that no other
    run shares: what narrow tables show and every command accepts (as ``git`` abbreviates).
    The first 12 characters of an id are its creation millisecond, so runs rarely need more."""
    short = {}
    for whole in ids:
        length = start
        while length < len(whole) and len(client.runs.resolve(whole[:length], limit=2).items) > 1:
            length += 2
        short[whole] = whole[:length]
    return short
