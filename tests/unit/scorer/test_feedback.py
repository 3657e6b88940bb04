"""POST /v1/feedback: an app corrects a prediction, under the governed label set."""

from __future__ import annotations

import pytest

from services.common.schemas import LabelEvent, LabelSource, Reason, ReviewRequest
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from tests.unit.conftest import drain

BODY = {"doc_id": "https://news.example/a/1", "label": " Space ", "text": "rocket to the moon"}


async def feedback_events(bus, topics) -> list[LabelEvent]:  # type: ignore[no-untyped-def]
    return [LabelEvent.model_validate_json(v) for v in await drain(bus, topics.labels)]


@pytest.mark.parametrize("mode,weight", [("learn", 1.0), ("weighted", 0.25)])
async def test_feedback_becomes_an_app_label(mode, weight, bus, store, topics, encoder, running):
    settings = ScorerSettings(label_set=["space", "hockey"], feedback_mode=mode,
                              feedback_weight=0.25)
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as r:
        resp = await r.client.post("/v1/feedback", json=BODY, headers={"X-Reviewer": "crm"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["label"] == "space" and resp.json()["duplicate"] is False
        again = await r.client.post("/v1/feedback", json=BODY, headers={"X-Reviewer": "crm"})
        assert again.json()["duplicate"] is True
        assert again.json()["event_id"] == resp.json()["event_id"]
        events = await feedback_events(bus, topics)
        assert {e.event_id for e in events} == {resp.json()["event_id"]}  # retries: one id
        event = events[0]
        assert (event.source, event.weight, event.reason) == (LabelSource.APP, weight,
                                                              Reason.FEEDBACK)
        assert event.reviewer == "crm" and len(event.embedding) == encoder.dim
        audit = await store.audit.by_item(BODY["doc_id"])
        assert [(a.action, a.actor) for a in audit] == [("feedback", "crm")]


async def test_feedback_in_review_mode_queues_for_a_human(bus, store, topics, encoder, running):
    settings = ScorerSettings(label_set=["space", "hockey"])
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as r:
        resp = await r.client.post("/v1/feedback", json=BODY)
        assert resp.status_code == 200 and resp.json()["mode"] == "review"
        assert await feedback_events(bus, topics) == []  # nothing learned unconfirmed
        (raw,) = await drain(bus, topics.review_requests)
        request = ReviewRequest.model_validate_json(raw)
        assert (request.item_id, request.reason, request.suggestion) == (
            BODY["doc_id"], Reason.FEEDBACK, "space")


async def test_feedback_follows_the_label_set(bus, store, topics, encoder, running):
    settings = ScorerSettings(label_set=["space", "hockey"], feedback_mode="learn")
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as r:
        resp = await r.client.post("/v1/feedback", json={**BODY, "label": "cooking"})
        assert resp.status_code == 422 and "valid labels" in resp.json()["detail"]
        bad = await r.client.post("/v1/feedback", json={**BODY, "source": "admin"})
        assert bad.status_code == 422  # a payload cannot set the source
        assert await feedback_events(bus, topics) == []
