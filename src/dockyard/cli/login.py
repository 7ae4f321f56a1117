"""``dockyard login`` and ``dockyard whoami``: a token for a password, and who the server
takes you for."""

from __future__ import annotations

import typer

from dockyard.cli.context import overrides
from dockyard.cli.credentials import parse_lifetime, read_password, show_token
from dockyard.cli.options import JSON
from dockyard.cli.output import Column, dump_json, say, table


def login(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="Your user name."),
    expires: str = typer.Option(
        "30d", "--expires", help="How long the token lasts, e.g. 12h, 30d or 1y."
    ),
    as_json: bool = JSON,
) -> None:
    """Sign in with your password and get an API token for DOCKYARD_TOKEN.

    The password is asked for without echo at a terminal, or read from the first line of
    stdin otherwise. The token is printed, never written to a file.
    """
    expires_in = parse_lifetime(expires)
    password = read_password("Password")
    settings = overrides(ctx).settings()
    with overrides(ctx).client() as client:
        token = client.identity.login(user, password, expires_in=expires_in)
    if as_json:
        dump_json(token)
        return
    until = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "lasts"
    say(f"signed in as [bold]{token.user}[/]: a new token ({token.id}) that {until}")
    show_token(token.token, settings.url)


def whoami(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Who the server takes you for, and the role you hold in each project."""
    with overrides(ctx).client() as client:
        me = client.identity.me()
    if as_json:
        dump_json(me)
        return
    from rich.markup import escape

    say(f"[bold]{escape(me.name)}[/] ({me.kind})")
    say(f"role in every project: {me.role or 'none (only the projects below)'}")
    if not me.may_create_projects:
        say("may not create projects (a token limited to projects)")
    if me.projects or me.role is None:
        table(
            None,
            [Column("project", keep=True), "role"],
            sorted(me.projects.items()),
            empty="no role in any project yet: ask a project's owner (dockyard projects grant)",
        )
