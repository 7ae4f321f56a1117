"""``dockyard config|db|gc|server``: running and looking after a dockyard home."""

from __future__ import annotations

import re
from collections.abc import Callable

import typer

from dockyard.cli.context import overrides
from dockyard.cli.output import dump_json, say, table

config_app = typer.Typer(
    help="Show the effective settings.", no_args_is_help=True, rich_markup_mode=None
)
db_app = typer.Typer(
    help="Manage the metadata database.", no_args_is_help=True, rich_markup_mode=None
)
JSON = typer.Option(False, "--json", help="Print JSON for scripts.")
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """Seconds in '90', '90s', '15m', '1h' or '7d'."""
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration; use e.g. 30s, 15m, 1h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


@config_app.command("show")
def config_show(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Print each effective setting and where it came from."""
    rows = overrides(ctx).settings().describe()
    if as_json:
        dump_json([{"name": n, "value": v, "source": s} for n, v, s in rows])
    else:
        table("dockyard settings", ["setting", "value", "source"], rows)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Apply pending schema migrations to the metadata database."""
    from dockyard.store.db import Database
    from dockyard.store.migrate import upgrade_from

    settings = overrides(ctx).settings()
    if settings.is_remote:
        raise typer.BadParameter("db upgrade runs where the database is; unset DOCKYARD_URL")
    db = Database(settings.db)
    try:
        db.check_reachable()
        before, after = upgrade_from(db)
    finally:
        db.dispose()
    if as_json:
        dump_json({"database": db.safe_url, "from": before, "to": after})
    elif before == after:
        say(f"{db.safe_url} is up to date (revision {after})")
    else:
        say(f"upgraded {db.safe_url} from revision {before or 'empty'} to {after}")


def gc(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would go; delete nothing."),
    grace: str = typer.Option("1h", help="Keep blobs younger than this (uploads in flight)."),
    as_json: bool = JSON,
) -> None:
    """Delete blobs that nothing references from the blob store."""
    with overrides(ctx).client() as client:
        report = client.gc(dry_run=dry_run, grace_seconds=parse_duration(grace))
    if as_json:
        dump_json(report)
        return
    verb = "would delete" if report.dry_run else "deleted"
    say(
        f"{verb} {report.blobs_deleted} of {report.blobs_scanned} blobs "
        f"({report.bytes_freed / 2**20:.1f} MiB) and {report.staging_deleted} abandoned uploads; "
        f"{report.blobs_referenced} referenced, {report.kept_recent} kept as recent"
    )


def server(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8080, min=0, max=65535, help="Port to listen on."),
    scheduler: bool = typer.Option(
        True,
        "--scheduler/--no-scheduler",
        help="Fire pipeline schedules in the server (safe beside `dockyard scheduler`s).",
    ),
    interval: float = typer.Option(
        10.0, "--scheduler-interval", min=0.1, help="Seconds between the scheduler's polls."
    ),
) -> None:
    """Serve the REST API (and its OpenAPI document at /docs) over this home's data."""
    from dockyard.cli.schedules import log_line
    from dockyard.sdk.scheduler import start_in_thread
    from dockyard.server.app import Background, create_app
    from dockyard.server.runner import serve
    from dockyard.services import Services

    settings = overrides(ctx).settings()
    if settings.is_remote:
        raise typer.BadParameter(
            f"DOCKYARD_URL is set ({settings.url}): a server serves a database, not another server"
        )

    def start_scheduler(services: Services) -> Callable[[], None]:
        return start_in_thread(services, interval=interval, say=log_line)

    background: list[Background] = [start_scheduler] if scheduler else []
    app = create_app(settings, background=background)
    say(f"dockyard server on http://{host}:{port} (API docs at /docs), data from {settings.db}")
    serve(app, host, port)
