"""Error responses declared in OpenAPI exactly as the error handlers produce them, so clients
and fuzzers can trust the schema (issue 9)."""

from __future__ import annotations

from typing import Any

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
