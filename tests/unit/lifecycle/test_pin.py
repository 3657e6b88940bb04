"""Rollback: pin a version on two scorer replicas, the trainer continues from it, unpin."""

from __future__ import annotations

import pytest

from services.common.model import load_verified
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings
from services.trainer.pins import load_voids
from services.trainer.replay import fold_records, read_log, state_distance
from services.trainer.service import build_trainer, new_learner
from services.trainer.settings import TrainerSettings
from tests.helpers import metric
from tests.unit.conftest import eventually
from tests.unit.lifecycle.synth import Stream, retract


@pytest.fixture
def settings() -> TrainerSettings:
    return TrainerSettings(publish_interval_ms=50, gate_enabled=False)


async def serving(client) -> int:
    return int((await client.get("/v1/model")).json()["version"])


async def test_pin_serves_n_everywhere_and_the_trainer_continues_from_n(
    settings, bus1, store, topics, encoder, running
):
    stream = Stream(k=3, dim=32, seed=5)
    key = settings.signing_key.get_secret_value().encode()
    async with (running(build_trainer(settings, bus1, store)) as t,
                running(build_scorer(ScorerSettings(), bus1, store, encoder=encoder)) as s1,
                running(build_scorer(ScorerSettings(), bus1, store, encoder=encoder)) as s2):
        trainer = t.service.state["trainer"]
        first = stream.events(120)
        await bus1.publish_many(topics.labels, [(e.item_id, e) for e in first])

        async def all_serve(v_of) -> bool:
            want = v_of()
            return want > 0 and await serving(s1.client) == want == await serving(s2.client)

        await eventually(lambda: all_serve(lambda: trainer.version if not trainer.since_publish
                                           and trainer.learner.n_learned == 120 else -1))
        n = trainer.version
        n_items = trainer.learner.n_learned
        later = stream.events(80, start=1000)
        await bus1.publish_many(topics.labels, [(e.item_id, e) for e in later])
        await bus1.publish(topics.labels, retract(first[0]))
        await eventually(lambda: all_serve(lambda: trainer.version if trainer.learner.n_learned
                                           == 199 and not trainer.since_publish else -1))
        assert trainer.version > n

        resp = await t.client.post("/v1/models/pin", json={"version": n})
        assert resp.status_code == 200, resp.text
        assert resp.json()["decision"] == "pinned" and resp.json()["serving_version"] == n
        await eventually(lambda: all_serve(lambda: n), timeout_s=5, what="both replicas on N")
        for s in (s1, s2):
            assert s.service.state["holder"].pinned
            assert metric((await s.client.get("/metrics")).text, "alstream_model_pinned") == 1
        # The trainer's learner is N itself, and its per-item map is N's: the labels since N
        # (including the retraction) are void.
        record, artifact = await store.models.get(n)
        model_n = load_verified(artifact, sha256=record.sha256, signature=record.signature,
                                key=key)
        assert state_distance(trainer.learner.model, model_n) == 0.0
        assert trainer.learner.n_learned == n_items
        assert first[0].item_id in trainer.learner.fold.items
        status = (await t.client.get("/v1/status")).json()
        assert status["pinned"] and status["serving_version"] == n

        # Labels while pinned build on N, but are only candidates: replicas stay on N.
        more = stream.events(30, start=2000)
        await bus1.publish_many(topics.labels, [(e.item_id, e) for e in more])
        await eventually(lambda: _learned(trainer, n_items + 30))
        held = await store.models.get(trainer.version)
        assert held[0].decision == "held" and "pinned" in held[0].reason
        assert await serving(s1.client) == n == await serving(s2.client)

        # Replay, skipping what the pin voided, reproduces the live learner.
        voids = await load_voids(store.kv, settings.consumer_group)
        assert voids == [(0, int(record.labels_offsets["0"]), 121 + 80)]
        replayed = new_learner(settings)
        async for records in read_log(bus1, topics.labels, idle_s=0.5):
            fold_records(replayed, records, voids)
        assert replayed.fold.items == trainer.learner.fold.items
        assert state_distance(replayed.model, trainer.learner.model) < 1e-9

        resp = await t.client.delete("/v1/models/pin")
        assert resp.status_code == 200 and resp.json()["decision"] == "unpinned"
        await eventually(lambda: all_serve(lambda: trainer.version if trainer.version > n
                                           and not trainer.serving.pinned else -1),
                         timeout_s=5, what="promotion resumed on both replicas")
        assert not s1.service.state["holder"].pinned
        text = (await t.client.get("/metrics")).text
        assert 'alstream_gate_decisions_total{decision="pinned"} 1.0' in text
        assert metric(text, "alstream_model_pinned") == 0


async def test_pin_refusals_are_clear(settings, bus1, store, topics, running):
    async with running(build_trainer(settings, bus1, store)) as t:
        resp = await t.client.post("/v1/models/pin", json={"version": 999})
        assert resp.status_code == 404 and "999" in resp.json()["detail"]
        assert (await t.client.post("/v1/models/pin", json={"version": 0})).status_code == 422
        assert (await t.client.post("/v1/models/pin", json={})).status_code == 422
        resp = await t.client.delete("/v1/models/pin")
        assert resp.status_code == 409 and "no version is pinned" in resp.json()["detail"]


async def _learned(trainer, n: int) -> bool:
    return trainer.learner.n_learned == n and not trainer.since_publish
