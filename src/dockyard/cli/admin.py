"""``dockyard config|db|gc|server``: running and looking after a dockyard home."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dockyard.cli.context import overrides
from dockyard.cli.output import dump_json, plural, say, table

if TYPE_CHECKING:
    from dockyard.services import Services

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


def _keep_seconds(text: str) -> int | None:
    """--keep-predictions: None for 'forever', else at least an hour in seconds."""
    if text.strip().lower() == "forever":
        return None
    keep = parse_duration(text)
    if keep < 3600:
        raise typer.BadParameter(
            f"--keep-predictions {text} is under an hour: keep at least 1h "
            "(the hour being logged), or 'forever'"
        )
    if keep > 10 * 365 * 86_400:
        raise typer.BadParameter(
            f"--keep-predictions {text} is over ten years: give at most 3650d, or 'forever'"
        )
    return keep


def gc(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would go; delete nothing."),
    grace: str = typer.Option("1h", help="Keep blobs younger than this (uploads in flight)."),
    purge_after: str = typer.Option(
        "30d",
        "--purge-deleted-older-than",
        help="First erase runs and experiments deleted longer ago than this (until then "
        "they can be restored); 'never' keeps the bin.",
    ),
    keep_predictions: str = typer.Option(
        "forever",
        "--keep-predictions",
        help="First delete prediction log segments, monitor windows and labels older than "
        "this (e.g. 90d; at least 1h); 'forever' keeps them.",
    ),
    as_json: bool = JSON,
) -> None:
    """Empty the bin past its retention period, then delete blobs that nothing references
    from the blob store."""
    retention = None if purge_after.strip().lower() == "never" else parse_duration(purge_after)
    keep = _keep_seconds(keep_predictions)
    with overrides(ctx).client() as client:
        pruned = (
            client.prune_predictions(older_than_seconds=keep, dry_run=dry_run)
            if keep is not None
            else None
        )
        purged = (
            client.purge_deleted(older_than_seconds=retention, dry_run=dry_run)
            if retention is not None
            else None
        )
        report = client.gc(dry_run=dry_run, grace_seconds=parse_duration(grace))
    if as_json:
        extra = {"purged": purged, "pruned": pruned}
        dump_json({**report.model_dump(mode="json"), **extra})
        return
    verb = "would delete" if report.dry_run else "deleted"
    if pruned is not None:
        say(
            f"{verb} the prediction history before {pruned.before:%Y-%m-%d %H:%M} UTC: "
            f"{plural(pruned.segments, 'log segment')} "
            f"({plural(pruned.predictions, 'prediction')}), "
            f"{plural(pruned.windows, 'monitor window')} and {plural(pruned.labels, 'label')}"
        )
    if purged is not None:
        say(
            f"{'would purge' if purged.dry_run else 'purged'} {purged.runs_purged} runs and "
            f"{purged.experiments_purged} experiments deleted over {purge_after} ago"
        )
    say(
        f"{verb} {report.blobs_deleted} of {plural(report.blobs_scanned, 'blob')} "
        f"({report.bytes_freed / 2**20:.1f} MiB) and "
        f"{plural(report.staging_deleted, 'abandoned upload')}; "
        f"{report.blobs_referenced} referenced, {report.kept_recent} kept as recent"
    )


def _loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (only this machine reaches it)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_accounts(services: Services) -> bool:
    from dockyard.access.principals import has_accounts

    return services.db.query(has_accounts)


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
    user_tokens_file: Path = typer.Option(
        None,
        "--user-tokens-file",
        help="A file of user tokens, one NAME=TOKEN or NAME:ROLE=TOKEN a line, each with its "
        "role (viewer, editor, maintainer, owner, admin) in every project [else env "
        "DOCKYARD_USER_TOKENS]. Accounts (`dockyard users`) have roles per project.",
        dir_okay=False,
    ),
    keep_predictions: str = typer.Option(
        "forever",
        "--keep-predictions",
        help="Prune prediction log segments, monitor windows and labels older than this "
        "(e.g. 90d) every hour; 'forever' keeps them. `dockyard gc` frees the blobs.",
    ),
) -> None:
    """Serve the REST API (and its OpenAPI document at /docs) over this home's data.

    Callers are known by their token only: --token / DOCKYARD_TOKEN is the admin token
    (user 'admin'), each user token is its user, and each account's API token (`dockyard
    tokens create`, `dockyard login`) is that account, with its roles per project. Without
    any token or account the server is open (for loopback use): anyone reads and writes as
    'anonymous', and administration and deletion are refused over HTTP.

    With DOCKYARD_OIDC_ISSUER, DOCKYARD_OIDC_CLIENT_ID and DOCKYARD_OIDC_CLIENT_SECRET (or
    _FILE), the web UI also signs people in through that OpenID Connect provider (see the
    README: DOCKYARD_OIDC_SCOPES, _GROUPS_CLAIM, _ADMIN_GROUP, _LABEL, DOCKYARD_PUBLIC_URL,
    DOCKYARD_SESSION_HOURS)."""
    from rich.markup import escape

    from dockyard.cli.schedules import log_line
    from dockyard.core.errors import InvalidInput
    from dockyard.core.tokens import parse_token_grants
    from dockyard.sdk.scheduler import start_in_thread
    from dockyard.server.app import Background, create_app
    from dockyard.server.housekeeping import start_pruner, start_reaper
    from dockyard.server.runner import serve
    from dockyard.server.sso import OidcSettings

    settings = overrides(ctx).settings()
    if settings.is_remote:
        raise typer.BadParameter(
            f"DOCKYARD_URL is set ({settings.url}): a server serves a database, not another server"
        )

    grants = None
    if user_tokens_file is not None:
        try:
            text = user_tokens_file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise typer.BadParameter(f"cannot read --user-tokens-file: {exc}") from None
        grants = parse_token_grants(text, str(user_tokens_file))
    elif settings.user_tokens:
        grants = parse_token_grants(settings.user_tokens, "DOCKYARD_USER_TOKENS")

    def start_scheduler(services: Services) -> Callable[[], None]:
        return start_in_thread(services, interval=interval, say=log_line)

    keep = _keep_seconds(keep_predictions)
    background: list[Background] = [start_reaper, *([start_scheduler] if scheduler else [])]
    if keep is not None:
        background.append(functools.partial(start_pruner, keep_seconds=keep))
    try:
        sso = OidcSettings.from_environment()
    except InvalidInput as exc:
        raise typer.BadParameter(str(exc)) from None
    app = create_app(settings, user_tokens=grants or [], background=background, sso=sso)
    if not (settings.token or grants or _loopback(host) or _has_accounts(app.state.services)):
        app.state.services.close()
        raise typer.BadParameter(
            f"a server without authentication listens only on loopback, not on {host}: start "
            "it with --token (or DOCKYARD_TOKEN), or create an account first (`dockyard users "
            "create NAME`)",
            param_hint="--host",
        )
    say(f"dockyard server on http://{host}:{port} (API docs at /docs), data from {settings.db}")
    if sso is not None:
        say(escape(f"single sign-on through {sso.issuer} (client {sso.client_id})"))
    users = ", ".join(f"{g.name} ({g.role})" for g in grants or [])
    if settings.token or users:
        admin = "the admin token" if settings.token else "no admin token"
        say(escape(f"callers need a token: {admin}; users: {users or 'none'}"))
    else:
        say(
            "no tokens: anyone who reaches the server reads and writes as 'anonymous', and "
            "administration is refused over HTTP (start with --token or DOCKYARD_TOKEN)"
        )
    serve(app, host, port)
