"""What every layer knows of a project's secrets: how they are named, how big a value may be,
and how a value is kept out of text (a step's log, an error) that is stored or shown.

The values themselves are encrypted by :mod:`dockyard.access.cipher` and handed out only by
:meth:`dockyard.access.secrets.SecretService.environment`, in a process that holds the key.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from dockyard.core.errors import InvalidInput

NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"
"""An environment variable's name: upper-case letters, digits and ``_``, up to 128."""
MAX_VALUE_BYTES = 64 * 1024
MAX_PER_STEP = 100
"""At most this many secrets per step or served model."""
MASK = "***"
_NAME = re.compile(NAME_PATTERN)
_STEERING = re.compile(r"^(PATH|HOME|SHELL|TMPDIR|PYTHON.*|LD_.*|DYLD_.*|DOCKYARD_.*)$")
"""Names that steer the process itself (where it finds programs, libraries and Python code)
or dockyard: a secret under such a name would change what runs, not hand it a credential."""


def check_names(names: Iterable[str], where: str) -> list[str]:
    """``names`` (duplicates dropped, order kept) if each is a secret's name; else
    InvalidInput naming the first that is not."""
    found = list(dict.fromkeys(names))
    if len(found) > MAX_PER_STEP:
        raise InvalidInput(f"{where} names {len(found)} secrets; at most {MAX_PER_STEP}")
    for name in found:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput(
                f"{where}: {str(name)[:140]!r} is not a secret's name: use an environment "
                "variable's name (A-Z, 0-9 and _, not starting with a digit, at most 128)"
            )
        if _STEERING.match(name):
            raise InvalidInput(
                f"{where}: {name!r} would steer the process (where it finds programs, "
                "libraries or Python code, or dockyard's own settings), not give it a "
                "credential: choose another name"
            )
    return found


def check_value(value: str, name: str) -> None:
    """InvalidInput unless ``value`` may be stored as secret ``name`` (the message never
    quotes the value)."""
    size = len(value.encode("utf-8", "surrogatepass"))
    if size == 0:
        raise InvalidInput(f"the value of secret {name} is empty: give at least one byte")
    if size > MAX_VALUE_BYTES:
        raise InvalidInput(
            f"the value of secret {name} is {size} bytes; at most {MAX_VALUE_BYTES} (64 KiB)"
        )
    if "\x00" in value:
        raise InvalidInput(
            f"the value of secret {name} holds a NUL character, which an environment "
            "variable cannot"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"the value of secret {name} is not valid text (UTF-8)") from None


def redact(text: str, values: Collection[str]) -> str:
    """``text`` with each of ``values`` replaced by ``***`` (the longest first, so a value
    that holds another is masked whole)."""
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
    return text


def redact_bytes(data: bytes, values: Collection[str], *, cut: bool = False) -> bytes:
    """``data`` with each of ``values`` (as UTF-8) replaced by ``***``; with ``cut`` (the
    data was cut short at a limit), a start of a value left at its very end is masked too."""
    encoded = sorted((v.encode() for v in values if v), key=len, reverse=True)
    for value in encoded:
        data = data.replace(value, MASK.encode())
    if cut:
        for value in encoded:
            for size in range(len(value) - 1, 0, -1):
                if data.endswith(value[:size]):
                    return data[:-size] + MASK.encode()
    return data
