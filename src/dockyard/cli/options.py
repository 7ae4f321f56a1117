"""Options shared by every command: one name (and one letter) for one idea.

``-p/--project`` is the project everywhere (``DOCKYARD_PROJECT`` its default), ``-n/--limit``
how many to list, ``-o/--dest`` where to write, ``--set KEY=VALUE`` a parameter, ``-y/--yes``
no confirmation, ``--json`` output for scripts. ``tests/test_cli_options.py`` walks the
commands to keep it so.
"""

from __future__ import annotations

import enum

import typer

PROJECT_ENV = "DOCKYARD_PROJECT"

JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
PROJECT = typer.Option(
    ..., "--project", "-p", envvar=PROJECT_ENV, help=f"The project [env {PROJECT_ENV}]."
)
PROJECT_FILTER = typer.Option(
    None, "--project", "-p", envvar=PROJECT_ENV, help=f"Only this project [env {PROJECT_ENV}]."
)
PROJECTS = typer.Option(
    None,
    "--project",
    "-p",
    envvar=PROJECT_ENV,
    help=f"Only this project (repeatable) [env {PROJECT_ENV}].",
)
LIMIT = typer.Option(50, "--limit", "-n", min=1, max=1000, help="Show at most this many.")
YES = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")
RUN_ID = typer.Argument(..., help="A run id, or the start of one that no other run shares.")
PIPELINE_RUN_ID = typer.Argument(
    ..., help="A pipeline run id, or the start of one that no other pipeline run shares."
)


class ProjectRole(enum.StrEnum):
    """A role in a project (``--role``), each including the ones before it."""

    viewer = "viewer"
    editor = "editor"
    maintainer = "maintainer"
    owner = "owner"
