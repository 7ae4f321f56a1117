"""Schema building blocks shared by every capability: names, pages, cursors."""

from __future__ import annotations

import base64
import json
import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dockyard.core.errors import InvalidInput

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def check_name(value: str) -> str:
    """Accept a name users will type in URLs and shells; say what is wrong otherwise."""
    if not _NAME.match(value):
        raise ValueError(f"{value[:80]!r} is not a valid name: use {NAME_RULE}")
    return value


Name = Annotated[str, AfterValidator(check_name), Field(description=NAME_RULE)]
Limit = Annotated[int, Field(ge=1, le=1000)]


class Model(BaseModel):
    """Base of request and response models: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Page(Model, Generic[T]):
    """One page of a listing; pass ``next_cursor`` back to get the next one."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    """An opaque cursor for keyset pagination."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """The values behind a cursor made by :func:`encode_cursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidInput(f"cursor {cursor!r} is not valid; pass a next_cursor from a listing")
    return values


ID_PREFIX_RULE = "1-32 lowercase hex digits: the start of an id"
IdPrefix = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$", description=ID_PREFIX_RULE)
]


class IdPrefixQuery(Model):
    """Which ids start with ``prefix`` (as git resolves a short commit hash)."""

    prefix: IdPrefix
    limit: Annotated[int, Field(ge=1, le=100)] = Field(
        10, description="list at most this many matches"
    )


class IdMatch(Model):
    """An id that starts with the prefix asked for, with a few words to tell it apart."""

    id: str
    label: str


class IdMatches(Model):
    """The ids starting with a prefix, in id (creation) order; ``more`` when the limit cut
    the list."""

    items: list[IdMatch]
    more: bool = False
