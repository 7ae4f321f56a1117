"""``dockyard tokens ...``: API tokens, each shown once, optionally limited to one project,
a role and a lifetime."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer

from dockyard.cli.context import overrides
from dockyard.cli.credentials import parse_lifetime, show_token
from dockyard.cli.options import JSON, PROJECT_ENV, ProjectRole
from dockyard.cli.output import Column, dump_json, say, table

if TYPE_CHECKING:
    from dockyard.access.schemas import Token

app = typer.Typer(
    help="API tokens: create (shown once), list, revoke.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
USER = typer.Option(
    None, "--user", help="Another user's tokens (the admin only; default: your own)."
)


def _when(at: dt.datetime | None) -> str:
    return "" if at is None else f"{at:%Y-%m-%d %H:%M}"


def _state(token: Token, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    expires = token.expires_at
    if expires is not None and expires.replace(tzinfo=expires.tzinfo or dt.UTC) <= now:
        return "expired"
    return "active"


def _scope(token: Token) -> str:
    """What a token may do, e.g. ``viewer in project fraud``."""
    role = f"at most {token.role}" if token.role else "the user's roles"
    where = f"project {token.project}" if token.project else "every project"
    return f"{role} in {where}"


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. ci."),
    user: str | None = typer.Option(
        None, "--user", help="Whose token (the admin only; default: your own)."
    ),
    project: str | None = typer.Option(
        None,
        "--project",
        "-p",
        envvar=PROJECT_ENV,
        help=f"Limit the token to this project [env {PROJECT_ENV}].",
    ),
    role: ProjectRole | None = typer.Option(
        None,
        "--role",
        case_sensitive=False,
        help="Limit the token to this role (never more than the user holds).",
    ),
    expires: str | None = typer.Option(
        None, "--expires", help="Lifetime, e.g. 30m, 12h, 90d or 1y (default: never)."
    ),
    as_json: bool = JSON,
) -> None:
    """Create an API token and print it, the only time it is shown."""
    expires_in = parse_lifetime(expires) if expires is not None else None
    settings = overrides(ctx).settings()
    with overrides(ctx).client() as client:
        token = client.identity.create_token(
            name,
            user=user,
            project=project,
            role=role.value if role else None,
            expires_in=expires_in,
        )
    if as_json:
        dump_json(token)
        return
    until = f"until {_when(token.expires_at)} UTC" if token.expires_at else "with no expiry"
    say(
        f"created token [bold]{token.name}[/] ({token.id}) for {token.user}: "
        f"{_scope(token)}, {until}"
    )
    show_token(token.token, settings.url)


@app.command("list")
def list_(
    ctx: typer.Context,
    user: str | None = USER,
    every: bool = typer.Option(False, "--all", help="Every user's tokens (the admin only)."),
    as_json: bool = JSON,
) -> None:
    """List API tokens (never their secrets): your own, a user's, or all."""
    if user is not None and every:
        raise typer.BadParameter("give --user or --all, not both")
    with overrides(ctx).client() as client:
        tokens = client.identity.tokens(user=user, all=every)
    if as_json:
        dump_json(tokens)
        return
    now = dt.datetime.now(dt.UTC)
    table(
        None,
        [
            Column("id", keep=True),
            Column("name", keep=True),
            "user",
            "state",
            Column("project", drop=5),
            Column("role", drop=4),
            Column("expires (UTC)", drop=2),
            Column("last used (UTC)", drop=3),
            Column("created (UTC)", drop=1),
        ],
        [
            (
                t.id,
                t.name,
                t.user,
                _state(t, now),
                t.project or "(any)",
                t.role or "(the user's)",
                _when(t.expires_at) or "never",
                _when(t.last_used_at),
                _when(t.created_at),
            )
            for t in tokens
        ],
        empty="no tokens; `dockyard tokens create --name NAME` makes one",
    )


@app.command()
def revoke(
    ctx: typer.Context,
    token_id: str = typer.Argument(..., metavar="ID", help="The token's id (tokens list)."),
    as_json: bool = JSON,
) -> None:
    """Revoke an API token: it stops working at once."""
    with overrides(ctx).client() as client:
        token = client.identity.revoke_token(token_id)
    if as_json:
        dump_json(token)
    else:
        say(f"revoked token [bold]{token.name}[/] ({token.id}) of {token.user}")
