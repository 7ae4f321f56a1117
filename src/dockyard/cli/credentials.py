"""Passwords in and API tokens out: a password is never an option's value (it would stay in
the shell's history and show in ``ps``), and a new token is printed once, ready to use."""

from __future__ import annotations

import re
import sys

import typer

from dockyard.cli.output import say

_LIFETIME = re.compile(r"^(\d{1,9})([smhdwy])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400, "y": 365 * 86_400}
MAX_DAYS = 3650  # the server's longest token lifetime: ten years


def read_password(prompt: str, *, confirm: bool = False, optional: bool = False) -> str:
    """A password typed at the terminal (not echoed), or, when stdin is not a terminal, the
    next line of stdin. ``optional``: Enter (or no line left) gives ``""``."""
    if sys.stdin.isatty():
        if optional:
            return str(typer.prompt(prompt, hide_input=True, default="", show_default=False))
        return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
    line = sys.stdin.readline()
    if not line and not optional:
        raise typer.BadParameter(f"stdin ended before the {prompt.lower()}: give it on a line")
    return line.rstrip("\r\n")


def parse_lifetime(text: str) -> int:
    """Seconds in a token lifetime such as 30m, 12h, 90d or 1y (a minute to ten years)."""
    match = _LIFETIME.match(text.strip().lower())
    if not match:
        raise typer.BadParameter(
            f"--expires {text!r} is not a duration: use e.g. 30m, 12h, 90d or 1y"
        )
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    if not 60 <= seconds <= MAX_DAYS * 86_400:
        raise typer.BadParameter(f"--expires {text!r}: give between 1m and {MAX_DAYS}d (10y)")
    return seconds


def show_token(secret: str, url: str | None) -> None:
    """A new token, the one time it is shown, as the line that puts it to use."""
    from rich.markup import escape

    where = escape(f" (with DOCKYARD_URL={url})") if url else ""
    say(f"the token is shown only now; keep it like a password and use it{where} with:")
    typer.echo(f"export DOCKYARD_TOKEN={secret}")
