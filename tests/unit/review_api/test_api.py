from __future__ import annotations

import asyncio

import pytest

from services.common.schemas import LabelAction, LabelSource
from services.review_api.service import build_review_api
from tests.helpers import eventually
from tests.unit.conftest import drain
from tests.unit.review_api.conftest import (
    ADMIN,
    ALICE,
    BOB,
    HeaderRoles,
    label,
    labels_published,
    lease,
    request,
)


async def test_next_leases_the_most_uncertain_item_first(review):
    got = [await lease(review, who) for who in (ALICE, ALICE, BOB)]
    assert [g["item_id"] for g in got] == ["high", "mid", "low"]
    assert len({g["lease_id"] for g in got}) == 3
    first = got[0]
    assert first["expires_at"] > 0 and first["reason"] == "uncertainty"
    assert first["confidence"] == 0.6 and first["votes_needed"] == 1
    assert (await review.client.post("/v1/review/next", headers=BOB)).status_code == 204


async def test_label_publishes_an_event_with_the_embedding(review, bus, topics):
    item = await lease(review)
    resp = await label(review, item, "space")
    body = resp.json()
    assert resp.status_code == 200 and body["duplicate"] is False
    assert body["status"] == "published" and body["published_event_id"] == body["event_id"]
    (event,) = await labels_published(bus, topics)
    assert (event.item_id, event.label, event.reviewer) == ("high", "space", "alice")
    assert event.embedding == [0.1, 0.2] and event.source is LabelSource.REVIEWER


async def test_the_same_label_twice_counts_once(review):
    item = await lease(review)
    first = await label(review, item, "space")
    again = await label(review, item, " Space ")  # normalised to the same label
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    assert (await review.client.get("/v1/review/stats", headers=ALICE)).json()["labeled"] == 1
    other = await label(review, item, "sports")
    assert other.status_code == 409 and "already used" in other.json()["detail"]
    listing = (await review.client.get("/v1/labels", headers=ALICE)).json()
    assert {x["label"]: x["count"] for x in listing["labels"]}["space"] == 1


async def test_lease_errors_have_reasons(review):
    for path in ("label", "skip", "heartbeat"):
        body = {"label": "space"} if path == "label" else None
        resp = await review.client.post(f"/v1/review/leases/abc123/{path}", json=body,
                                        headers=ALICE)
        assert resp.status_code == 404, path
        assert "unknown lease" in resp.json()["detail"]
    item = await lease(review)
    foreign = await label(review, item, "space", who=BOB)
    assert foreign.status_code == 403 and "another reviewer" in foreign.json()["detail"]
    bad = await review.client.post("/v1/review/leases/not-hex!/skip", headers=ALICE)
    assert bad.status_code == 422


async def test_fixed_label_set_is_normalised_and_unknown_labels_are_422(review, bus, topics):
    item = await lease(review)
    resp = await label(review, item, "cooking")
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert "unknown label 'cooking'" in detail and "'space'" in detail and "'Politics'" in detail
    assert await labels_published(bus, topics) == []
    ok = await label(review, item, "  POLITICS ")
    assert ok.status_code == 200 and ok.json()["label"] == "Politics"


async def test_open_mode_new_labels_need_admin(settings, bus, store, topics, running):
    from tests.unit.review_api.conftest import start

    settings.label_set = None
    r = await start(running, settings, bus, store, topics, [request("a", 0.9), request("b", 0.1)])
    try:
        item = await lease(r)
        refused = await label(r, item, "Sports ")
        assert refused.status_code == 422 and "admin" in refused.json()["detail"]
        admin_item = await lease(r, ADMIN)
        created = await label(r, admin_item, "Sports ", who=ADMIN)
        assert created.json()["label"] == "sports"  # trimmed and case-folded
        assert (await label(r, item, "SPORTS")).json()["label"] == "sports"
    finally:
        await r.__aexit__()


@pytest.mark.parametrize("body", [{}, {"label": ""}, {"label": 3}, {"label": "a", "x": 1}])
async def test_malformed_label_body_is_422(review, body):
    item = await lease(review)
    resp = await review.client.post(f"/v1/review/leases/{item['lease_id']}/label", json=body,
                                    headers=ALICE)
    assert resp.status_code == 422


async def test_without_keys_the_reviewer_is_named_by_the_dev_header_or_dev(review):
    # Auth off (dev mode): X-Reviewer names the caller; with keys, the key's owner does
    # (tests/unit/security/test_owasp.py).
    leased = (await review.client.post("/v1/review/next")).json()
    url = f"/v1/review/leases/{leased['lease_id']}/label"
    resp = await review.client.post(url, json={"label": "space"}, headers=ALICE)
    assert resp.status_code == 403  # leased to "dev", not to alice
    resp = await review.client.post(url, json={"label": "space"})
    assert resp.status_code == 200


