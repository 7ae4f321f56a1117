"""The web UI: the built single-page app (``ui/`` in the repository, built into this package's
``server/ui`` folder) served at ``/``; a GET for any other path that no route serves is one of
its pages (the app shows its own message for a page it does not know)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from dockyard.server.errors import route_not_found

UI_DIR = Path(__file__).with_name("ui")
_NOT_PAGES = ("/api/", "/assets/", "/docs", "/redoc", "/openapi.json")


class _ImmutableAssets(StaticFiles):
    """Hashed build outputs: their names change when their content does, so cache forever."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install_ui(app: FastAPI, folder: Path = UI_DIR) -> bool:
    """Serve the UI from ``folder`` if it holds a build (else ``/`` goes to the API docs).

    Returns whether the UI is served.
    """
    index = folder / "index.html"
    if not index.is_file():

        @app.get("/", include_in_schema=False)
        def docs() -> RedirectResponse:
            return RedirectResponse("/docs")

        return False
    if (folder / "assets").is_dir():
        app.mount("/assets", _ImmutableAssets(directory=folder / "assets"), name="ui-assets")

    def page() -> FileResponse:
        # never cached: the page names the current build's assets
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def root() -> FileResponse:
        return page()

    async def unrouted(request: Request, _exc: Exception) -> Response:
        path = request.url.path
        if request.method in ("GET", "HEAD") and not path.startswith(_NOT_PAGES):
            return page()
        return route_not_found(request)

    # status handlers are consulted before the class handler that formats other HTTP errors
    app.add_exception_handler(404, unrouted)
    return True
