"""``dockyard projects ...``"""

from __future__ import annotations

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, LIMIT, YES, ProjectRole
from dockyard.cli.output import Column, dump_json, say, table

app = typer.Typer(
    help="Create, list, rename and delete projects; grant roles in them.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _show(projects: list, as_json: bool) -> None:  # type: ignore[type-arg]
    if as_json:
        dump_json(projects)
        return
    table(
        None,
        [
            Column("name", keep=True),
            Column("description", drop=2),
            Column("created by", drop=3),
            Column("created (UTC)", drop=1),
            Column("id", keep=True, drop=4),
        ],
        [
            (p.name, p.description, p.created_by, f"{p.created_at:%Y-%m-%d %H:%M}", p.id)
            for p in projects
        ],
        empty="no projects yet; `dockyard projects create NAME` makes one",
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: int = LIMIT,
    as_json: bool = JSON,
) -> None:
    """List projects, by name."""
    with overrides(ctx).client() as client:
        found = client.projects.list(limit=limit + 1)  # one more: are there others?
    _show(found[:limit], as_json)
    if len(found) > limit and not as_json:
        say(f"[dim]showing the first {limit}; raise --limit to see more[/]")


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name: letters, digits, '.', '_', '-'."),
    description: str = typer.Option("", "--description", help="What the project is for."),
    as_json: bool = JSON,
) -> None:
    """Create a project."""
    with overrides(ctx).client() as client:
        project = client.projects.create(name, description=description)
    if as_json:
        dump_json(project)
    else:
        say(f"created project [bold]{project.name}[/] ({project.id})")


@app.command()
def show(ctx: typer.Context, name: str, as_json: bool = JSON) -> None:
    """Show one project."""
    with overrides(ctx).client() as client:
        _show([client.projects.get(name)], as_json)


@app.command()
def rename(ctx: typer.Context, name: str, new_name: str, as_json: bool = JSON) -> None:
    """Rename a project."""
    with overrides(ctx).client() as client:
        project = client.projects.rename(name, new_name)
    if as_json:
        dump_json(project)
    else:
        say(f"renamed project [bold]{name}[/] to [bold]{project.name}[/]")


@app.command()
def delete(
    ctx: typer.Context,
    name: str,
    yes: bool = YES,
    as_json: bool = JSON,
) -> None:
    """Delete a project."""
    if not yes and not typer.confirm(f"Delete project {name!r}?"):
        raise typer.Abort()
    with overrides(ctx).client() as client:
        project = client.projects.delete(name)
    if as_json:
        dump_json(project)
    else:
        say(f"deleted project [bold]{project.name}[/]")


def _subject(user: str | None, team: str | None) -> tuple[str, str]:
    """("user", NAME) or ("team", NAME): exactly one of --user and --team."""
    if user is not None and team is not None:
        raise typer.BadParameter("give --user or --team, not both")
    if user is not None:
        return "user", user
    if team is not None:
        return "team", team
    raise typer.BadParameter("say whose role it is: --user USER or --team TEAM")


PROJECT_NAME = typer.Argument(..., metavar="PROJECT", help="The project's name.")
USER = typer.Option(None, "--user", help="The user (or service account).")
TEAM = typer.Option(None, "--team", help="Or the team (its members hold the role).")


@app.command()
def grants(ctx: typer.Context, name: str = PROJECT_NAME, as_json: bool = JSON) -> None:
    """Who holds which role in a project (users and teams)."""
    with overrides(ctx).client() as client:
        found = client.identity.grants(name)
    if as_json:
        dump_json(found)
        return
    table(
        None,
        [
            Column("subject", keep=True),
            "kind",
            "role",
            Column("granted by", drop=2),
            Column("when (UTC)", drop=1),
        ],
        [
            (g.subject, g.subject_kind, g.role, g.granted_by, f"{g.granted_at:%Y-%m-%d %H:%M}")
            for g in found
        ],
        empty=f"no roles granted in {name}; `dockyard projects grant {name} --user U --role R`",
    )


@app.command()
def grant(
    ctx: typer.Context,
    name: str = PROJECT_NAME,
    user: str | None = USER,
    team: str | None = TEAM,
    role: ProjectRole = typer.Option(
        ...,
        "--role",
        case_sensitive=False,
        help="viewer (read) < editor (write runs, data, models) < maintainer (aliases, "
        "traffic, monitors, schedules) < owner (grants and deletion).",
    ),
    as_json: bool = JSON,
) -> None:
    """Give a user or a team a role in a project, replacing the one they had there (the
    project's owners and the admin)."""
    kind, subject = _subject(user, team)
    with overrides(ctx).client() as client:
        found = client.identity.grant(name, role.value, user=user, team=team)
    if as_json:
        dump_json(found)
    else:
        say(f"{kind} [bold]{subject}[/] is {found.role} in project [bold]{found.project}[/]")


@app.command()
def revoke(
    ctx: typer.Context,
    name: str = PROJECT_NAME,
    user: str | None = USER,
    team: str | None = TEAM,
) -> None:
    """Take a user's or a team's role in a project away (a user may still hold one through
    a team)."""
    kind, subject = _subject(user, team)
    with overrides(ctx).client() as client:
        client.identity.revoke(name, user=user, team=team)
    say(f"took the role of {kind} [bold]{subject}[/] in project [bold]{name}[/] away")
