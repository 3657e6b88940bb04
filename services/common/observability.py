"""Prometheus metrics and health endpoints, wired the same way in every service.

Each service owns a CollectorRegistry (not the global one) so the embedded stack can run four
services in one process and each /metrics shows only its own series.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field

from services.common.auth import require
from services.common.openapi import error_responses

ReadyCheck = Callable[[], dict[str, bool] | Awaitable[dict[str, bool]]]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """A service's registry plus typed constructors that always register into it."""

    def __init__(self, namespace: str = "alstream") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.namespace = namespace
        # Every consumer counts dead letters the same way, so the family is created here.
        self.dead_letters = self.counter(
            "dead_letters_total", "Messages sent to the dead-letter topic", ["topic", "group"]
        )
        # Positions that the broker no longer had (retention, truncation) and that moved; each
        # one is also logged at WARNING (services/common/bus/kafka_group.py).
        self.offset_resets = self.counter(
            "kafka_offset_resets_total", "Consumer positions moved because the log no longer "
            "had them", ["topic", "partition"])
        self.consumer_errors = self.counter(
            "consumer_errors_total", "Handler failures before a retry or dead-letter", ["group"]
        )

    def counter(self, name: str, doc: str, labels: list[str] | None = None) -> Counter:
        return Counter(name, doc, labels or [], namespace=self.namespace, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: list[str] | None = None) -> Gauge:
        return Gauge(name, doc, labels or [], namespace=self.namespace, registry=self.registry)

    def histogram(
        self,
        name: str,
        doc: str,
        labels: list[str] | None = None,
        buckets: tuple[float, ...] = LATENCY_BUCKETS,
    ) -> Histogram:
        return Histogram(
            name, doc, labels or [], namespace=self.namespace, registry=self.registry,
            buckets=buckets,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class PrometheusResponse(Response):
    media_type = CONTENT_TYPE_LATEST


class Health(BaseModel):
    """Liveness: the process answers (no dependency is checked)."""

    status: str = Field(description="'ok' while the process serves requests")


class Readiness(BaseModel):
    """Readiness: whether every dependency the service needs (bus, store, ...) answers."""

    status: str = Field(description="'ready' or 'not ready'")
    checks: dict[str, bool] = Field(description="Each dependency and whether it is ready")


def ops_router(metrics: Metrics, ready: ReadyCheck, protect_metrics: bool = False) -> APIRouter:
    """/healthz (process alive), /readyz (dependencies ready) and /metrics.

    Health stays open for probes; /metrics needs a key (any role) when ``protect_metrics``.
    """
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        """Liveness probe: 200 while the process serves requests. No key needed."""
        return {"status": "ok"}

    @router.get("/readyz", response_model=Readiness,
                responses={503: {"model": Readiness, "description": "A dependency is down"}})
    async def readyz() -> Response:
        """Readiness probe: 200 when every dependency answers, else 503. No key needed."""
        result: Any = ready()
        checks: dict[str, bool] = await result if inspect.isawaitable(result) else result
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    guard = [Depends(require())] if protect_metrics else []

    @router.get("/metrics", response_class=PrometheusResponse, dependencies=guard,
                responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                                 "description": "Prometheus text exposition format"},
                           **(error_responses(401, 429) if protect_metrics else {})})
    async def prometheus() -> Response:
        """This process's Prometheus metrics (text exposition format)."""
        return PrometheusResponse(metrics.render())

    return router
