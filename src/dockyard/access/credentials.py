"""Passwords and API tokens: what is stored is never what was given.

Passwords are hashed with argon2id (memory-hard; argon2-cffi's current parameters, rehashed
when those change). API tokens are 256 random bits, shown once, recognisable by their
``dy_`` prefix, and stored as their SHA-256 digest (a token is random, so a fast digest is
as safe as a slow one, and lookups by digest leak nothing by timing).
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dockyard.core.tokens import token_digest

TOKEN_PREFIX = "dy_"


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (False without one)."""
    if not stored:
        _hasher().hash(password)  # the same time as a real check: no user enumeration
        return False
    try:
        return _hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)


def new_token() -> tuple[str, str]:
    """A new API token and the digest to store."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)
