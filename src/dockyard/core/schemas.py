"""Schema building blocks shared by every capability: names, text, integers, pages, cursors.

Every value that reaches the database passes one of these types: names follow one rule
(:data:`NAME_RULE`, enforced by :func:`check_name` wherever a name is made), text refuses NUL
characters (PostgreSQL cannot store them), and integers stay within the 64-bit range the
columns hold, so bad input is a clear 422 instead of a database error.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dockyard.core.errors import InvalidInput

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
NO_NUL = r"^[^\x00]*$"


def check_name(value: str, what: str = "name") -> str:
    """Accept a name users will type in URLs and shells; say what is wrong otherwise.

    The one rule for every name dockyard makes (projects, experiments, datasets, models,
    aliases, schedules): request models use :data:`Name`, and services that make a name
    from other input (ingest, register) call this."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        shown = value[:80] if isinstance(value, str) else value
        raise ValueError(f"{shown!r} is not a valid {what}: use {NAME_RULE}")
    return value


def valid_name(value: str, what: str = "name") -> str:
    """:func:`check_name` for service code: the error is :class:`InvalidInput`."""
    try:
        return check_name(value, what)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def check_text(value: str) -> str:
    """Refuse NUL characters, which no database column can hold."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters (\\x00)")
    return value


Name = Annotated[str, AfterValidator(check_name), Field(description=NAME_RULE)]
Text = Annotated[str, Field(pattern=NO_NUL)]
"""Any text that is stored: everything but NUL characters."""
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
"""An integer a 64-bit database column holds."""
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A non-negative 64-bit integer: sizes, offsets, steps, positions."""
Seconds = Annotated[int, Field(ge=0, le=10 * 365 * 86_400)]
"""A duration in whole seconds, up to ten years (a timestamp plus it stays a date)."""
Limit = Annotated[int, Field(ge=1, le=1000)]

_FIRST_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LAST_TIME = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)


def check_utc_time(value: dt.datetime) -> dt.datetime:
    """A time in UTC (one without a zone is taken as UTC), from 1970 to the end of 9999, so
    arithmetic on it (an hour before, the hour it falls in) stays in range."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError:
        value = _FIRST_TIME - dt.timedelta(days=1)  # out of range: refused below
    if not _FIRST_TIME <= value <= _LAST_TIME:
        raise ValueError("a time must fall between 1970-01-01 and 9999-12-30 (UTC)")
    return value


UtcTime = Annotated[dt.datetime, AfterValidator(check_utc_time)]
"""A time given by a client: made UTC (naive means UTC) and kept within 1970-9999."""


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
