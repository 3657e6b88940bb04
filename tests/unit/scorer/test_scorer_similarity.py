"""The scorer with its batcher, similarity index and near-duplicate step wired in."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from services.common.schemas import Document, LabelEvent, Prediction, Reason, ReviewRequest
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from tests.fakes import HashingEncoder
from tests.unit.conftest import drain, eventually

ROCKET = "rocket orbit launch nasa moon shuttle"
PUCK = "puck goal ice team season playoff"
OTHER = "bread flour yeast oven loaf crust"


@pytest.fixture
def settings() -> ScorerSettings:
    # A label budget of 1: selection routes every item, so only the near-duplicate step (what
    # these tests are about) holds items back.
    return ScorerSettings(dup_threshold=0.95, classify_max_chars=500, max_body_bytes=4096,
                          label_budget=1.0)


@pytest.fixture
async def scorer(settings, bus, store, encoder, running):
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as r:
        yield r


async def predictions(bus, topics, n: int) -> dict[str, Prediction]:
    async def enough():
        return len(await drain(bus, topics.predictions, group=f"p{time.time()}")) >= n

    await eventually(enough)
    found = [Prediction.model_validate_json(v) for v in await drain(bus, topics.predictions)]
    return {p.doc_id: p for p in found}


async def reviews(bus, topics) -> list[ReviewRequest]:
    return [ReviewRequest.model_validate_json(v)
            for v in await drain(bus, topics.review_requests, group=f"r{time.time()}")]


async def test_near_duplicates_are_not_routed_twice(scorer, bus, topics):
    # Budget 1 routes everything, so only the near-duplicate step can hold items back.
    first = [Document(id="a", text=ROCKET), Document(id="a-copy", text=ROCKET + " "),
             Document(id="b", text=PUCK)]
    await bus.publish_many(topics.documents, [(None, d) for d in first])
    preds = await predictions(bus, topics, 3)
    assert preds["a"].routed and preds["b"].routed
    assert not preds["a-copy"].routed  # same batch as "a"
    await bus.publish(topics.documents, Document(id="later", text=f"{PUCK} {PUCK}"))
    preds = await predictions(bus, topics, 4)
    assert not preds["later"].routed and preds["later"].suggestion is None  # "b" is unlabeled
    assert sorted(r.item_id for r in await reviews(bus, topics)) == ["a", "b"]
    metrics = (await scorer.client.get("/metrics")).text
    assert "alstream_scorer_near_duplicates_total 2.0" in metrics
    assert 'alstream_scorer_index_items{status="queued"} 2.0' in metrics


async def test_a_labeled_twin_is_suggested(scorer, bus, topics, encoder):
    vector = encoder.encode([OTHER])[0].tolist()
    await bus.publish(topics.labels, LabelEvent(
        item_id="seen", label="baking", embedding=vector, reviewer="ann",
        reason=Reason.UNCERTAINTY))
    index = scorer.service.state["index"]

    async def indexed():
        return index.label_of("seen") == "baking"

    await eventually(indexed)
    await bus.publish(topics.documents, Document(id="again", text=OTHER.upper()))
    preds = await predictions(bus, topics, 1)
    assert preds["again"].suggestion == "baking" and not preds["again"].routed


async def test_similar_by_item_id_and_by_text(scorer, bus, topics):
    docs = [Document(id="a", text=ROCKET), Document(id="b", text=PUCK),
            Document(id="c", text=f"{ROCKET} extra words here")]
    await bus.publish_many(topics.documents, [(None, d) for d in docs])
    await predictions(bus, topics, 3)
    index = scorer.service.state["index"]

    async def indexed():
        return len(index) == 3

    await eventually(indexed)
    resp = await scorer.client.get("/v1/similar", params={"item_id": "a", "k": 2})
    assert resp.status_code == 200
    body = resp.json()
    assert body["item_id"] == "a" and [n["item_id"] for n in body["neighbors"]] == ["c", "b"]
    assert body["neighbors"][0]["status"] == "queued" and body["neighbors"][0]["text"]
    assert body["neighbors"][0]["score"] > body["neighbors"][1]["score"]

    resp = await scorer.client.post("/v1/similar", json={"text": PUCK, "k": 1})
    (top,) = resp.json()["neighbors"]
    assert top["item_id"] == "b" and top["score"] == pytest.approx(1.0, abs=1e-5)


async def test_similar_rejects_bad_requests(scorer):
    for method, kwargs, status in [
        ("get", {"params": {"item_id": "nope"}}, 404),
        ("get", {"params": {"item_id": "a", "k": 0}}, 422),
        ("get", {"params": {}}, 422),
        ("post", {"json": {"text": "x", "k": 101}}, 422),
        ("post", {"json": {"text": ""}}, 422),
        ("post", {"json": {"text": "x" * 501}}, 422),
    ]:
        resp = await getattr(scorer.client, method)("/v1/similar", **kwargs)
        assert resp.status_code == status and resp.json()["detail"], (method, kwargs)


async def test_index_and_audit_estimate_are_rebuilt_from_the_topics_on_restart(
        settings, bus, store, encoder, running, topics):
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as first:
        await bus.publish_many(topics.documents, [
            (None, Document(id="a", text=ROCKET)), (None, Document(id="b", text=PUCK))])
        await predictions(bus, topics, 2)
        await bus.publish_many(topics.labels, [
            ("a", LabelEvent(item_id="a", label="space", reason=Reason.AUDIT, reviewer="ann",
                             embedding=encoder.encode([ROCKET])[0].tolist(),
                             predicted_label="space")),
            ("b", LabelEvent(item_id="b", label="hockey", reason=Reason.AUDIT, reviewer="ann",
                             embedding=encoder.encode([PUCK])[0].tolist(),
                             predicted_label="space"))])

        async def learned():
            return first.service.state["index"].label_of("b") == "hockey"

        await eventually(learned)
    # The same instance id, as a restarted container keeps its hostname and pid: the replay
    # must still start from the beginning.
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as again:
        index = again.service.state["index"]

        async def rebuilt():
            return len(index) == 2 and index.label_of("a") == "space"

        await eventually(rebuilt)

        async def estimate() -> dict:
            return (await again.client.get("/v1/audit")).json()["estimate"]

        async def restored():
            return (await estimate())["n"] == 2

        await eventually(restored)
        assert (await estimate())["accuracy"] == 0.5


class GatedEncoder(HashingEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.collated = 0

    def collate(self, items: list[Any]) -> Any:
        self.collated += 1
        return super().collate(items)

    def run(self, batch: Any) -> np.ndarray:
        self.gate.wait(timeout=10)
        return super().run(batch)


async def test_classify_answers_429_when_the_queue_is_full(bus, store, running):
    encoder = GatedEncoder()
    settings = ScorerSettings(batch_size=1, queue_interactive=1)
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as r:
        batcher = r.service.state["embedder"].batcher
        post = r.client.post
        calls: list[asyncio.Task[Any]] = []

        async def submit(condition) -> None:
            calls.append(asyncio.create_task(post("/v1/classify", json={"text": "more"})))

            async def holds():
                return condition()

            await eventually(holds, timeout_s=2)

        try:
            await submit(lambda: encoder.collated == 1 and batcher.depth("interactive") == 0)
            await submit(lambda: encoder.collated == 2)  # padded, waiting for the model
            await submit(lambda: batcher.depth("interactive") == 1)  # the queue is full
            refused = await post("/v1/classify", json={"text": "too many"})
            assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
            assert "overloaded" in refused.json()["detail"]
        finally:
            encoder.gate.set()
        assert [(await c).status_code for c in calls] == [200] * 3
        text = (await r.client.get("/metrics")).text
        assert 'alstream_scorer_batch_rejected_total{lane="interactive"} 1.0' in text
        assert 'alstream_scorer_classify_requests_total{status="overloaded"} 1.0' in text
