"""``dockyard users ...``: accounts (people and service accounts), managed by the admin."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from dockyard.cli.context import overrides
from dockyard.cli.credentials import read_password, show_token
from dockyard.cli.options import JSON
from dockyard.cli.output import Column, dump_json, say, table

if TYPE_CHECKING:
    from dockyard.access.schemas import User

app = typer.Typer(
    help="Users and service accounts: create, list, show, update, set passwords.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
NAME = typer.Argument(..., help="The user's name.")


def _show(users: list[User], as_json: bool) -> None:
    if as_json:
        dump_json(users)
        return
    table(
        None,
        [
            Column("name", keep=True),
            "kind",
            "admin",
            "state",
            Column("email", drop=3),
            Column("teams", drop=2),
            Column("password", drop=5),
            Column("created (UTC)", drop=1),
            Column("created by", drop=4),
        ],
        [
            (
                u.name,
                u.kind,
                "yes" if u.admin else "no",
                "disabled" if u.disabled else "active",
                u.email,
                ", ".join(u.teams),
                "yes" if u.has_password else "no",
                f"{u.created_at:%Y-%m-%d %H:%M}",
                u.created_by,
            )
            for u in users
        ],
        empty="no users yet; `dockyard users create NAME` makes one (the first is the admin)",
    )


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name: letters, digits, '.', '_', '-'."),
    email: str = typer.Option("", "--email", help="The user's email address."),
    service: bool = typer.Option(
        False, "--service", help="A service account: no password, it signs in with tokens."
    ),
    admin: bool = typer.Option(
        False, "--admin", help="Make the user a server admin (the first user always is)."
    ),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read the password (at least 12 characters) from stdin: one line, or typed "
        "twice without echo at a terminal.",
    ),
    token: bool = typer.Option(
        False, "--token", help="Also create an API token for the user and print it once."
    ),
    as_json: bool = JSON,
) -> None:
    """Create a user or a service account (the admin only)."""
    if service and password_stdin:
        raise typer.BadParameter(
            "a service account has no password: drop --password-stdin (use --token)"
        )
    password = read_password("Password", confirm=True) if password_stdin else None
    settings = overrides(ctx).settings()
    with overrides(ctx).client() as client:
        user = client.identity.create_user(
            name, email=email, service=service, password=password, admin=admin, token=token
        )
    if as_json:
        dump_json(user)
        return
    kind = "service account" if user.kind == "service" else "user"
    say(f"created {kind} [bold]{user.name}[/]" + (", a server admin" if user.admin else ""))
    if user.token:
        show_token(user.token, settings.url)
    elif password is None:
        say(
            f"[dim]{user.name} has no password and no token yet: `dockyard tokens create "
            f"--name NAME --user {user.name}` makes a token[/]"
        )


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON) -> None:
    """List users and service accounts, by name (the admin only)."""
    with overrides(ctx).client() as client:
        _show(client.identity.users(), as_json)


@app.command()
def show(ctx: typer.Context, name: str = NAME, as_json: bool = JSON) -> None:
    """Show a user: yourself, or anyone for the admin."""
    with overrides(ctx).client() as client:
        found = client.identity.user(name)
    if as_json:
        dump_json(found)
    else:
        _show([found], as_json=False)


@app.command()
def update(
    ctx: typer.Context,
    name: str = NAME,
    email: str | None = typer.Option(None, "--email", help="A new email address."),
    admin: bool | None = typer.Option(
        None, "--admin/--no-admin", help="Make the user a server admin, or no longer one."
    ),
    disabled: bool | None = typer.Option(
        None,
        "--disable/--enable",
        help="Disable the user (their tokens stop working at once), or enable them again.",
    ),
    sso_subject: str | None = typer.Option(
        None,
        "--sso-subject",
        help="Link the account to this single sign-on identity (its 'sub'; '' unlinks), "
        "with --sso-issuer.",
    ),
    sso_issuer: str | None = typer.Option(
        None,
        "--sso-issuer",
        help="The identity provider's issuer URL [else env DOCKYARD_OIDC_ISSUER].",
    ),
    as_json: bool = JSON,
) -> None:
    """Change a user's email, admin role or whether they are disabled, or link their account
    to a single sign-on identity (the admin only)."""
    if email is None and admin is None and disabled is None and sso_subject is None:
        raise typer.BadParameter(
            "nothing to change: give --email, --admin/--no-admin, --disable/--enable or "
            "--sso-subject"
        )
    if sso_subject is not None:
        sso_issuer = "" if not sso_subject else sso_issuer or os.environ.get("DOCKYARD_OIDC_ISSUER")
        if sso_issuer is None:
            raise typer.BadParameter("--sso-subject needs --sso-issuer (the provider's URL)")
        sso_issuer = sso_issuer.rstrip("/")
    with overrides(ctx).client() as client:
        user = client.identity.update_user(
            name,
            email=email,
            admin=admin,
            disabled=disabled,
            sso_issuer=sso_issuer,
            sso_subject=sso_subject,
        )
    if as_json:
        dump_json(user)
    else:
        role = "a server admin" if user.admin else "not an admin"
        state = "disabled" if user.disabled else "active"
        say(f"updated user [bold]{user.name}[/]: {role}, {state}")


@app.command()
def passwd(ctx: typer.Context, name: str = NAME) -> None:
    """Set a user's password: your own, or anyone's for the admin.

    At a terminal it asks for the current password (press Enter if you are the admin, or
    have none yet) and then the new one, twice; nothing is echoed. Otherwise it reads stdin:
    the first line is the new password, an optional second line the current one.
    """
    if sys.stdin.isatty():
        current = read_password("Current password (Enter if none, or for the admin)", optional=True)
        new = read_password("New password", confirm=True)
    else:
        new = read_password("New password")
        current = read_password("Current password", optional=True)
    with overrides(ctx).client() as client:
        client.identity.set_password(name, new, current=current or None)
    say(f"set the password of [bold]{name}[/]")
