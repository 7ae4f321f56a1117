"""The ``dockyard`` command: entry point, global options and exit codes.

Exit codes: 0 success, 1 unexpected error, 2 invalid input or usage, 3 not found,
4 conflict, 5 not allowed, 6 a service (database, storage, server) unreachable, 130 aborted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dockyard.cli import (
    admin,
    audit,
    data,
    demo,
    features,
    login,
    models,
    monitor,
    pipelines,
    predict,
    projects,
    runs,
    schedules,
    secrets,
    serve,
    teams,
    tokens,
    ui,
    users,
)
from dockyard.cli.context import Overrides
from dockyard.cli.output import error
from dockyard.core.errors import DockyardError

app = typer.Typer(
    name="dockyard",
    help="dockyard: the machine-learning platform. Embedded by default; set DOCKYARD_URL to "
    "use a server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # Rich help costs 0.3 s of imports; tables still use Rich
)
app.add_typer(projects.app, name="projects")
app.add_typer(runs.app, name="runs")
app.add_typer(data.app, name="data")
app.add_typer(features.app, name="features")
app.add_typer(models.app, name="models")
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(serve.app, name="serving")
app.add_typer(monitor.app, name="monitor")
app.add_typer(users.app, name="users")
app.add_typer(teams.app, name="teams")
app.add_typer(tokens.app, name="tokens")
app.add_typer(secrets.app, name="secrets")
app.add_typer(admin.config_app, name="config")
app.add_typer(admin.db_app, name="db")
app.command("gc")(admin.gc)
app.command("server")(admin.server)
app.command("scheduler")(schedules.scheduler)
app.command("serve")(serve.serve)
app.command("trace")(serve.trace)
app.command("predict")(predict.predict)
app.command("demo")(demo.demo)
app.command("ui")(ui.ui)
app.command("login")(login.login)
app.command("whoami")(login.whoami)
app.command("audit")(audit.audit)


def _say_version(wanted: bool) -> None:
    if wanted:
        version()
        raise typer.Exit()


@app.command()
def version() -> None:
    """Print dockyard's version."""
    from dockyard._version import __version__

    typer.echo(f"dockyard {__version__}")


@app.callback()
def root(
    ctx: typer.Context,
    home: Path = typer.Option(None, "--home", help="Home folder [env DOCKYARD_HOME]."),
    db: str = typer.Option(None, "--db", help="Metadata database URL [env DOCKYARD_DB]."),
    blobs: str = typer.Option(
        None, "--blobs", help="Blob storage URL or folder [env DOCKYARD_BLOBS]."
    ),
    url: str = typer.Option(None, "--url", help="Server URL [env DOCKYARD_URL]."),
    token: str = typer.Option(None, "--token", help="Server token [env DOCKYARD_TOKEN]."),
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_say_version, help="Print the version."
    ),
) -> None:
    ctx.obj = Overrides(home=home, db=db, blobs=blobs, url=url, token=token)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with a code that says what happened."""
    command = typer.main.get_command(app)
    try:
        # Without standalone mode, click returns a command's `typer.Exit` code instead of
        # raising it.
        returned = command.main(args=argv, prog_name="dockyard", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        error("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument
        exc.show()  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except DockyardError as exc:
        error(exc.message)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(returned if isinstance(returned, int) else 0)


if __name__ == "__main__":  # python -m dockyard.cli.main
    main()
