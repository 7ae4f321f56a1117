"""Printing for people (Rich tables) and for scripts (``--json``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def dump_json(value: Any) -> None:
    """Write ``value`` (pydantic models included) as JSON on stdout."""
    from pydantic_core import to_jsonable_python

    sys.stdout.write(json.dumps(to_jsonable_python(value), indent=2) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title, header_style="bold")
    for column in columns:
        out.add_column(column)
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    Console().print(out)


def say(message: str) -> None:
    """A line for people on stdout (Rich markup allowed)."""
    from rich.console import Console

    Console(soft_wrap=True).print(message)


def error(message: str) -> None:
    """An error line on stderr."""
    from rich.console import Console

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {message}", highlight=False)
