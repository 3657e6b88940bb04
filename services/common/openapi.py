"""Error responses declared in OpenAPI exactly as the error handlers produce them, so clients
and fuzzers can trust the schema (issue 9)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field


class ValidationIssue(BaseModel):
    """One invalid field of a request (a 422 answer lists one per field)."""

    loc: list[str | int] = Field(description="Where in the request the problem is")
    msg: str = Field(description="What is wrong (the offending input is never echoed)")
    type: str = Field(description="Machine-readable error type")


class ErrorBody(BaseModel):
    """The body of every error answer (4xx and 5xx) of every service."""

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
    """Add 401 and 403 to every operation outside ``open_paths`` in the app's OpenAPI schema,
    and declare every 422 with ErrorBody.

    Every such operation depends on a role check (tests/unit/security/test_owasp.py calls each
    one without a key and expects 401), so the schema says so even for endpoints whose router
    did not list the codes. FastAPI declares its own HTTPValidationError for a 422 a router did
    not list, but services.common.hardening.validation_handler answers every 422 with
    ErrorBody (it never echoes the input), so that declaration would be wrong.
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
        _error_body_for_422(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_BUILTIN_422 = "#/components/schemas/HTTPValidationError"


def _error_body_for_422(schema: dict[str, Any]) -> None:
    """Point FastAPI's default 422 declarations at ErrorBody and drop its unused models."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            entry = operation.get("responses", {}).get("422")
            if entry is None:
                continue
            body = entry.get("content", {}).get("application/json", {}).get("schema", {})
            if body.get("$ref") == _BUILTIN_422:
                operation["responses"]["422"] = {
                    "description": _WHY[422],
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    # ErrorBody is there already: every app's key-admin router declares it. FastAPI's models
    # go once nothing refers to them (HTTPValidationError first: it refers to ValidationError).
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if name in components and f'"#/components/schemas/{name}"' not in json.dumps(schema):
            del components[name]
