"""The reviewer page at ``/``: static HTML, CSS and JS shipped in the package.

No build step, no CDN: three files read once at start. The page reads its configuration from
``/page-config.json`` (is auth on, is a scorer for similar items configured), keeps the key in
sessionStorage and sends it as a Bearer token. Strict CSP: scripts and styles only from here.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.review_api.settings import ReviewSettings

_TYPES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _asset(name: str) -> bytes:
    return (files("services.review_api") / "static" / name).read_bytes()


def page_router(settings: ReviewSettings) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    assets = {name: _asset(name) for name in (*_TYPES, "index.html")}
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}

    @r.get("/")
    async def index() -> HTMLResponse:
        return HTMLResponse(assets["index.html"], headers=headers)

    @r.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in _TYPES:
            return Response(status_code=404)
        return Response(assets[name], media_type=_TYPES[name], headers=headers)

    @r.get("/page-config.json")
    async def config(request: Request) -> dict[str, object]:
        auth = request.app.state.authenticator
        return {"auth": bool(getattr(auth, "enabled", True)),
                "similar": bool(settings.scorer_url),
                "correction_window_s": settings.correction_window_s}

    return r
