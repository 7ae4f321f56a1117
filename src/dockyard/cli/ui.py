"""``dockyard ui``: open the web UI, on this home's data (embedded) or on DOCKYARD_URL's server."""

from __future__ import annotations

import errno
import webbrowser

import typer

from dockyard.cli.context import overrides
from dockyard.cli.output import say


def ui(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(
        8270, min=0, max=65535, help="Port to listen on (0, or taken: any free port)."
    ),
    browser: bool = typer.Option(
        True, "--browser/--no-browser", help="Open the UI in the default web browser."
    ),
) -> None:
    """Open the web UI: runs, datasets, models and pipeline runs. Embedded, it serves this home's
    data until Ctrl-C; with DOCKYARD_URL set, it opens that server's UI."""
    from dockyard.server.app import create_app
    from dockyard.server.runner import serve_in_thread
    from dockyard.server.ui import UI_DIR

    settings = overrides(ctx).settings()
    if settings.is_remote:
        url = str(settings.url).rstrip("/") + "/"
        say(f"the UI of {url}")
        if browser:
            webbrowser.open(url)
        return
    if not (UI_DIR / "index.html").is_file():
        raise typer.BadParameter(
            f"this dockyard has no built UI in {UI_DIR}; in a source checkout run "
            "scripts/build-ui.sh (needs Node.js >= 20.19)"
        )
    app = create_app(settings)
    try:
        running = serve_in_thread(app, host, port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0:
            raise
        say(f"port {port} is taken; using a free one")
        running = serve_in_thread(app, host, 0)
    say(f"dockyard UI on {running.url}/ over {settings.db} (Ctrl-C stops it)")
    if browser:
        webbrowser.open(running.url + "/")
    try:
        while running.thread.is_alive():
            running.thread.join(0.5)
    except KeyboardInterrupt:
        say("stopping")
    finally:
        running.stop()
