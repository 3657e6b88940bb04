from __future__ import annotations

import asyncio

import pytest

from services.common.schemas import LabelEvent, Reason, ReviewRequest
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from tests.helpers import eventually
from tests.unit.conftest import drain

ALICE = {"X-Reviewer": "alice"}
BOB = {"X-Reviewer": "bob"}


def request(item_id: str, priority: float, reason: Reason = Reason.UNCERTAINTY) -> ReviewRequest:
    return ReviewRequest(item_id=item_id, text=f"text of {item_id}", embedding=[0.1, 0.2],
                         priority=priority, reason=reason, predicted_label="a")


@pytest.fixture
def settings() -> ReviewSettings:
    return ReviewSettings(lease_ttl_s=60, label_set=["sports", "space"], stats_interval_s=0.05)


@pytest.fixture
async def review(settings, bus, store, topics, running):
    async with running(build_review_api(settings, bus, store)) as r:
        await bus.publish_many(
            topics.review_requests,
            [("low", request("low", 0.2)), ("high", request("high", 0.9)),
             ("mid", request("mid", 0.5, Reason.AUDIT))],
        )
        for _ in range(100):
            if (await store.queue.stats()).depth == 3:
                break
            await asyncio.sleep(0.02)
        yield r


async def labels_published(bus, topics) -> list[LabelEvent]:
    return [LabelEvent.model_validate_json(v) for v in await drain(bus, topics.labels)]


async def test_next_leases_the_most_uncertain_item_first(review):
    got = [(await review.client.get("/v1/review/next", headers=ALICE)).json()["item_id"]
           for _ in range(3)]
    assert got == ["high", "mid", "low"]
    assert (await review.client.get("/v1/review/next", headers=ALICE)).status_code == 204


async def test_label_publishes_an_event_with_the_embedding(review, bus, topics):
    item = (await review.client.get("/v1/review/next", headers=ALICE)).json()
    assert item["lease_expires_at"] > 0
    resp = await review.client.post(f"/v1/review/{item['item_id']}/label",
                                    json={"label": "space"}, headers=ALICE)
    assert resp.status_code == 200 and resp.json()["duplicate"] is False
    (event,) = await labels_published(bus, topics)
    assert (event.item_id, event.label, event.reviewer) == ("high", "space", "alice")
    assert event.embedding == [0.1, 0.2]


async def test_label_is_idempotent(review):
    await review.client.get("/v1/review/next", headers=ALICE)
    first = await review.client.post("/v1/review/high/label", json={"label": "space"},
                                     headers=ALICE)
    again = await review.client.post("/v1/review/high/label", json={"label": "space"},
                                     headers=ALICE)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    stats = (await review.client.get("/v1/review/stats")).json()
    assert stats["labeled"] == 1


async def test_unknown_item_is_404(review):
    for path in ("label", "skip", "heartbeat"):
        body = {"label": "space"} if path == "label" else None
        resp = await review.client.post(f"/v1/review/nope/{path}", json=body, headers=ALICE)
        assert resp.status_code == 404, path
        assert "unknown item" in resp.json()["detail"]


async def test_labeling_an_item_leased_to_someone_else_is_409(review):
    await review.client.get("/v1/review/next", headers=ALICE)
    resp = await review.client.post("/v1/review/high/label", json={"label": "space"},
                                    headers=BOB)
    assert resp.status_code == 409
    assert "not leased to reviewer 'bob'" in resp.json()["detail"]


async def test_labeling_an_item_never_leased_is_409(review):
    resp = await review.client.post("/v1/review/low/label", json={"label": "space"},
                                    headers=ALICE)
    assert resp.status_code == 409


async def test_unknown_label_is_422_when_the_label_set_is_fixed(review, bus, topics):
    await review.client.get("/v1/review/next", headers=ALICE)
    resp = await review.client.post("/v1/review/high/label", json={"label": "cooking"},
                                    headers=ALICE)
    assert resp.status_code == 422
    assert "unknown label 'cooking'" in resp.json()["detail"]
    assert await labels_published(bus, topics) == []


@pytest.mark.parametrize("body", [{}, {"label": ""}, {"label": 3}, {"label": "a", "x": 1}])
async def test_malformed_label_body_is_422(review, body):
    await review.client.get("/v1/review/next", headers=ALICE)
    resp = await review.client.post("/v1/review/high/label", json=body, headers=ALICE)
    assert resp.status_code == 422


async def test_without_keys_the_reviewer_is_named_by_the_dev_header_or_dev(review):
    # Auth off (dev mode): X-Reviewer names the caller; with keys, the key's owner does
    # (tests/unit/security/test_owasp.py).
    lease = (await review.client.get("/v1/review/next")).json()
    resp = await review.client.post(f"/v1/review/{lease['item_id']}/label",
                                    json={"label": "space"}, headers=ALICE)
    assert resp.status_code == 409  # leased to "dev", not to alice
    resp = await review.client.post(f"/v1/review/{lease['item_id']}/label",
                                    json={"label": "space"})
    assert resp.status_code == 200


async def test_skip_returns_the_item_but_not_to_the_same_reviewer(review):
    await review.client.get("/v1/review/next", headers=ALICE)
    assert (await review.client.post("/v1/review/high/skip", headers=ALICE)).status_code == 204
    assert (await review.client.get("/v1/review/next", headers=ALICE)).json()["item_id"] == "mid"
    assert (await review.client.get("/v1/review/next", headers=BOB)).json()["item_id"] == "high"


async def test_stats_and_metrics(review):
    await review.client.get("/v1/review/next", headers=ALICE)
    stats = (await review.client.get("/v1/review/stats")).json()
    assert stats["depth"] == 2 and stats["leased"] == 1 and stats["labeled"] == 0
    assert stats["oldest_age_s"] >= 0

    async def depth_exported() -> bool:  # the gauge is refreshed by a periodic job
        return "alstream_review_queue_depth 2.0" in (await review.client.get("/metrics")).text

    await eventually(depth_exported, timeout_s=10, every_s=0.05, what="queue depth gauge")
    text = (await review.client.get("/metrics")).text
    assert 'alstream_review_enqueued_total{reason="audit"} 1.0' in text
    assert "alstream_review_leases_total 1.0" in text


async def test_expired_lease_returns_the_item(settings, bus, store, topics, running):
    settings.lease_ttl_s = 0.1
    async with running(build_review_api(settings, bus, store)) as r:
        await store.queue.enqueue(request("x", 0.5))
        assert (await r.client.get("/v1/review/next", headers=ALICE)).json()["item_id"] == "x"
        assert (await r.client.get("/v1/review/next", headers=BOB)).status_code == 204
        await asyncio.sleep(0.15)
        assert (await r.client.get("/v1/review/next", headers=BOB)).json()["item_id"] == "x"
        late = await r.client.post("/v1/review/x/label", json={"label": "space"}, headers=ALICE)
        assert late.status_code == 409


async def test_malformed_review_request_goes_to_dead_letter(review, bus, topics, store):
    await bus.publish(topics.review_requests, b'{"item_id": "broken"}', key="broken")
    await bus.publish(topics.review_requests, b"\xff not json", key="worse")
    await bus.publish(topics.review_requests, request("after", 0.1), key="after")
    for _ in range(100):
        if await store.queue.get("after") is not None:
            break
        await asyncio.sleep(0.02)
    assert await store.queue.get("after") is not None, "consumer stopped after bad input"
    letters = await drain(bus, topics.dead_letter)
    assert len(letters) == 2
    assert b'"source_topic":"alstream.review-requests"' in letters[0]
