"""All four services with API keys on (auth=True), on one memory bus and store, with keys for
every role: the fixture the OWASP, hostile-input and fuzz tests share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.common.auth import Role
from services.common.auth.keys import new_key
from services.common.bus import MemoryBus
from services.common.runtime import Service
from services.common.schemas import Reason, ReviewRequest
from services.common.store import MemoryStore
from services.common.topics import Topics
from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings
from tests.fakes import HashingEncoder

BOOTSTRAP = "bootstrap-admin-key-for-tests-0123456789abcdef"
SECURE = {"auth": True}
# Small limits so the API4 tests reach them quickly.
LIMITS = {"rate_classify_per_s": 5.0, "rate_classify_burst": 10.0, "rate_ingest_per_s": 5.0,
          "rate_ingest_burst": 10.0, "rate_review_per_s": 5.0, "rate_review_burst": 10.0}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def review_request(item_id: str, priority: float = 0.5) -> ReviewRequest:
    return ReviewRequest(item_id=item_id, text=f"text of {item_id}", embedding=[0.1] * 32,
                         priority=priority, reason=Reason.UNCERTAINTY, predicted_label="space",
                         probabilities={"space": 0.6, "hockey": 0.4}, model_version=1)


@dataclass
class Secured:
    """The four services plus one client each and tokens by name."""

    bus: MemoryBus
    store: MemoryStore
    topics: Topics
    services: dict[str, Service]
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])

    async def key(self, role: Role, name: str) -> str:
        record, token = new_key(role, name)
        await self.store.keys.add(record)
        self.tokens[name] = token
        return token

    async def queue(self, *item_ids: str) -> None:
        await self.bus.publish_many(self.topics.review_requests,
                                    [(i, review_request(i, 0.9 - n / 100))
                                     for n, i in enumerate(item_ids)])
        for _ in range(200):
            if (await self.store.queue.stats()).depth >= len(item_ids):
                return
            await asyncio.sleep(0.02)
        raise AssertionError("items did not reach the review queue")


def service_settings(**overrides: Any) -> dict[str, Any]:
    return {**SECURE, "bootstrap_admin_key": BOOTSTRAP, **LIMITS, **overrides}


@pytest.fixture
async def secured(request: pytest.FixtureRequest) -> AsyncIterator[Secured]:
    extra: dict[str, Any] = getattr(request, "param", {})
    topics = Topics()
    bus, store = MemoryBus(partitions=3), MemoryStore()
    await bus.ensure_topics(topics)
    common = service_settings(**extra)
    services = {
        "ingest": build_ingest(IngestSettings(**common, max_batch=5, max_body_bytes=4096,
                                              max_text_chars=1000, max_bulk_bytes=65_536,
                                              max_bulk_line_bytes=2048, max_bulk_lines=20),
                               bus, store),
        "scorer": build_scorer(ScorerSettings(**common, max_body_bytes=4096,
                                              classify_max_chars=500),
                               bus, store, encoder=HashingEncoder()),
        "review": build_review_api(ReviewSettings(**common, lease_ttl_s=60,
                                                  label_set=["space", "hockey"],
                                                  stats_interval_s=0.05), bus, store),
        "trainer": build_trainer(TrainerSettings(**common, publish_every_labels=1000), bus,
                                 store),
    }
    sec = Secured(bus, store, topics, services)
    for name, svc in services.items():
        await svc.start()
        sec.clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=svc.app),
                                              base_url="http://test")
    await sec.key(Role.APP, "app1")
    await sec.key(Role.APP, "app2")
    await sec.key(Role.REVIEWER, "alice")
    await sec.key(Role.REVIEWER, "bob")
    await sec.key(Role.ADMIN, "root")
    try:
        yield sec
    finally:
        for name, svc in services.items():
            await sec.clients[name].aclose()
            await svc.stop(timeout_s=5)


# -- the review API's addressing, whichever version this branch has --------------------
def operations(sec: Secured, svc: str) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation in a service's OpenAPI schema."""
    paths = sec.services[svc].app.openapi()["paths"]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops
            if m in ("get", "post", "put", "patch", "delete")]


def has_path(sec: Secured, svc: str, path: str) -> bool:
    return any(p == path for _, p in operations(sec, svc))


def next_path(sec: Secured) -> str:
    """GET or POST /v1/review/next, whichever this review API has (the lease contract moves
    it to POST)."""
    return "POST" if ("POST", "/v1/review/next") in operations(sec, "review") else "GET"


def lease_base(sec: Secured, lease: dict) -> str:  # type: ignore[type-arg]
    """Where label/skip/heartbeat of this lease live: by lease id (lease contract) or by
    item id (the first review API)."""
    if has_path(sec, "review", "/v1/review/leases/{lease_id}/label"):
        return f"/v1/review/leases/{lease['lease_id']}"
    return f"/v1/review/{lease['item_id']}"


async def lease(sec: Secured, who: str) -> dict:  # type: ignore[type-arg]
    resp = await sec.clients["review"].request(next_path(sec), "/v1/review/next",
                                               headers=sec.h(who))
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]