async def test_lease_cap_stops_one_client_leasing_the_queue(review):
    got = [(await lease(review))["lease_id"] for _ in range(5)]
    assert len(set(got)) == 2  # the cap: the third call hands back the oldest own lease
    assert (await lease(review, BOB))["item_id"] == "low"


async def test_skip_returns_the_item_but_not_to_the_same_reviewer(review):
    item = await lease(review)
    skip = await review.client.post(f"/v1/review/leases/{item['lease_id']}/skip", headers=ALICE)
    assert skip.status_code == 204
    assert (await lease(review))["item_id"] == "mid"
    assert (await lease(review, BOB))["item_id"] == "high"
    again = await review.client.post(f"/v1/review/leases/{item['lease_id']}/skip", headers=ALICE)
    assert again.status_code == 409


async def test_undo_retracts_and_gives_the_item_back(review, bus, topics):
    item = await lease(review)
    first = (await label(review, item, "space")).json()
    undo = await review.client.post(f"/v1/review/labels/{first['event_id']}/undo",
                                    headers=ALICE)
    assert undo.status_code == 200, undo.text
    back = undo.json()["item"]
    assert back["item_id"] == "high" and back["lease_id"] != item["lease_id"]
    relabel = (await label(review, back, "sports")).json()
    events = await labels_published(bus, topics)
    assert [(e.action, e.label) for e in events] == [
        (LabelAction.LABEL, "space"), (LabelAction.RETRACT, "space"),
        (LabelAction.LABEL, "sports")]
    assert events[1].retracts == first["event_id"] and events[2].event_id == relabel["event_id"]
    twice = await review.client.post(f"/v1/review/labels/{first['event_id']}/undo",
                                     headers=ALICE)
    assert twice.status_code == 404 and "already corrected or undone" in twice.json()["detail"]
    counts = {x["label"]: x["count"] for x in
              (await review.client.get("/v1/labels", headers=ALICE)).json()["labels"]}
    assert counts["space"] == 0 and counts["sports"] == 1


async def test_corrections_window_and_roles(settings, bus, store, topics, running):
    from tests.unit.review_api.conftest import start

    settings.correction_window_s = 0.2
    r = await start(running, settings, bus, store, topics, [request("a", 0.9), request("b", 0.5)])
    try:
        item = await lease(r)
        event_id = (await label(r, item, "space")).json()["event_id"]
        foreign = await r.client.put(f"/v1/review/labels/{event_id}", json={"label": "sports"},
                                     headers=BOB)
        assert foreign.status_code == 403 and "own reviewer" in foreign.json()["detail"]
        own = await r.client.put(f"/v1/review/labels/{event_id}", json={"label": "sports"},
                                 headers=ALICE)
        assert own.status_code == 200
        new_id = own.json()["published_event_id"]
        await asyncio.sleep(0.3)
        late = await r.client.put(f"/v1/review/labels/{new_id}", json={"label": "space"},
                                  headers=ALICE)
        assert late.status_code == 403 and "window" in late.json()["detail"]
        admin = await r.client.put(f"/v1/review/labels/{new_id}", json={"label": "Politics"},
                                   headers=ADMIN)
        assert admin.status_code == 200
        events = await labels_published(bus, topics)
        assert [(e.label, e.retracts, e.source) for e in events] == [
            ("space", None, LabelSource.REVIEWER), ("sports", event_id, LabelSource.REVIEWER),
            ("Politics", new_id, LabelSource.ADMIN)]
    finally:
        await r.__aexit__()


async def test_expired_lease_returns_the_item(settings, bus, store, running):
    settings.lease_ttl_s = 0.1
    service = build_review_api(settings, bus, store)
    service.app.state.authenticator = HeaderRoles()
    async with running(service) as r:
        await store.queue.enqueue(request("x", 0.5))
        item = await lease(r)
        assert (await r.client.post("/v1/review/next", headers=BOB)).status_code == 204
        await asyncio.sleep(0.15)
        assert (await lease(r, BOB))["item_id"] == "x"
        late = await label(r, item, "space")
        assert late.status_code == 409 and "expired" in late.json()["detail"]


async def test_stats_and_metrics(review):
    await lease(review)
    stats = (await review.client.get("/v1/review/stats", headers=ALICE)).json()
    assert stats["depth"] == 2 and stats["leased"] == 1 and stats["labeled"] == 0
    assert stats["reviewer"] == "alice" and stats["mine_today"] == 0

    async def depth_exported() -> bool:  # the gauge is refreshed by a periodic job
        return "alstream_review_queue_depth 2.0" in (await review.client.get("/metrics")).text

    await eventually(depth_exported, timeout_s=10, every_s=0.05, what="queue depth gauge")
    text = (await review.client.get("/metrics")).text
    assert 'alstream_review_enqueued_total{reason="audit"} 1.0' in text
    assert "alstream_review_leases_total 1.0" in text


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
