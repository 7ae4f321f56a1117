"""``dockyard projects ...``"""

from __future__ import annotations

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, LIMIT, YES
from dockyard.cli.output import Column, dump_json, say, table

app = typer.Typer(
    help="Create, list, rename and delete projects.", no_args_is_help=True, rich_markup_mode=None
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
