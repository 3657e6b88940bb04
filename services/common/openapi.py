"""Error responses declared in OpenAPI exactly as the error handlers produce them, so clients
and fuzzers can trust the schema (issue 9)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where in the request the problem is")
    msg: str = Field(description="What is wrong (the offending input is never echoed)")
    type: str = Field(description="Machine-readable error type")


class ErrorBody(BaseModel):
    detail: str | list[ValidationIssue] = Field(
        description="A sentence saying what went wrong, or (422) one entry per invalid field")


_WHY = {
    400: "Malformed request",
    401: "Missing, malformed, wrong or revoked API key (see WWW-Authenticate)",
    403: "The key's role does not allow this endpoint",
    404: "Not found",
    409: "Conflicts with the current state (e.g. a lease held by someone else)",
    413: "Body, batch or line over the configured limit",
    415: "Unsupported Content-Type",
    422: "Invalid input; the reason names the field, never echoes the value",
    429: "Rate limit or admission control; retry after Retry-After seconds",
    503: "A backend (Kafka, Redis, the encoder) is unavailable",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these status codes, all with the ErrorBody schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _WHY[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        out[code] = entry
    return out


# What every authenticated endpoint can answer besides its own codes.
AUTHED = (400, 401, 403, 422, 429, 503)


# Operations that answer without a key; every other operation can answer 401 and 403.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/", "/openapi.json", "/docs",
                        "/redoc"})


def declare_auth_errors(app: FastAPI, open_paths: frozenset[str] = OPEN_PATHS) -> None:
    """Add 401 and 403 to every operation outside ``open_paths`` in the app's OpenAPI schema.

    Every such operation depends on a role check (tests/unit/security/test_owasp.py calls each
    one without a key and expects 401), so the schema says so even for endpoints whose router
    did not list the codes.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        ref = {"$ref": "#/components/schemas/ErrorBody"}
        for path, operations in schema.get("paths", {}).items():
            if path in open_paths or path.startswith("/static"):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code in (401, 403):
                    entry: dict[str, Any] = {"description": _WHY[code],
                                             "content": {"application/json": {"schema": ref}}}
                    if code in _HEADERS:
                        entry["headers"] = _HEADERS[code]
                    responses.setdefault(str(code), entry)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
