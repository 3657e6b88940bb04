"""Hostile-input guards shared by every service (issue 9).

- ``StrictJsonMiddleware`` checks JSON bodies before FastAPI parses them: NaN/Infinity
  (Python's json accepts them, nothing else does, and they cannot be serialised back), lone
  surrogates (accepted by the parser, then unencodable as UTF-8 on the bus), duplicate keys
  (which one wins differs between parsers) and nesting deeper than ``max_depth`` become a 422
  with a reason. It sits inside the body-limit middleware, so it only ever buffers a bounded
  body; streamed endpoints (bulk) are skipped and check each line themselves.
- ``validation_handler`` answers 422 without echoing the input: pydantic's errors carry the
  offending value, and a NaN or a surrogate in that echo used to turn the 422 into a 500.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_DEPTH = 32


class HostileJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise HostileJson(f"{name} is not valid JSON; send numbers as finite values")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e309 parses to inf without ever spelling "Infinity"
        raise HostileJson(f"number {text[:32]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise HostileJson(f"duplicate key {clean(key, 64)!r} in a JSON object")
        out[key] = value
    return out


def _check(value: Any, depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise HostileJson(f"JSON nested deeper than {max_depth} levels")
    if isinstance(value, str):
        _check_text(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_text(k)
            _check(v, depth + 1, max_depth)
    elif isinstance(value, list):
        for v in value:
            _check(v, depth + 1, max_depth)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise HostileJson("a string holds a lone surrogate (invalid Unicode)") from None


def strict_loads(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads that refuses NaN/Infinity, duplicate keys, lone surrogates and deep nesting,
    raising HostileJson (a ValueError) with a reason; never RecursionError."""
    try:
        value = json.loads(data, parse_constant=_no_constants, parse_float=_finite,
                           object_pairs_hook=_unique_keys)
    except RecursionError:
        raise HostileJson(f"JSON nested deeper than {max_depth} levels") from None
    _check(value, 0, max_depth)
    return value


def clean(text: str, limit: int = 200) -> str:
    """A string safe to put in a JSON answer: surrogates replaced, length bounded."""
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]


def issue(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": [x if isinstance(x, int) else clean(str(x), 100) for x in loc],
            "msg": clean(msg, 300), "type": clean(kind, 64)}


async def validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [issue(list(e.get("loc", ())), str(e.get("msg", "invalid")),
                    str(e.get("type", "value_error"))) for e in exc.errors()[:50]]
    return JSONResponse({"detail": errors}, status_code=422)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True  # FastAPI parses a body without Content-Type as JSON too


class StrictJsonMiddleware:
    def __init__(self, app: ASGIApp, skip_paths: frozenset[str] = frozenset(),
                 max_depth: int = MAX_DEPTH) -> None:
        self.app = app
        self.skip = skip_paths
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH")
                or scope["path"] in self.skip or not _is_json(scope)):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            try:
                strict_loads(body, self.max_depth)
            except HostileJson as exc:
                await self._refuse(send, str(exc))
                return
            except json.JSONDecodeError:
                pass  # plain syntax errors: FastAPI reports them with their position
            except ValueError as exc:  # e.g. an integer beyond Python's 4300-digit limit
                await self._refuse(send, clean(str(exc), 200))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, reason: str) -> None:
        body = json.dumps({"detail": [issue(["body"], reason, "json_invalid")]}).encode()
        await send({"type": "http.response.start", "status": 422,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
