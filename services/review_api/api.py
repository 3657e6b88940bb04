"""Reviewer API: lease the most useful item, label, skip or extend it by lease id, correct."""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from services.common.auth import Principal, Role, require
from services.common.auth.ratelimit import EndpointClass, guard
from services.common.errors import BackendUnavailable
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import LabelName, MetaValue, Reason
from services.common.store import Lease, QueueStats
from services.review_api.deps import Deps
from services.review_api.flow import LabelOut

LeaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$",
                              description="The lease id returned by POST /v1/review/next")]
EventId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$",
                              description="A label event id (returned when labelling)")]
Reviewer = Annotated[Principal, Depends(require(Role.REVIEWER))]


class LeasedItem(BaseModel):
    item_id: str
    lease_id: str = Field(description="Name this lease in label, skip and heartbeat")
    expires_at: float = Field(description="Unix seconds; heartbeat to keep the item longer")
    text: str
    reason: Reason = Field(description="Why it was routed to a human")
    priority: float
    predicted_label: str | None
    confidence: float | None = Field(description="The model's probability of its prediction")
    probabilities: dict[str, float]
    suggestion: str | None = Field(description="A suggested label; never learned unconfirmed")
    metadata: dict[str, MetaValue]
    model_version: int
    votes: int = Field(description="Labels the item already has (k annotators)")
    votes_needed: int

    @classmethod
    def of(cls, lease: Lease) -> LeasedItem:
        item = lease.item
        probs = item.probabilities
        return cls(
            item_id=item.item_id, lease_id=lease.lease_id, expires_at=lease.expires_at,
            text=item.text, reason=item.reason, priority=item.priority,
            predicted_label=item.predicted_label,
            confidence=max(probs.values()) if probs else None, probabilities=probs,
            suggestion=item.suggestion, metadata=item.metadata, model_version=item.model_version,
            votes=lease.votes, votes_needed=lease.votes_needed,
        )


class LabelIn(BaseModel):
    model_config = {"extra": "forbid"}
    label: LabelName = Field(description="A label of the governed set (GET /v1/labels)")


class CorrectionOut(BaseModel):
    published_event_id: str | None = Field(
        description="The new event on the labels topic (retracting the old one), if any")
    item: LeasedItem | None = Field(
        default=None, description="After an undo: the item, leased back to you to relabel")


class StatsOut(QueueStats):
    mine_today: int = Field(description="Your labels today (UTC)")
    reviewer: str


def get_deps(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]


D = Annotated[Deps, Depends(get_deps)]
R404: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown lease or event"}}
LEASE_ERRORS: dict[int | str, dict[str, Any]] = {403: {"description": "Another reviewer's lease"},
                404: {"description": "Unknown lease"},
                409: {"description": "Expired or finished lease"}}


def router() -> APIRouter:
    # The role check and the per-key review rate limit for every route (issue 9), in that
    # order, so a refused role never spends tokens.
    r = APIRouter(prefix="/v1/review", tags=["review"],
                  dependencies=guard(Role.REVIEWER, limit=EndpointClass.REVIEW),
                  responses=error_responses(*AUTHED, 404, 409))

    @r.post("/next", response_model=LeasedItem, responses={204: {"description": "Queue empty"}})
    async def next_item(d: D, who: Reviewer) -> LeasedItem | Response:
        s = d.settings
        lease = await d.queue.lease(who.name, s.lease_ttl_s, s.max_leases_per_reviewer)
        if lease is None:
            return Response(status_code=204)
        d.metrics.leases.inc()
        await d.flow.audit(who, "lease", item_id=lease.item.item_id, lease_id=lease.lease_id)
        return LeasedItem.of(lease)

    @r.post("/leases/{lease_id}/label", response_model=LabelOut, responses=LEASE_ERRORS)
    async def label(lease_id: LeaseId, body: LabelIn, d: D, who: Reviewer) -> LabelOut:
        started = time.perf_counter()
        out = await d.flow.label(who, lease_id, body.label)
        d.metrics.label_latency.observe(time.perf_counter() - started)
        return out

    @r.post("/leases/{lease_id}/skip", status_code=204, responses=LEASE_ERRORS)
    async def skip(lease_id: LeaseId, d: D, who: Reviewer) -> Response:
        await d.queue.skip(lease_id, who.name)
        d.metrics.skips.inc()
        await d.flow.audit(who, "skip", lease_id=lease_id)
        return Response(status_code=204)

    @r.post("/leases/{lease_id}/heartbeat", response_model=LeasedItem, responses=LEASE_ERRORS)
    async def heartbeat(lease_id: LeaseId, d: D, who: Reviewer) -> LeasedItem:
        return LeasedItem.of(await d.queue.heartbeat(lease_id, who.name, d.settings.lease_ttl_s))

    @r.get("/leases/{lease_id}/similar", responses=LEASE_ERRORS)
    async def similar(lease_id: LeaseId, d: D, who: Reviewer, request: Request) -> object:
        """Similar queued or labelled items from the scorer, for an item you hold."""
        lease = await d.queue.heartbeat(lease_id, who.name, d.settings.lease_ttl_s)
        if not d.settings.scorer_url:
            return {"item_id": lease.item.item_id, "neighbors": [], "available": False}
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("authorization", "x-reviewer")}
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                resp = await client.get(f"{d.settings.scorer_url.rstrip('/')}/v1/similar",
                                        params={"item_id": lease.item.item_id, "k": 6},
                                        headers=headers)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the scorer did not answer: {exc}") from exc
        if resp.status_code == 404:
            return {"item_id": lease.item.item_id, "neighbors": [], "available": True}
        if resp.status_code != 200:
            raise BackendUnavailable(f"the scorer answered {resp.status_code}")
        return {**resp.json(), "available": True}

    @r.post("/labels/{event_id}/undo", response_model=CorrectionOut, responses=R404)
    async def undo(event_id: EventId, d: D, who: Reviewer) -> CorrectionOut:
        published, lease = await d.flow.correct(who, event_id, None)
        return CorrectionOut(published_event_id=published.event_id if published else None,
                             item=LeasedItem.of(lease) if lease else None)

    @r.put("/labels/{event_id}", response_model=CorrectionOut, responses=R404)
    async def change(event_id: EventId, body: LabelIn, d: D, who: Reviewer) -> CorrectionOut:
        published, _ = await d.flow.correct(who, event_id, body.label)
        return CorrectionOut(published_event_id=published.event_id if published else None)

    @r.get("/stats", response_model=StatsOut)
    async def stats(d: D, who: Reviewer) -> StatsOut:
        queue = await d.refresh_gauges()
        return StatsOut(**queue.model_dump(), reviewer=who.name,
                        mine_today=await d.flow.reviewers.today_count(who.name))

    return r



