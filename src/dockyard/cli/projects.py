"""``dockyard projects ...``"""

from __future__ import annotations

import typer

from dockyard.cli.context import overrides
from dockyard.cli.output import dump_json, say, table

app = typer.Typer(
    help="Create, list, rename and delete projects.", no_args_is_help=True, rich_markup_mode=None
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")


def _show(projects: list, as_json: bool) -> None:  # type: ignore[type-arg]
    if as_json:
        dump_json(projects)
        return
    table(
        None,
        ["name", "description", "created by", "created (UTC)", "id"],
        [
            (p.name, p.description, p.created_by, f"{p.created_at:%Y-%m-%d %H:%M}", p.id)
            for p in projects
        ],
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: int = typer.Option(None, "--limit", "-n", min=1, help="Show at most this many."),
    as_json: bool = JSON,
) -> None:
    """List projects."""
    with overrides(ctx).client() as client:
        _show(client.projects.list(limit=limit), as_json)


@app.command()
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Unique name: letters, digits, '.', '_', '-'."),
    description: str = typer.Option("", "--description", "-d"),
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
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
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
