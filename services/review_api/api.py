"""Reviewer API: lease the most uncertain item, label or skip it, see the queue."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, StringConstraints

from services.common.auth import Principal, Role
from services.common.auth.ratelimit import EndpointClass, guard
from services.common.bus import Bus
from services.common.errors import InvalidInput
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import LabelName, MetaValue, Reason
from services.common.store import Lease, QueueStats, ReviewQueue
from services.review_api.metrics import ReviewMetrics
from services.review_api.settings import ReviewSettings

ReviewerId = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]


class LeasedItem(BaseModel):
    item_id: str
    text: str
    reason: Reason
    priority: float
    predicted_label: str | None
    probabilities: dict[str, float]
    suggestion: str | None
    metadata: dict[str, MetaValue]
    model_version: int
    lease_expires_at: float

    @classmethod
    def of(cls, lease: Lease) -> LeasedItem:
        item = lease.item
        return cls(
            item_id=item.item_id, text=item.text, reason=item.reason, priority=item.priority,
            predicted_label=item.predicted_label, probabilities=item.probabilities,
            suggestion=item.suggestion, metadata=item.metadata,
            model_version=item.model_version, lease_expires_at=lease.expires_at,
        )


class LabelIn(BaseModel):
    model_config = {"extra": "forbid"}
    label: LabelName


class LabelOut(BaseModel):
    item_id: str
    label: str
    event_id: str
    duplicate: bool


class Deps:
    def __init__(self, settings: ReviewSettings, bus: Bus, queue: ReviewQueue,
                 metrics: ReviewMetrics) -> None:
        self.settings = settings
        self.bus = bus
        self.queue = queue
        self.metrics = metrics

    def check_label(self, label: str) -> None:
        allowed = self.settings.label_set
        if allowed is not None and label not in allowed:
            raise InvalidInput(f"unknown label {label!r}; allowed labels: {sorted(allowed)}")

    async def refresh_gauges(self) -> QueueStats:
        stats = await self.queue.stats()
        self.metrics.depth.set(stats.depth)
        self.metrics.leased.set(stats.leased)
        self.metrics.labeled.set(stats.labeled)
        self.metrics.oldest_age.set(stats.oldest_age_s or 0.0)
        return stats


def get_deps(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]


D = Annotated[Deps, Depends(get_deps)]


def reviewer_name(request: Request) -> str:
    """The reviewer is the key's owner (set by the router's role check); no header can claim
    it. With auth off (dev mode) DevAuthenticator names the caller from X-Reviewer."""
    principal: Principal = request.state.principal
    return principal.name


Reviewer = Annotated[ReviewerId, Depends(reviewer_name)]


def router() -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["review"],
                  dependencies=guard(Role.REVIEWER, limit=EndpointClass.REVIEW),
                  responses=error_responses(*AUTHED, 404, 409))


    @r.get("/review/next", response_model=LeasedItem, responses={204: {"description": "empty"}})
    async def next_item(d: D, reviewer: Reviewer) -> LeasedItem | Response:
        lease = await d.queue.lease(reviewer, d.settings.lease_ttl_s)
        if lease is None:
            return Response(status_code=204)
        d.metrics.leases.inc()
        return LeasedItem.of(lease)

    @r.post("/review/{item_id:path}/label", response_model=LabelOut)
    async def label(item_id: str, body: LabelIn, d: D, reviewer: Reviewer) -> LabelOut:
        started = time.perf_counter()
        d.check_label(body.label)
        result = await d.queue.submit_label(item_id, reviewer, body.label)
        # Published on every call, duplicates too: if an earlier publish was lost in a crash,
        # the client's retry delivers it; the trainer skips items it already learned.
        await d.bus.publish(d.settings.topics.labels, result.event, key=item_id)
        if not result.duplicate:
            d.metrics.labels.labels(result.event.reason.value).inc()
        d.metrics.label_latency.observe(time.perf_counter() - started)
        return LabelOut(item_id=item_id, label=result.event.label,
                        event_id=result.event.event_id, duplicate=result.duplicate)

    @r.post("/review/{item_id:path}/skip", status_code=204)
    async def skip(item_id: str, d: D, reviewer: Reviewer) -> Response:
        await d.queue.skip(item_id, reviewer)
        d.metrics.skips.inc()
        return Response(status_code=204)

    @r.post("/review/{item_id:path}/heartbeat", response_model=LeasedItem)
    async def heartbeat(item_id: str, d: D, reviewer: Reviewer) -> LeasedItem:
        return LeasedItem.of(await d.queue.heartbeat(item_id, reviewer, d.settings.lease_ttl_s))

    @r.get("/review/stats", response_model=QueueStats)
    async def stats(d: D) -> QueueStats:
        return await d.refresh_gauges()

    @r.get("/labels")
    async def labels(d: D) -> dict[str, list[str] | None]:
        return {"labels": d.settings.label_set}

    return r
