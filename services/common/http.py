"""HTTP edge shared by the services: body limits and error mapping to clear 4xx answers."""

from __future__ import annotations

import json
import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import (
    AlstreamError,
    BackendUnavailable,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Overloaded,
    Unauthorized,
    UnsupportedMedia,
)
from services.common.hardening import clean, validation_handler

log = logging.getLogger(__name__)

_STATUS: list[tuple[type[AlstreamError], int]] = [
    (Unauthorized, 401),
    (Forbidden, 403),
    (UnsupportedMedia, 415),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Overloaded, 429),
    (BackendUnavailable, 503),
]


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with 413 before they are buffered in memory.

    Checks Content-Length first and also counts streamed chunks, since chunked uploads carry
    no length.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: dict[str, int | None] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Per-path limits, e.g. a streamed bulk endpoint that may take far more than a JSON
        # body; None: the endpoint enforces its own limit (and can then say what it kept).
        self.overrides = overrides or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.overrides.get(scope["path"], self.max_bytes)
        if limit is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._reject(send, limit)
            return
        seen = 0
        too_big = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_big = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # Once the limit is hit, whatever the app answers (often a 400 about an unreadable
            # body) is replaced by our 413.
            if too_big:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        if too_big and not started:
            await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        body = json.dumps({"detail": f"request body exceeds the limit of {limit} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def install_error_handlers(app: FastAPI) -> None:
    """Map the exception root to status codes, so handlers just raise."""

    # 422s never echo the input: a NaN or a lone surrogate in the echo made them 500s.
    app.add_exception_handler(RequestValidationError, validation_handler)

    @app.exception_handler(AlstreamError)
    async def _handle(_: Request, exc: AlstreamError) -> JSONResponse:
        status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 500)
        if status >= 500:
            log.error("request failed: %s", exc)
        headers = None
        if status == 429:
            wait = getattr(exc, "retry_after_s", 1.0)
            headers = {"Retry-After": str(max(1, math.ceil(wait)))}
        elif status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="alstream"'}
        return JSONResponse({"detail": clean(str(exc), 2000)}, status_code=status,
                            headers=headers)
