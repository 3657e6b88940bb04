"""The governed label set, the audit trail and reviewer statistics."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from services.common.auth import Principal, Role, require
from services.common.labels import LabelListing
from services.common.openapi import AUTHED, error_responses
from services.common.schemas import DocId, LabelName
from services.common.store import AuditRecord
from services.review_api.api import D
from services.review_api.reviewers import ReviewersOut

Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
# Apps read the label set too (POST /v1/feedback takes the same labels).
Reader = Annotated[Principal, Depends(require(Role.REVIEWER, Role.APP))]
Limit = Annotated[int, Query(ge=1, le=1000, description="Newest records to return")]


class RelabelIn(BaseModel):
    """Rename a label, or merge it into another (the model relabels its statistics)."""

    model_config = {"extra": "forbid"}
    op: Literal["rename", "merge"] = Field(description="rename a label, or merge it into another")
    label: LabelName = Field(description="The label to change")
    into: LabelName = Field(description="New name (rename) or target label (merge)")


class RetireIn(BaseModel):
    """Retire a label: reviewers and apps can no longer use it."""

    model_config = {"extra": "forbid"}
    op: Literal["retire"] = Field(description="stop using a label")
    label: LabelName = Field(description="The label to retire")


# A union on `op`, so the schema itself says that rename and merge need `into` (clients and
# fuzzers can trust it) instead of a 422 for a schema-valid body.
LabelChangeIn = Annotated[RelabelIn | RetireIn, Field(discriminator="op")]


class LabelChangeOut(BaseModel):
    """A label-set change as applied, and the label set after it."""

    event_id: str = Field(description="The label_set event published on the labels topic")
    op: str = Field(description="rename, merge or retire")
    label: str = Field(description="The label changed (normalised)")
    into: str | None = Field(description="New name (rename) or target (merge); null for retire")
    labels: LabelListing = Field(description="The label set after the change")


class AuditOut(BaseModel):
    """Audit records, newest first."""

    records: list[AuditRecord] = Field(description="At most `limit` records, newest first")


def admin_router() -> APIRouter:
    r = APIRouter(prefix="/v1", responses=error_responses(*AUTHED, 404))

    @r.get("/labels", response_model=LabelListing, tags=["labels"])
    async def labels(d: D, _: Reader) -> LabelListing:
        """The governed label set: the labels reviewers and apps may use, with counts."""
        return await d.governance.listing()

    @r.post("/labels/changes", response_model=LabelChangeOut, tags=["labels"],
            responses={409: {"description": (
                "Rename onto an existing label, or the label set kept changing under "
                "concurrent changes (retry)")}})
    async def change(body: LabelChangeIn, d: D, who: Admin) -> LabelChangeOut:
        """Rename, merge or retire a label. Published on the labels topic, so the model
        relabels its statistics in log order, without retraining."""
        into = body.into if isinstance(body, RelabelIn) else None
        # The new label set and its label_set event are saved in one compare-and-set step (the
        # outbox): a crash cannot leave a change the model never hears of, and a concurrent
        # change is never lost (the loser plans again on the winner's label set).
        change, event = await d.governance.change(body.op, body.label, into, actor=who.name)
        await d.flow.publish()
        d.metrics.label_set_changes.labels(change.op).inc()
        await d.flow.audit(who, "label_set", event_id=event.event_id, label=change.label,
                           detail={"op": change.op, "into": change.into})
        return LabelChangeOut(event_id=event.event_id, op=change.op, label=change.label,
                              into=change.into, labels=await d.governance.listing())

    @r.get("/audit/items/{item_id:path}", response_model=AuditOut, tags=["audit"])
    # DocId, as ids are stored: not blank, so the schema refuses what the route would empty
    # (Starlette's `$` matches before a final newline: ".../items/%0A" gives item_id "").
    async def audit_item(item_id: Annotated[DocId, Path(description="The item's id")],
                         d: D, _: Admin, limit: Limit = 100) -> AuditOut:
        """Everything done to one item: leases, labels, skips, corrections, consensus."""
        return AuditOut(records=await d.store.audit.by_item(item_id, limit))

    @r.get("/audit/reviewers/{name}", response_model=AuditOut, tags=["audit"])
    async def audit_reviewer(name: Annotated[str, Path(min_length=1, max_length=128,
                                                       description="The key owner's name")],
                             d: D, _: Admin, limit: Limit = 100) -> AuditOut:
        """Everything one caller (reviewer, app or admin) did."""
        return AuditOut(records=await d.store.audit.by_actor(name, limit))

    @r.get("/review/reviewers", response_model=ReviewersOut, tags=["review"])
    async def reviewers(d: D, _: Admin) -> ReviewersOut:
        """Each reviewer's throughput, reliability and kappa, and Fleiss' kappa overall."""
        n_labels = len(await d.governance.known())
        out = await d.flow.reviewers.report(n_labels)
        for info in out.reviewers:
            d.metrics.reviewer_reliability.labels(info.reviewer).set(info.reliability)
            if info.kappa is not None:
                d.metrics.reviewer_kappa.labels(info.reviewer).set(info.kappa)
        if out.fleiss_kappa is not None:
            d.metrics.fleiss_kappa.set(out.fleiss_kappa)
        return out

    return r
