"""Per-key rate limits: a token bucket per (key id, endpoint class), 429 + Retry-After.

Buckets live in the store (Redis in production), so all replicas of a service spend from one
bucket per key. Buckets are per key, so one key flooding empties only its own bucket and never
slows another key. With auth off (embedded dev mode) there are no keys, so no limits.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Depends, Request

from services.common.auth.principal import Authenticator, Principal, Role, require
from services.common.errors import Overloaded
from services.common.observability import Metrics
from services.common.settings import CommonSettings
from services.common.store.security import RateLimiter


class EndpointClass(StrEnum):
    CLASSIFY = "classify"
    INGEST = "ingest"
    REVIEW = "review"


class RateLimited(Overloaded):
    """429 with the seconds after which a retry can succeed."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class Limits:
    limiter: RateLimiter
    rates: dict[EndpointClass, tuple[float, float]]  # (per second, burst)
    enabled: bool
    metrics: Metrics | None = None

    def __post_init__(self) -> None:
        self.refused = None if self.metrics is None else self.metrics.counter(
            "rate_limited_total", "Requests refused with 429 by the per-key rate limit",
            ["endpoint_class"])

    @classmethod
    def from_settings(cls, settings: CommonSettings, limiter: RateLimiter,
                      metrics: Metrics | None) -> Limits:
        return cls(limiter, {
            EndpointClass.CLASSIFY: (settings.rate_classify_per_s, settings.rate_classify_burst),
            EndpointClass.INGEST: (settings.rate_ingest_per_s, settings.rate_ingest_burst),
            EndpointClass.REVIEW: (settings.rate_review_per_s, settings.rate_review_burst),
        }, settings.rate_limits, metrics)

    async def check(self, principal: Principal, kind: EndpointClass) -> None:
        rate, burst = self.rates[kind]
        wait = await self.limiter.take(f"{kind.value}:{principal.key_id}", rate, burst)
        if wait > 0:
            if self.refused is not None:
                self.refused.labels(kind.value).inc()
            raise RateLimited(
                f"rate limit for {kind.value} requests exceeded for key {principal.key_id} "
                f"({rate:g}/s, burst {burst:g}); retry after {math.ceil(wait)} s", wait)


def rate_limit(kind: EndpointClass) -> Callable[[Request], Awaitable[None]]:
    """A dependency spending one token of the caller's bucket for ``kind``; list it after the
    role check (``require``), whose principal it reuses."""

    async def dependency(request: Request) -> None:
        authenticator: Authenticator = request.app.state.authenticator
        limits: Limits | None = getattr(request.app.state, "limits", None)
        if limits is None or not limits.enabled or not authenticator.enabled:
            return
        # The role check's principal (require caches it on the request): one authentication.
        await limits.check(await require()(request), kind)

    dependency.__name__ = f"rate_limit_{kind.value}"
    return dependency


def guard(*roles: Role, limit: EndpointClass | None = None) -> list[Any]:
    """``dependencies=`` for a route or router: the role check, then (optionally) the rate
    limit, in that order, so a refused role never spends tokens."""
    deps: list[Any] = [Depends(require(*roles))]
    if limit is not None:
        deps.append(Depends(rate_limit(limit)))
    return deps
