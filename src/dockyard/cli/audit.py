"""``dockyard audit``: who did what, when, from where, and how it ended."""

from __future__ import annotations

import datetime as dt

import typer

from dockyard.cli.context import overrides
from dockyard.cli.options import JSON, LIMIT, PROJECT_FILTER
from dockyard.cli.output import Column, dump_json, say, table


def _ago(text: str) -> dt.timedelta:
    from dockyard.monitoring.schemas import period_seconds

    try:
        return dt.timedelta(seconds=period_seconds(text))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None


def audit(
    ctx: typer.Context,
    project: str | None = PROJECT_FILTER,
    user: str | None = typer.Option(None, "--user", help="Only what this principal did."),
    operation: str | None = typer.Option(
        None, "--operation", help="Only this operation (models.set_alias) or service (models)."
    ),
    outcome: str | None = typer.Option(
        None, "--outcome", help="Only ok, denied or failed calls.", case_sensitive=False
    ),
    since: str = typer.Option("7d", "--since", help="How far back: 1h, 1d, 7d, 2w..."),
    limit: int = LIMIT,
    as_json: bool = JSON,
) -> None:
    """Show the audit log of a server: every change, refusal and sign-in, newest first (a
    project's owners see its events; the admin sees all)."""
    if outcome is not None and outcome.lower() not in ("ok", "denied", "failed"):
        raise typer.BadParameter("use ok, denied or failed", param_hint="--outcome")
    start = dt.datetime.now(dt.UTC) - _ago(since)
    with overrides(ctx).client() as client:
        if not client.is_remote:
            say(
                "[dim]embedded sessions are not audited (the audit log is a server's): set "
                "DOCKYARD_URL to read a server's[/]"
            )
        page = client.audit.page(
            project=project,
            actor=user,
            operation=operation,
            outcome=outcome.lower() if outcome else None,
            since=start,
            limit=limit,
        )
    if as_json:
        dump_json(page.items)
        return
    table(
        None,
        [
            Column("when (UTC)", keep=True),
            Column("who", keep=True),
            Column("operation", keep=True),
            Column("project", drop=3),
            Column("target", drop=4),
            Column("from", drop=2),
            Column("outcome", keep=True),
            Column("detail", drop=1),
        ],
        [
            (
                f"{e.at:%Y-%m-%d %H:%M:%S}",
                e.actor,
                e.operation,
                e.project or "",
                " ".join(f"{k}={v}" for k, v in e.target.items() if k != "project"),
                e.address,
                e.outcome if e.outcome == "ok" else f"{e.outcome} ({e.status})",
                e.detail,
            )
            for e in page.items
        ],
        empty=f"no audit events match in the last {since}",
    )
    if page.next_cursor and not as_json:
        say(f"[dim]showing the newest {limit}; raise --limit or narrow the filters[/]")
