"""``dockyard secrets ...``: a project's secrets. A value is read from stdin (or typed at a
hidden prompt), never given as an argument (it would stay in the shell's history and show
in ``ps``), and never printed back."""

from __future__ import annotations

import getpass
import sys

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, PROJECT
from dockyard.cli.output import Column, dump_json, say, table

app = typer.Typer(
    help="A project's secrets: set (from stdin), list (names only), delete.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
NAME = typer.Argument(..., help="The secret's name, an environment variable's: DB_PASSWORD.")


def read_value(name: str) -> str:
    """The value typed at a hidden prompt, or all of stdin (one final newline dropped)."""
    if sys.stdin.isatty():
        return getpass.getpass(f"value of {name} (not shown): ")
    text = sys.stdin.read()
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")


@app.command("set")
def set_(
    ctx: typer.Context,
    project: str = PROJECT,
    name: str = NAME,
    as_json: bool = JSON,
) -> None:
    """Set a secret from stdin (or a hidden prompt): stored encrypted, never shown again.
    Pipeline steps that declare it (@dy.step(secrets=[...])) and served models (dockyard
    serve --secret) get it as an environment variable."""
    value = read_value(name)
    if not value:
        raise typer.BadParameter(f"no value for {name} on stdin", param_hint="stdin")
    with overrides(ctx).client() as client:
        secret = client.secrets.set(project, name, value)
    if as_json:
        dump_json(secret)
    else:
        say(f"set secret [bold]{secret.name}[/] of {secret.project} (key {secret.key_id})")


@app.command("list")
def list_(ctx: typer.Context, project: str = PROJECT, as_json: bool = JSON) -> None:
    """List a project's secrets: names, who set them and when (never the values)."""
    with overrides(ctx).client() as client:
        secrets = client.secrets.list(project)
    if as_json:
        dump_json(secrets)
        return
    table(
        None,
        [
            Column("name", keep=True),
            "set by",
            Column("set at (UTC)", keep=True),
            Column("created by", drop=2),
            Column("key", drop=1),
        ],
        [
            (s.name, s.updated_by, f"{s.updated_at:%Y-%m-%d %H:%M}", s.created_by, s.key_id)
            for s in secrets
        ],
        empty=f"no secrets in {project}; `dockyard secrets set -p {project} NAME < value` sets one",
    )


@app.command()
def delete(ctx: typer.Context, project: str = PROJECT, name: str = NAME) -> None:
    """Delete a secret (steps and served models that name it then fail to start)."""
    with overrides(ctx).client() as client:
        client.secrets.delete(project, name)
    say(f"deleted secret [bold]{name}[/] of {project}")
