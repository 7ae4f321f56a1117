"""The API docs page (``/docs``), served with Swagger UI's own files from the package.

A self-hosted server may have no internet: the page must not load its script, styles or icon
from a CDN, nor ask an online validator about the document. The files ship in the UI build
(``server/ui/docs``, copied from the ``swagger-ui-dist`` npm package by ``ui/vite.config.ts``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles

DOCS_ASSETS = Path(__file__).with_name("ui") / "docs"
STATIC_PATH = "/docs/static"


def install_api_docs(app: FastAPI, assets: Path = DOCS_ASSETS) -> None:
    """Serve ``/docs`` from ``assets`` (the app must be created with ``docs_url=None``)."""
    have_assets = (assets / "swagger-ui-bundle.js").is_file()
    if have_assets:
        app.mount(STATIC_PATH, StaticFiles(directory=assets), name="api-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        if not have_assets:
            return PlainTextResponse(
                "The API docs page's files are not in this installation (build the UI with "
                f"scripts/build-ui.sh); the OpenAPI document is at {openapi_url}.",
                status_code=404,
            )
        page: HTMLResponse = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{STATIC_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PATH}/favicon-32x32.png",
            # no online validator badge: it would call validator.swagger.io
            swagger_ui_parameters={**swagger_ui_default_parameters, "validatorUrl": None},
        )
        return page
