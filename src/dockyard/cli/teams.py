"""``dockyard teams ...``: groups of users; a role granted to a team is held by its members."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, YES
from dockyard.cli.output import Column, dump_json, plural, say, table

if TYPE_CHECKING:
    from dockyard.access.schemas import Team

app = typer.Typer(
    help="Teams: create, list, show, add and remove members, delete.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
TEAM = typer.Argument(..., help="The team's name.")


def _show(teams: list[Team], as_json: bool) -> None:
    if as_json:
        dump_json(teams)
        return
    table(
        None,
        [
            Column("name", keep=True),
            "members",
            Column("description", drop=2),
            Column("created (UTC)", drop=1),
            Column("created by", drop=3),
        ],
        [
            (
                t.name,
                ", ".join(t.members),
                t.description,
                f"{t.created_at:%Y-%m-%d %H:%M}",
                t.created_by,
            )
            for t in teams
        ],
        empty="no teams yet; `dockyard teams create NAME` makes one",
    )


def _members(team: Team) -> str:
    names = ", ".join(team.members)
    return f"{plural(len(team.members), 'member')}" + (f": {names}" if names else "")


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name: letters, digits, '.', '_', '-'."),
    description: str = typer.Option("", "--description", help="What the team is for."),
    sso_group: str | None = typer.Option(
        None,
        "--sso-group",
        help="A single sign-on group: its members are the team's members, as of each one's "
        "last sign-in.",
    ),
    as_json: bool = JSON,
) -> None:
    """Create a team (the admin only)."""
    with overrides(ctx).client() as client:
        team = client.identity.create_team(name, description=description, sso_group=sso_group)
    if as_json:
        dump_json(team)
    else:
        say(
            f"created team [bold]{team.name}[/]; `dockyard teams add {team.name} USER` adds members"
        )


@app.command()
def update(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The team."),
    description: str | None = typer.Option(None, "--description", help="What the team is for."),
    sso_group: str | None = typer.Option(
        None,
        "--sso-group",
        help="The single sign-on group whose members the team has ('' for none: members are "
        "then managed by hand).",
    ),
    as_json: bool = JSON,
) -> None:
    """Change a team's description or single sign-on group (the admin only)."""
    if description is None and sso_group is None:
        raise typer.BadParameter("nothing to change: give --description or --sso-group")
    with overrides(ctx).client() as client:
        team = client.identity.update_team(name, description=description, sso_group=sso_group)
    if as_json:
        dump_json(team)
    else:
        group = f"single sign-on group {team.sso_group!r}" if team.sso_group else "no group"
        say(f"updated team [bold]{team.name}[/]: {group}")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON) -> None:
    """List teams with their members, by name."""
    with overrides(ctx).client() as client:
        _show(client.identity.teams(), as_json)


@app.command()
def show(ctx: typer.Context, name: str = TEAM, as_json: bool = JSON) -> None:
    """Show a team and its members."""
    with overrides(ctx).client() as client:
        found = client.identity.team(name)
    if as_json:
        dump_json(found)
    else:
        _show([found], as_json=False)


@app.command()
def add(
    ctx: typer.Context,
    team: str = TEAM,
    users: list[str] = typer.Argument(..., help="The users to add (those already in stay)."),
    as_json: bool = JSON,
) -> None:
    """Add users to a team (the admin only)."""
    with overrides(ctx).client() as client:
        found = client.identity.add_members(team, users)
    if as_json:
        dump_json(found)
    else:
        say(f"team [bold]{found.name}[/] has {_members(found)}")


@app.command()
def remove(
    ctx: typer.Context,
    team: str = TEAM,
    user: str = typer.Argument(..., help="The user to take out of it."),
    as_json: bool = JSON,
) -> None:
    """Take a user out of a team (the admin only)."""
    with overrides(ctx).client() as client:
        found = client.identity.remove_member(team, user)
    if as_json:
        dump_json(found)
    else:
        say(f"team [bold]{found.name}[/] has {_members(found)}")


@app.command()
def delete(ctx: typer.Context, team: str = TEAM, yes: bool = YES) -> None:
    """Delete a team and the roles granted to it (its members keep their own)."""
    if not yes and not typer.confirm(f"Delete team {team!r} and the roles granted to it?"):
        raise typer.Abort()
    with overrides(ctx).client() as client:
        client.identity.delete_team(team)
    say(f"deleted team [bold]{team}[/]")
