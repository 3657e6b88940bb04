"""API docs that work offline: Swagger UI and ReDoc served from a PyPI package, not a CDN.

FastAPI's default ``/docs`` loads Swagger UI from a CDN, so it is a blank page on a machine
without internet. ``fastapi-offline`` ships the same assets (Swagger UI 5, which renders the
OpenAPI 3.1 schemas FastAPI writes; ReDoc) inside its wheel; we serve them from there under
``/docs/assets`` and point FastAPI's own page builders at those local URLs.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute, Route

ASSETS_URL = "/docs/assets"
_DOC_PATHS = {"/docs", "/redoc", "/docs/oauth2-redirect"}


def assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_offline_docs(app: FastAPI) -> None:
    """Replace ``/docs`` and ``/redoc`` of an existing app with pages that use local assets."""
    # FastAPI registered its CDN pages in __init__; drop them so ours are the only ones.
    app.router.routes[:] = [r for r in app.router.routes if not _is_doc_route(r)]
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} - docs",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url, title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    app.add_api_route("/docs", swagger, include_in_schema=False)
    app.add_api_route("/docs/oauth2-redirect", oauth2_redirect, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="docs-assets")


def _is_doc_route(route: BaseRoute) -> bool:
    return isinstance(route, Route) and route.path in _DOC_PATHS
