"""Review API fixtures: a running service with three items queued, and role-aware callers."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import Request

from services.common.auth import Authenticator, Principal, Role
from services.common.schemas import LabelEvent, Reason, ReviewRequest
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from tests.unit.conftest import drain

ALICE = {"X-Reviewer": "alice", "X-Role": "reviewer"}
BOB = {"X-Reviewer": "bob", "X-Role": "reviewer"}
ADMIN = {"X-Reviewer": "root", "X-Role": "admin"}


class HeaderRoles(Authenticator):
    """Test identity: name and role from headers (the real key store is issue 9's)."""

    async def authenticate(self, request: Request) -> Principal:
        name = request.headers.get("x-reviewer", "anon")
        return Principal(key_id=f"k-{name}", name=name,
                         role=Role(request.headers.get("x-role", "reviewer")))


def request(item_id: str, priority: float, reason: Reason = Reason.UNCERTAINTY,
            embedding: list[float] | None = None) -> ReviewRequest:
    return ReviewRequest(item_id=item_id, text=f"text of {item_id}",
                         embedding=embedding or [0.1, 0.2], priority=priority, reason=reason,
                         predicted_label="sports", probabilities={"sports": 0.6, "space": 0.4})


@pytest.fixture
def settings() -> ReviewSettings:
    return ReviewSettings(lease_ttl_s=60, label_set=["sports", "space", "Politics"],
                          stats_interval_s=0.05, max_leases_per_reviewer=2)


async def start(running, settings, bus, store, topics, items):  # type: ignore[no-untyped-def]
    service = build_review_api(settings, bus, store)
    service.app.state.authenticator = HeaderRoles()
    r = running(service)
    await r.__aenter__()
    await bus.publish_many(topics.review_requests, [(i.item_id, i) for i in items])
    for _ in range(200):
        if (await store.queue.stats()).depth == len(items):
            break
        await asyncio.sleep(0.02)
    return r


@pytest.fixture
async def review(settings, bus, store, topics, running):
    r = await start(running, settings, bus, store, topics, [
        request("low", 0.2), request("high", 0.9), request("mid", 0.5, Reason.AUDIT)])
    yield r
    await r.__aexit__()


async def labels_published(bus, topics) -> list[LabelEvent]:  # type: ignore[no-untyped-def]
    return [LabelEvent.model_validate_json(v) for v in await drain(bus, topics.labels)]


async def lease(review, who=ALICE) -> dict:  # type: ignore[no-untyped-def]
    resp = await review.client.post("/v1/review/next", headers=who)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def label(review, item: dict, value: str, who=ALICE):  # type: ignore[no-untyped-def]
    return await review.client.post(f"/v1/review/leases/{item['lease_id']}/label",
                                    json={"label": value}, headers=who)
