"""POST /v1/feedback: an app reports that a prediction was wrong, with the right label.

The scorer takes it because it has the encoder: the request carries the document's text, so
the feedback becomes a label event with an embedding (or a review request) without a lookup.
The label goes through the same governed label set as reviewers' labels. What happens next is
the ``feedback_mode`` setting:

- ``review`` (default): the document is queued for a human (reason ``feedback``, the app's
  label as the suggestion); nothing is learned until a reviewer labels it;
- ``weighted``: a label event with ``source=app`` and ``weight=feedback_weight``;
- ``learn``: the same at weight 1.

The event id is derived from (app, document, label), and the first submission is marked in
the store, so an app retrying the same feedback is counted and published once. A learned
label is stored in the labels outbox together with that mark (store/outbox.py), so a crash
before the publish cannot lose it; a queued one is published again by the app's retry (the
review queue drops a repeated item id).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from services.common.auth import Principal, Role, require
from services.common.auth.ratelimit import EndpointClass, guard
from services.common.bus import Bus
from services.common.errors import InvalidInput
from services.common.labels import LabelGovernance
from services.common.openapi import AUTHED, error_responses
from services.common.outbox_relay import OutboxRelay
from services.common.schemas import (
    DocId,
    LabelEvent,
    LabelName,
    LabelSource,
    Reason,
    ReviewRequest,
    Text,
)
from services.common.store import AuditRecord, Store
from services.scorer.model_holder import ModelHolder
from services.scorer.settings import ScorerSettings

Embed = Callable[[list[str]], Awaitable[np.ndarray]]
FEEDBACK_PRIORITY = 1.6  # after audit (2.0), before cold start (1.5) and uncertainty (<= 1)


class FeedbackIn(BaseModel):
    """An app's report that a prediction was wrong, with the right label."""

    model_config = {"extra": "forbid"}
    doc_id: DocId = Field(description="The document whose prediction was wrong")
    label: LabelName = Field(description="The right label (governed label set)")
    text: Text = Field(description="The document's text, as sent to /v1/classify")


class FeedbackOut(BaseModel):
    """How the feedback was recorded (the feedback_mode setting decides)."""

    doc_id: str = Field(description="The document the feedback is about")
    label: str = Field(description="The label as recorded (normalised)")
    mode: Literal["review", "weighted", "learn"] = Field(description=(
        "review: queued for a human with the label as suggestion; weighted: learned at "
        "feedback_weight; learn: learned at weight 1"))
    event_id: str = Field(description="The label event, or the review request's item id")
    duplicate: bool = Field(description="The same feedback was already recorded")


def feedback_router(settings: ScorerSettings, bus: Bus, store: Store, holder: ModelHolder,
                    embed: Embed, relay: OutboxRelay) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["feedback"],
                  dependencies=guard(Role.APP, limit=EndpointClass.CLASSIFY),
                  responses=error_responses(*AUTHED, 404, 409))
    governance = LabelGovernance(store.kv, settings.label_set, case_fold=settings.label_case_fold,
                                 open_new=settings.label_open)
    topics = settings.topics

    @r.post("/feedback", response_model=FeedbackOut)
    async def feedback(body: FeedbackIn,
                       who: Annotated[Principal, Depends(require(Role.APP))]) -> FeedbackOut:
        """Report a wrong prediction with the right label. Idempotent: the same (app,
        document, label) is recorded once."""
        if len(body.text) > settings.classify_max_chars:
            raise InvalidInput(f"text has {len(body.text)} characters; "
                               f"the limit is {settings.classify_max_chars}")
        label = await governance.resolve(body.label, admin=who.role is Role.ADMIN)
        mode = settings.feedback_mode
        event_id = hashlib.sha256(f"{who.name}\n{body.doc_id}\n{label}".encode()).hexdigest()[:32]
        mark = f"feedback:{event_id}"
        vector = (await embed([body.text]))[0]
        version, model = holder.snapshot()
        probs = await asyncio.to_thread(model.predict_proba_one, vector) if model else {}
        predicted = max(probs, key=probs.__getitem__) if probs else None
        if mode == "review":
            first = await store.kv.set_if_absent(mark, b"1")
            await bus.publish(topics.review_requests, ReviewRequest(
                item_id=body.doc_id, text=body.text, embedding=[float(v) for v in vector],
                priority=FEEDBACK_PRIORITY, reason=Reason.FEEDBACK, predicted_label=predicted,
                probabilities=probs, model_version=version, suggestion=label,
                metadata={"feedback_from": who.name}), key=body.doc_id)
        else:
            event = LabelEvent(
                event_id=event_id, item_id=body.doc_id, label=label,
                embedding=[float(v) for v in vector], reviewer=who.name, reason=Reason.FEEDBACK,
                predicted_label=predicted, model_version=version, source=LabelSource.APP,
                weight=settings.feedback_weight if mode == "weighted" else 1.0)
            first = await store.outbox.add([event], marks={mark: b"1"}, once=True)
            await relay.send_soon()
            if first:
                await governance.count(label, +1)
        if first:
            await store.audit.append(AuditRecord(
                actor=who.name, role=who.role.value, action="feedback", item_id=body.doc_id,
                event_id=event_id, label=label,
                detail={"mode": mode, "predicted": predicted, "model_version": version}))
        return FeedbackOut(doc_id=body.doc_id, label=label, mode=mode, event_id=event_id,
                           duplicate=not first)

    return r
