"""Printing for people (Rich tables) and for scripts (``--json``).

Tables fit the terminal by dropping their least important columns first; ids and other
``keep`` columns are never wrapped, folded or cut, so they can be copied whole. Output that
goes to a pipe or a file is not wrapped at all (unless ``COLUMNS`` says how wide to be).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.console import Console

# A width no line reaches: what "do not wrap" means to Rich when stdout is not a terminal.
UNWRAPPED_WIDTH = 100_000
_MIN_CELL = 6  # the narrowest a wrappable column gets before the table outgrows the screen


def console(*, stderr: bool = False) -> Console:
    """A Rich console: the terminal's width on a terminal, ``COLUMNS`` when set, and no
    wrapping when writing to a pipe or a file (logs are not cut at 80 columns mid-phrase)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS", "").isdigit() and not stream.isatty():
        width = UNWRAPPED_WIDTH
    return Console(stderr=stderr, width=width, soft_wrap=False)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 point``, ``2 points``, ``0 points`` (``plural_form`` for irregular words)."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


@dataclass(frozen=True)
class Column:
    """A table column: ``keep`` columns (ids, names) are shown whole and never dropped;
    when the table is too wide, columns with the highest ``drop`` go first (0: never)."""

    header: str
    keep: bool = False
    drop: int = 0
    justify: Literal["left", "right"] = "left"
    min_width: int | None = None


def dump_json(value: Any) -> None:
    """Write ``value`` (pydantic models included) as JSON on stdout."""
    from pydantic_core import to_jsonable_python

    sys.stdout.write(json.dumps(to_jsonable_python(value), indent=2) + "\n")


def _fit(columns: list[Column], widths: list[int], room: int) -> list[int]:
    """Indices of the columns to show so that the table fits ``room`` characters."""
    shown = list(range(len(columns)))

    def needed() -> int:
        return sum(widths[i] + 3 for i in shown) + 1  # padding, a rule per column, the edge

    droppable = sorted(
        (i for i, c in enumerate(columns) if c.drop > 0 and not c.keep),
        key=lambda i: (columns[i].drop, i),
        reverse=True,
    )
    for index in droppable:
        if needed() <= room:
            break
        shown.remove(index)
    return shown


def table(
    title: str | None,
    columns: Sequence[str | Column],
    rows: Sequence[Sequence[Any]],
    *,
    empty: str | None = None,
) -> None:
    """A Rich table on stdout; ``empty`` is said instead when there are no rows."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    if not rows and empty is not None:
        say(empty)
        return
    specs = [Column(c) if isinstance(c, str) else c for c in columns]
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [
        max([cell_len(spec.header), *(cell_len(row[i]) for row in cells)])
        for i, spec in enumerate(specs)
    ]
    out = console()
    shown = _fit(specs, widths, out.width)
    hidden = [specs[i].header for i in range(len(specs)) if i not in shown]
    minimum = sum(
        widths[i] if specs[i].keep else max(min(widths[i], _MIN_CELL), specs[i].min_width or 0)
        for i in shown
    )
    minimum += 3 * len(shown) + 1
    result = Table(title=title, header_style="bold")
    for i in shown:
        spec = specs[i]
        result.add_column(
            Text(spec.header, style="bold"),
            justify=spec.justify,
            no_wrap=spec.keep,
            min_width=widths[i] if spec.keep else spec.min_width,
            overflow="fold",
        )
    for row in cells:
        # Text, not markup: a stored name such as "[red]x" is shown as written.
        result.add_row(*(Text(row[i]) for i in shown))
    # Rather than cut a kept column, let the table be wider than a very narrow terminal.
    out.print(result, width=max(out.width, minimum), crop=False)
    if hidden:
        from rich.markup import escape

        names = escape(", ".join(hidden))
        out.print(f"[dim]not shown at {out.width} columns: {names} (--json has all)[/]")


def say(message: str) -> None:
    """A line for people on stdout (Rich markup allowed)."""
    from rich.console import Console

    Console(soft_wrap=True).print(message)


def error(message: str) -> None:
    """An error line on stderr."""
    from rich.console import Console
    from rich.markup import escape

    # Escaped: messages quote what users typed and what records hold.
    Console(stderr=True, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False
    )
