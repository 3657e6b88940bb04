"""After a model swap, queued items are re-scored from their stored embeddings."""

from __future__ import annotations

import time

import numpy as np

from services.common.model import OnlineClassifier, dump_artifact
from services.common.schemas import ModelAnnouncement, Reason
from services.common.store import ModelRecord
from tests.helpers import eventually
from tests.unit.review_api.conftest import lease, request, start

KEY = b"alstream-dev-signing-key-change-me"


def trained() -> OnlineClassifier:
    rng = np.random.default_rng(0)
    model = OnlineClassifier()
    for _ in range(40):  # "sports" around +x, "space" around -x
        model.learn_one(np.array([1.0, 0.0]) + rng.normal(0, 0.05, 2), "sports")
        model.learn_one(np.array([-1.0, 0.0]) + rng.normal(0, 0.05, 2), "space")
    return model


async def announce(store, bus, topics, model, version=1, key=KEY) -> None:  # type: ignore[no-untyped-def]
    artifact, sha, sig = dump_artifact(model, key)
    record = ModelRecord(version=version, sha256=sha, signature=sig, classes=model.classes,
                         n_labels=model.n_learned, created_at=time.time())
    await store.models.put(record, artifact)
    await bus.publish(topics.models, ModelAnnouncement(
        version=version, sha256=sha, signature=sig, classes=model.classes,
        n_labels=model.n_learned))


async def test_a_sure_item_moves_below_an_uncertain_one(settings, bus, store, topics, running):
    r = await start(running, settings, bus, store, topics, [
        request("sure", 0.9, embedding=[0.98, 0.01]),  # was uncertain, the new model is sure
        request("unsure", 0.5, embedding=[0.0, 0.5]),  # between the classes
        request("audit", 0.1, Reason.AUDIT, embedding=[-0.99, 0.0]),
    ])
    try:
        before = [i.item_id for i in await store.queue.queued(10)]
        assert before == ["sure", "unsure", "audit"]
        await announce(store, bus, topics, trained())

        async def moved() -> bool:
            order = [i.item_id for i in await store.queue.queued(10)]
            return order.index("unsure") < order.index("sure")

        await eventually(moved, timeout_s=10, every_s=0.05, what="re-prioritised queue")
        queued = {i.item_id: i for i in await store.queue.queued(10)}
        assert queued["sure"].suggestion == "sports" and queued["sure"].model_version == 1
        assert queued["audit"].priority == 0.1 and queued["audit"].model_version == 0
        assert queued["audit"].suggestion is None  # audit items keep place, get no hint
        item = await lease(r)
        assert item["item_id"] == "unsure"
    finally:
        await r.__aexit__()


async def test_an_unsigned_model_is_refused(settings, bus, store, topics, running):
    r = await start(running, settings, bus, store, topics, [request("a", 0.9, embedding=[1, 0])])
    try:
        await announce(store, bus, topics, trained(), key=b"not-the-key" * 4)
        reprioritiser = r.service.state["reprioritiser"]
        assert await reprioritiser.apply(1) == 0
        (item,) = await store.queue.queued(10)
        assert item.model_version == 0 and item.priority == 0.9
    finally:
        await r.__aexit__()


def test_priority_is_the_scorers_margin_uncertainty():
    from services.common.selection.uncertainty import Margin
    from services.review_api.reprioritise import margin_uncertainty

    for p in ({"a": 0.7, "b": 0.2, "c": 0.1}, {"a": 0.5, "b": 0.5}, {"a": 1.0}, {}):
        assert margin_uncertainty(p) == Margin(tie_weight=0.0)(p)
