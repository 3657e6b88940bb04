"""GET /v1/review/leases/{id}/similar relays the scorer's GET /v1/similar for the item held:
the scorer's JSON plus ``available``; without a scorer, an empty answer that says so."""

from __future__ import annotations

import functools

import httpx
import pytest

from services.common.schemas import Document
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from tests.helpers import eventually
from tests.unit.review_api.conftest import ALICE, lease, start

SCORER = "http://scorer.test/"
DOCS = [Document(id="a", text="rocket orbit launch nasa moon shuttle"),
        Document(id="b", text="puck goal ice team season playoff"),
        Document(id="c", text="rocket orbit launch nasa moon shuttle and more words")]


def similar_path(item: dict) -> str:  # type: ignore[type-arg]
    return f"/v1/review/leases/{item['lease_id']}/similar"


def scorer_answers(monkeypatch: pytest.MonkeyPatch, transport: httpx.AsyncBaseTransport) -> None:
    """The review API's outgoing client goes to ``transport`` instead of the network (taken
    after the test's own clients exist, which keep the real transport)."""
    monkeypatch.setattr(httpx, "AsyncClient",
                        functools.partial(httpx.AsyncClient, transport=transport))


async def test_without_a_scorer_the_answer_says_it_is_unavailable(review):
    item = await lease(review)
    resp = await review.client.get(similar_path(item), headers=ALICE)
    assert resp.status_code == 200
    assert resp.json() == {"item_id": item["item_id"], "neighbors": [], "available": False}


async def test_the_scorers_answer_is_relayed_unchanged(settings, bus, store, topics, encoder,
                                                      running, monkeypatch):
    settings.scorer_url = SCORER
    # A budget of 1 routes every document, so all three reach the queue and the index.
    scorer_settings = ScorerSettings(label_budget=1.0, dup_threshold=0.999)
    async with running(build_scorer(scorer_settings, bus, store, encoder=encoder)) as scorer:
        review = await start(running, settings, bus, store, topics, [])
        try:
            await bus.publish_many(topics.documents, [(d.id, d) for d in DOCS])
            index = scorer.service.state["index"]

            async def queued_and_indexed() -> bool:
                return (await store.queue.stats()).depth == len(DOCS) == len(index)

            await eventually(queued_and_indexed, what="items queued and indexed")
            item = await lease(review)
            expected = (await scorer.client.get(
                "/v1/similar", params={"item_id": item["item_id"], "k": 6})).json()
            assert len(expected["neighbors"]) == len(DOCS) - 1
            scorer_answers(monkeypatch, httpx.ASGITransport(app=scorer.service.app))
            resp = await review.client.get(similar_path(item), headers=ALICE)
            assert resp.status_code == 200, resp.text
            assert resp.json() == {**expected, "available": True}  # what it sent before typing
        finally:
            await review.__aexit__()


@pytest.mark.parametrize(("status", "body", "code", "neighbors"), [
    (404, {"error": "not_found"}, 200, []),  # not indexed yet: nothing to compare, still up
    (500, {"error": "internal"}, 503, None),
    (200, {"item_id": "high", "neighbors": [{"item_id": "x"}]}, 503, None),  # not a SimilarOut
])
async def test_scorer_answers_other_than_a_result(review, settings, monkeypatch, status, body,
                                                  code, neighbors):
    settings.scorer_url = SCORER  # the running service's own settings object
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body)

    item = await lease(review)
    scorer_answers(monkeypatch, httpx.MockTransport(handler))
    resp = await review.client.get(similar_path(item), headers=ALICE)
    assert resp.status_code == code, resp.text
    if neighbors is not None:
        assert resp.json() == {"item_id": item["item_id"], "neighbors": neighbors,
                               "available": True}
    (sent,) = seen
    assert (sent.url.path, dict(sent.url.params)) == ("/v1/similar",
                                                      {"item_id": item["item_id"], "k": "6"})
    assert sent.headers["x-reviewer"] == "alice"  # the reviewer's identity goes along
