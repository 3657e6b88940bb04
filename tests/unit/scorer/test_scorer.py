from __future__ import annotations

import time

import numpy as np
import pytest

from services.common.model import OnlineClassifier, dump_artifact
from services.common.schemas import (
    Document,
    ModelAnnouncement,
    Observation,
    Prediction,
    ReviewRequest,
)
from services.common.store import ModelRecord
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from tests.unit.conftest import drain, eventually

SPACE = "rocket orbit launch nasa moon shuttle"
HOCKEY = "puck goal ice team season playoff"


@pytest.fixture
def settings() -> ScorerSettings:
    return ScorerSettings(max_body_bytes=4096, classify_max_chars=500)


@pytest.fixture
async def scorer(settings, bus, store, encoder, running):
    async with running(build_scorer(settings, bus, store, encoder=encoder)) as r:
        yield r


def trained(encoder) -> OnlineClassifier:
    model = OnlineClassifier()
    rng = np.random.default_rng(0)
    for _ in range(40):
        for label, words in (("space", SPACE), ("hockey", HOCKEY)):
            text = " ".join(rng.choice(words.split(), size=4))
            model.learn_one(encoder.encode([text])[0], label)
    return model


async def register(store, model, settings, version=None) -> ModelRecord:
    data, sha, sig = dump_artifact(model, settings.signing_key.get_secret_value().encode())
    version = version or await store.models.next_version()
    record = ModelRecord(version=version, sha256=sha, signature=sig, classes=model.classes,
                         n_labels=model.n_learned, created_at=time.time())
    await store.models.put(record, data)
    return record




async def test_classify_before_any_model_answers_without_a_label(scorer):
    resp = await scorer.client.post("/v1/classify", json={"text": "hello"})
    assert resp.status_code == 200
    assert resp.json()["label"] is None and resp.json()["model_version"] == 0


async def test_hot_swap_on_announcement_and_classify(scorer, bus, store, topics, settings,
                                                     encoder):
    record = await register(store, trained(encoder), settings)
    await bus.publish(topics.models, ModelAnnouncement(
        version=record.version, sha256=record.sha256, signature=record.signature,
        classes=record.classes, n_labels=record.n_labels))

    async def swapped():
        return (await scorer.client.get("/v1/model")).json()["version"] == record.version

    await eventually(swapped)
    resp = (await scorer.client.post("/v1/classify", json={"text": "nasa rocket launch"})).json()
    assert resp["label"] == "space" and resp["model_version"] == record.version
    assert abs(sum(resp["probabilities"].values()) - 1) < 1e-6
    assert 0.5 < resp["confidence"] <= 1.0


async def test_tampered_model_is_refused_and_the_old_one_kept(scorer, store, settings, encoder):
    holder = scorer.service.state["holder"]
    good = await register(store, trained(encoder), settings)
    assert await holder.load(good.version)
    data, sha, sig = dump_artifact(trained(encoder), b"attacker key")
    bad = ModelRecord(version=good.version + 1, sha256=sha, signature=sig, classes=[],
                      n_labels=0, created_at=time.time())
    await store.models.put(bad, data)
    assert not await holder.load(bad.version)
    assert holder.version == good.version
    text = (await scorer.client.get("/metrics")).text
    assert "alstream_scorer_model_rejected_total 1.0" in text


@pytest.mark.parametrize(
    ("body", "status"),
    [({"text": ""}, 422), ({}, 422), ({"text": ["a"]}, 422), ({"text": "x" * 501}, 422),
     ({"text": "x" * 5000}, 413)],
)
async def test_bad_classify_input(scorer, body, status):
    resp = await scorer.client.post("/v1/classify", json=body)
    assert resp.status_code == status
    assert resp.json()["detail"]


async def test_every_document_gets_one_prediction_and_cold_start_routes(scorer, bus, topics):
    docs = [Document(id=f"d{i}", text=f"{SPACE if i % 2 else HOCKEY} {i}") for i in range(40)]
    await bus.publish_many(topics.documents, [(d.id, d) for d in docs])

    async def all_scored():
        return len(await drain(bus, topics.predictions, group=f"p{time.time()}")) >= 40

    await eventually(all_scored)
    preds = [Prediction.model_validate_json(v) for v in await drain(bus, topics.predictions)]
    assert sorted(p.doc_id for p in preds) == sorted(d.id for d in docs)
    reviews = [ReviewRequest.model_validate_json(v)
               for v in await drain(bus, topics.review_requests)]
    # No model yet: cold start must ask for labels rather than nothing.
    assert reviews and all(r.reason.value == "cold_start" for r in reviews)
    assert all(len(r.embedding) == 32 for r in reviews)
    # Every scored document's embedding goes to the trainer's unlabeled window.
    seen = [Observation.model_validate_json(v) for v in await drain(bus, topics.observations)]
    assert sorted(o.item_id for o in seen) == sorted(d.id for d in docs)
    assert all(len(o.embedding) == 32 and o.model_version == 0 for o in seen)


async def test_observe_fraction_samples_by_document_id(bus, store, encoder, running, topics):
    from services.scorer.pipeline import observed

    ids = [f"doc-{i}" for i in range(4000)]
    share = sum(observed(i, 0.25) for i in ids) / len(ids)
    assert 0.22 < share < 0.28
    assert [observed(i, 0.25) for i in ids] == [observed(i, 0.25) for i in ids]  # stable
    assert all(observed(i, 1.0) for i in ids[:10])
    settings = ScorerSettings(observe_fraction=0.0)
    async with running(build_scorer(settings, bus, store, encoder=encoder)):
        docs = [Document(id=f"z{i}", text=f"{SPACE} {i}") for i in range(10)]
        await bus.publish_many(topics.documents, [(d.id, d) for d in docs])

        async def all_scored():
            return len(await drain(bus, topics.predictions, group=f"p{time.time()}")) >= 10

        await eventually(all_scored)
        assert await drain(bus, topics.observations) == []


async def test_scoring_uses_the_model_and_routes_only_some(scorer, bus, store, topics, settings,
                                                          encoder):
    record = await register(store, trained(encoder), settings)
    assert await scorer.service.state["holder"].load(record.version)
    docs = [Document(id=f"e{i}", text=f"{SPACE} {HOCKEY if i % 5 == 0 else ''}")
            for i in range(30)]
    await bus.publish_many(topics.documents, [(d.id, d) for d in docs])

    async def all_scored():
        return len(await drain(bus, topics.predictions, group=f"p{time.time()}")) >= 30

    await eventually(all_scored)
    preds = [Prediction.model_validate_json(v) for v in await drain(bus, topics.predictions)]
    assert all(p.model_version == record.version for p in preds)
    clear = [p for p, d in zip(sorted(preds, key=lambda p: int(p.doc_id[1:])), docs,
                               strict=True) if int(d.id[1:]) % 5]
    assert all(p.label == "space" for p in clear)
    assert sum(p.routed for p in preds) < len(preds)
    text = (await scorer.client.get("/metrics")).text
    assert "alstream_scorer_documents_scored_total 30.0" in text


async def test_malformed_document_is_dead_lettered_and_scoring_continues(scorer, bus, topics):
    await bus.publish(topics.documents, b'{"id": "x"}', key="x")
    await bus.publish(topics.documents, Document(id="ok", text="fine"), key="ok")

    async def scored():
        return any(b'"ok"' in v for v in await drain(bus, topics.predictions,
                                                   group=f"p{time.time()}"))

    await eventually(scored)
    (letter,) = await drain(bus, topics.dead_letter)
    assert b"alstream.documents" in letter and b"invalid Document" in letter
