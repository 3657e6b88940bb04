"""Reviewer API: lease the most useful item, label, skip or extend it by lease id, correct."""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field, ValidationError

from services.common.auth import Principal, Role, require
from services.common.auth.ratelimit import EndpointClass, guard
from services.common.errors import BackendUnavailable
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import LabelName, MetaValue, Reason
from services.common.similar import SimilarOut
from services.common.store import Lease, QueueStats
from services.review_api.deps import Deps
from services.review_api.flow import LabelOut

LeaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$",
                              description="The lease id returned by POST /v1/review/next")]
EventId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$",
                              description="A label event id (returned when labelling)")]
Reviewer = Annotated[Principal, Depends(require(Role.REVIEWER))]


class LeasedItem(BaseModel):
    """An item leased to you for labelling, with what the model thought of it."""

    item_id: str = Field(description="The document's id (as sent to ingest)")
    lease_id: str = Field(description="Name this lease in label, skip and heartbeat")
    expires_at: float = Field(description="Unix seconds; heartbeat to keep the item longer")
    text: str = Field(description="The document's text")
    reason: Reason = Field(description="Why it was routed to a human")
    priority: float = Field(description=(
        "Higher is served first: audit 2.0, feedback 1.6, cold start 1.5, otherwise the "
        "model's uncertainty in [0, 1]"))
    predicted_label: str | None = Field(
        description="The model's most probable class when routed; null before any label")
    confidence: float | None = Field(description="The model's probability of its prediction")
    probabilities: dict[str, float] = Field(
        description="The model's probability per class when routed, summing to 1")
    suggestion: str | None = Field(description="A suggested label; never learned unconfirmed")
    metadata: dict[str, MetaValue] = Field(description="The document's metadata, as ingested")
    model_version: int = Field(description="The model version that routed it (0: none yet)")
    votes: int = Field(description="Labels the item already has (k annotators)")
    votes_needed: int = Field(
        description="Distinct reviewers' labels the item needs before its label is published")

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
    """The label you give an item (or, on a correction, its new label)."""

    model_config = {"extra": "forbid"}
    label: LabelName = Field(description="A label of the governed set (GET /v1/labels)")


class CorrectionOut(BaseModel):
    """The outcome of undoing or changing one of your labels."""

    published_event_id: str | None = Field(
        description="The new event on the labels topic (retracting the old one), if any")
    item: LeasedItem | None = Field(
        default=None, description="After an undo: the item, leased back to you to relabel")


class LeaseSimilar(SimilarOut):
    """Queued or labeled items similar to the one you hold, from the scorer (most similar
    first), to compare it with what was already sent to humans."""

    item_id: str = Field(description="The item you hold")
    available: bool = Field(description=(
        "False when no scorer is configured (ALSTREAM_SCORER_URL unset): neighbors is then "
        "empty for that reason, not because nothing is similar"))


class StatsOut(QueueStats):
    """The review queue's state, and your own count for today."""

    mine_today: int = Field(description="Your labels today (UTC)")
    reviewer: str = Field(description="Your reviewer name (your key's name)")


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
        """Lease the most useful item you have not voted on or skipped; 204 when none waits.
        Label, skip or heartbeat it by lease id before the lease expires."""
        s = d.settings
        lease = await d.queue.lease(who.name, s.lease_ttl_s, s.max_leases_per_reviewer)
        if lease is None:
            return Response(status_code=204)
        d.metrics.leases.inc()
        await d.flow.audit(who, "lease", item_id=lease.item.item_id, lease_id=lease.lease_id)
        return LeasedItem.of(lease)

    @r.post("/leases/{lease_id}/label", response_model=LabelOut, responses=LEASE_ERRORS)
    async def label(lease_id: LeaseId, body: LabelIn, d: D, who: Reviewer) -> LabelOut:
        """Label the item you hold; repeating the same label under the lease is a no-op."""
        started = time.perf_counter()
        out = await d.flow.label(who, lease_id, body.label)
        d.metrics.label_latency.observe(time.perf_counter() - started)
        return out

    @r.post("/leases/{lease_id}/skip", status_code=204, responses=LEASE_ERRORS)
    async def skip(lease_id: LeaseId, d: D, who: Reviewer) -> Response:
        """Give the item back without a label; it is not offered to you again."""
        await d.queue.skip(lease_id, who.name)
        d.metrics.skips.inc()
        await d.flow.audit(who, "skip", lease_id=lease_id)
        return Response(status_code=204)

    @r.post("/leases/{lease_id}/heartbeat", response_model=LeasedItem, responses=LEASE_ERRORS)
    async def heartbeat(lease_id: LeaseId, d: D, who: Reviewer) -> LeasedItem:
        """Extend your lease to lease_ttl_s from now (the new expires_at is in the answer)."""
        return LeasedItem.of(await d.queue.heartbeat(lease_id, who.name, d.settings.lease_ttl_s))

    @r.get("/leases/{lease_id}/similar", response_model=LeaseSimilar, responses=LEASE_ERRORS)
    async def similar(lease_id: LeaseId, d: D, who: Reviewer, request: Request) -> LeaseSimilar:
        """Similar queued or labelled items from the scorer, for an item you hold."""
        lease = await d.queue.heartbeat(lease_id, who.name, d.settings.lease_ttl_s)
        item_id = lease.item.item_id
        if not d.settings.scorer_url:
            return LeaseSimilar(item_id=item_id, neighbors=[], available=False)
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("authorization", "x-reviewer")}
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                resp = await client.get(f"{d.settings.scorer_url.rstrip('/')}/v1/similar",
                                        params={"item_id": item_id, "k": 6}, headers=headers)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the scorer did not answer: {exc}") from exc
        if resp.status_code == 404:  # not in the scorer's index (yet): nothing to compare
            return LeaseSimilar(item_id=item_id, neighbors=[], available=True)
        if resp.status_code != 200:
            raise BackendUnavailable(f"the scorer answered {resp.status_code}")
        try:
            found = SimilarOut.model_validate_json(resp.content)
        except ValidationError as exc:  # a scorer of another version: a backend fault, not ours
            raise BackendUnavailable(
                f"the scorer's answer did not validate ({exc.error_count()} errors)") from exc
        return LeaseSimilar(item_id=item_id, neighbors=found.neighbors, available=True)

    @r.post("/labels/{event_id}/undo", response_model=CorrectionOut, responses=R404)
    async def undo(event_id: EventId, d: D, who: Reviewer) -> CorrectionOut:
        """Withdraw one of your labels (an admin: anyone's); the model forgets it and the item
        is leased back to you to relabel."""
        published, lease = await d.flow.correct(who, event_id, None)
        return CorrectionOut(published_event_id=published.event_id if published else None,
                             item=LeasedItem.of(lease) if lease else None)

    @r.put("/labels/{event_id}", response_model=CorrectionOut, responses=R404)
    async def change(event_id: EventId, body: LabelIn, d: D, who: Reviewer) -> CorrectionOut:
        """Replace one of your labels (an admin: anyone's) with another."""
        published, _ = await d.flow.correct(who, event_id, body.label)
        return CorrectionOut(published_event_id=published.event_id if published else None)

    @r.get("/stats", response_model=StatsOut)
    async def stats(d: D, who: Reviewer) -> StatsOut:
        """The review queue's depth, leases and age, and your labels today."""
        queue = await d.refresh_gauges()
        return StatsOut(**queue.model_dump(), reviewer=who.name,
                        mine_today=await d.flow.reviewers.today_count(who.name))

    return r



