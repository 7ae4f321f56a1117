"""Server credentials: the tokens a server accepts, each bound to a fixed principal.

The admin token (``--token`` / ``DOCKYARD_TOKEN``) is the principal ``admin`` with the admin
role. User tokens come as entries ``NAME=TOKEN`` (an editor of every project) or
``NAME:ROLE=TOKEN`` (ROLE one of viewer, editor, maintainer, owner, admin; ``read`` and
``write`` are viewer and editor), separated by whitespace, commas or new lines; ``#`` starts
a comment that runs to the end of its line. The role holds in every project: per-project
roles come from user accounts and their API tokens (``dockyard users``, ``dockyard tokens``).
Errors name the entry by its position and never repeat a token.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from dockyard.core.errors import InvalidInput
from dockyard.core.principal import ANONYMOUS, Role

ADMIN = "admin"
RESERVED_NAMES = frozenset({ADMIN, ANONYMOUS, "scheduler"})
MIN_TOKEN_LENGTH = 16
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\Z")
_SEPARATORS = re.compile(r"[\s,]+")
FORMAT = (
    "NAME=TOKEN or NAME:ROLE=TOKEN (ROLE viewer, editor, maintainer, owner or admin; NAME "
    "letters, digits, '_.@-'; "
    f"TOKEN at least {MIN_TOKEN_LENGTH} printable characters without spaces, commas or '#'), "
    "e.g. alice=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
)


@dataclass(frozen=True)
class TokenGrant:
    """A token and the principal it stands for (the token itself is never shown)."""

    name: str
    role: Role
    token: str = field(repr=False)

    @property
    def digest(self) -> str:
        return token_digest(self.token)


def token_digest(token: str) -> str:
    """What a server keeps to recognise a token: lookups by digest leak nothing by timing."""
    return hashlib.sha256(token.encode()).hexdigest()


def _entries(text: str) -> list[str]:
    lines = (line.partition("#")[0] for line in text.splitlines())
    return [entry for line in lines for entry in _SEPARATORS.split(line) if entry]


def parse_token_grants(text: str, source: str) -> list[TokenGrant]:
    """The user tokens in ``text`` (from ``source``, named in errors); InvalidInput says what
    is wrong with which entry, without the token."""
    grants: list[TokenGrant] = []
    by_digest: dict[str, str] = {}
    for number, entry in enumerate(_entries(text), start=1):
        where = f"entry {number} of {source}"
        who, sep, token = entry.partition("=")
        if not sep or not who:
            raise InvalidInput(f"{where} is not {FORMAT}")
        name, colon, role_text = who.partition(":")
        if not _NAME.match(name):
            raise InvalidInput(f"{where}: the name is not valid; use {FORMAT}")
        if name.lower() in RESERVED_NAMES:
            raise InvalidInput(
                f"{where}: {name!r} is reserved (the admin token is --token / DOCKYARD_TOKEN); "
                "choose another name"
            )
        try:
            role = Role.parse(role_text) if colon else Role.EDITOR
        except ValueError as exc:
            raise InvalidInput(f"{where} ({name}): {exc}") from None
        if len(token) < MIN_TOKEN_LENGTH or not (token.isascii() and token.isprintable()):
            raise InvalidInput(
                f"{where} ({name}): the token must be at least {MIN_TOKEN_LENGTH} printable "
                "ASCII characters"
            )
        grant = TokenGrant(name=name, role=role, token=token)
        if grant.digest in by_digest:
            raise InvalidInput(
                f"{where} ({name}) has the same token as {by_digest[grant.digest]!r}: each "
                "token must be different, or it could not say who is calling"
            )
        by_digest[grant.digest] = name
        grants.append(grant)
    return grants


def describe_grants(text: str) -> str:
    """The names and roles in ``text``, for showing settings (never the tokens)."""
    try:
        grants = parse_token_grants(text, "the user tokens")
    except InvalidInput:
        return "(invalid: `dockyard server` says why)"
    return ", ".join(f"{g.name} ({g.role})" for g in grants) or "(none)"
