from __future__ import annotations

import numpy as np
import pytest

from services.common.model import load_verified
from services.common.schemas import LabelEvent, ModelAnnouncement, Reason
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings
from tests.unit.conftest import drain, eventually


def event(i: int, label: str | None = None) -> LabelEvent:
    label = label or "ab"[i % 2]
    vec = np.zeros(4)
    vec[0 if label == "a" else 1] = 1.0
    return LabelEvent(item_id=f"i{i}", label=label, embedding=list(vec + 0.01 * i),
                      reviewer="r", reason=Reason.UNCERTAINTY)


@pytest.fixture
def settings() -> TrainerSettings:
    return TrainerSettings(publish_every_labels=10, publish_every_s=0.3)




async def test_learns_each_label_once_and_publishes_signed_versions(
    settings, bus, store, topics, running
):
    async with running(build_trainer(settings, bus, store)) as r:
        events = [event(i) for i in range(25)]
        await bus.publish_many(topics.labels, [(e.item_id, e) for e in events])
        # Redelivery of the first five must not be learned again.
        await bus.publish_many(topics.labels, [(e.item_id, e) for e in events[:5]])

        async def seen(n):
            s = (await r.client.get("/v1/status")).json()
            return s["labels_learned"] == n and s["labels_since_publish"] == 0

        await eventually(lambda: seen(25))  # >= 10 new labels in a batch: published by count
        first = (await r.client.get("/v1/status")).json()["model_version"]
        assert first >= 1
        # Three more stay under the count threshold: the timer publishes them.
        await bus.publish_many(topics.labels, [(e.item_id, e) for e in map(event, range(25, 28))])
        await eventually(lambda: seen(28))
        status = (await r.client.get("/v1/status")).json()
        assert status["model_version"] == first + 1
        assert status["prequential_accuracy"] > 0.8
        anns = [ModelAnnouncement.model_validate_json(v)
                for v in await drain(bus, topics.models)]
        assert [a.version for a in anns] == list(range(1, first + 2))
        record, artifact = await store.models.get(first + 1)
        model = load_verified(artifact, sha256=record.sha256, signature=record.signature,
                              key=settings.signing_key.get_secret_value().encode())
        assert model.n_learned == 28 and record.n_labels == 28
        text = (await r.client.get("/metrics")).text
        assert "alstream_trainer_labels_learned_total 28.0" in text
        assert "alstream_trainer_labels_duplicate_total 5.0" in text
        assert f"alstream_trainer_model_version {first + 1}.0" in text


async def test_bad_label_event_is_dead_lettered(settings, bus, store, topics, running):
    async with running(build_trainer(settings, bus, store)) as r:
        await bus.publish(topics.labels, b'{"item_id": "x", "label": ""}')
        await bus.publish(topics.labels, event(1))

        async def learned():
            return (await r.client.get("/v1/status")).json()["labels_learned"] == 1

        await eventually(learned)
        assert len(await drain(bus, topics.dead_letter)) == 1


def test_model_settings_reach_the_learner(monkeypatch):
    """ALSTREAM_MODEL_HALF_LIFE turns on forgetting in the trainer's model (off by default),
    ALSTREAM_MODEL_PRIOR_STRENGTH sets the covariance shrinkage; a bad value is refused."""
    from services.trainer.service import new_learner

    default = new_learner(TrainerSettings()).model
    assert default.half_life is None and default.prior_strength == 500.0
    monkeypatch.setenv("ALSTREAM_MODEL_HALF_LIFE", "200")
    monkeypatch.setenv("ALSTREAM_MODEL_PRIOR_STRENGTH", "1000")
    tuned = new_learner(TrainerSettings()).model
    assert tuned.half_life == 200.0 and tuned.prior_strength == 1000.0
    # Class "a" moves from 0 to 3 halfway: with forgetting its mean follows the recent labels
    # (about 3), without it sits at the average of old and new (about 1.5).
    rng = np.random.default_rng(0)
    for i in range(2000):
        x = rng.normal(size=4) * 0.1 + (0.0 if i < 1000 else 3.0)
        for model in (default, tuned):
            model.learn_one(x, "a")
            model.learn_one(rng.normal(size=4) * 0.1 - 3.0, "b")
    mean_a = {name: m._learner.means()[m._learner.rows.index["a"]].mean()
              for name, m in (("default", default), ("tuned", tuned))}
    assert abs(mean_a["default"] - 1.5) < 0.1 and mean_a["tuned"] > 2.9
    monkeypatch.setenv("ALSTREAM_MODEL_HALF_LIFE", "0")
    with pytest.raises(ValueError):
        TrainerSettings()


async def test_a_label_set_change_of_an_emptied_class_is_applied_not_dead_lettered(
        settings, bus, store, topics, running):
    """Every label of "a" undone, then "a" renamed and merged: the model drops a class with its
    last record, yet the changes must apply (they used to raise KeyError and go to the
    dead-letter topic, so the model never heard of them)."""
    from tests.unit.lifecycle.synth import label_set, retract

    async with running(build_trainer(settings, bus, store)) as r:
        first = [event(i) for i in range(6)]  # a, b, a, b, a, b
        undos = [retract(e) for e in first if e.label == "a"]
        changes = [label_set("rename", "a", "alpha"), label_set("merge", "alpha", "b"),
                   label_set("retire", "zzz")]
        late = event(7, "a")  # sent under the old name after the changes: lands in "b"
        await bus.publish_many(topics.labels, [(e.item_id, e) for e in
                                               first + undos + changes + [late]])

        async def published():
            s = (await r.client.get("/v1/status")).json()
            return s["labels_learned"] == 4 and s["labels_since_publish"] == 0

        await eventually(published)
        assert await drain(bus, topics.dead_letter) == []
        assert 'alstream_trainer_label_records_total{outcome="label_set"} 3.0' in (
            await r.client.get("/metrics")).text
        record, artifact = await store.models.get((await store.models.latest()).version)
        model = load_verified(artifact, sha256=record.sha256, signature=record.signature,
                              key=settings.signing_key.get_secret_value().encode())
        assert model.class_counts == {"b": 4}  # three b's and the late "a"
        assert model.resolve("a") == "b" and model.resolve("zzz") is None


def _mixture(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centers = np.random.default_rng(42).normal(size=(3, 16)) * 0.6
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.normal(size=(n, 16))
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


async def test_refines_on_observed_unlabeled_items_before_publishing(bus, store, topics, running):
    """Observations fill the unlabeled window (labelled items leave it); the next version is
    refined on it, and the refined model is what is signed and stored."""
    from services.common.schemas import Observation

    settings = TrainerSettings(publish_every_labels=45, publish_every_s=30.0)
    rng = np.random.default_rng(0)
    X, y = _mixture(45, rng)
    U, _ = _mixture(600, rng)
    labels = [LabelEvent(item_id=f"l{i}", label="abc"[c], embedding=x.tolist(), reviewer="r",
                         reason=Reason.AUDIT) for i, (x, c) in enumerate(zip(X, y, strict=True))]
    # Ten of the observed items get a label later: they must leave the window.
    observed = [Observation(item_id=f"u{i}", embedding=u.tolist()) for i, u in enumerate(U)]
    observed += [Observation(item_id=e.item_id, embedding=e.embedding) for e in labels[:10]]
    async with running(build_trainer(settings, bus, store)) as r:
        await bus.publish_many(topics.observations, [(o.item_id, o) for o in observed])

        async def window(n: int) -> bool:
            text = (await r.client.get("/metrics")).text
            return f"alstream_trainer_unlabeled_window_items {n}.0" in text

        await eventually(lambda: window(610))
        await bus.publish_many(topics.labels, [(e.item_id, e) for e in labels])

        async def published() -> bool:
            return (await r.client.get("/v1/status")).json()["model_version"] >= 1

        await eventually(published)
        text = (await r.client.get("/metrics")).text
        assert 'alstream_trainer_refinements_total{outcome="applied"} 1.0' in text
        assert "alstream_trainer_unlabeled_window_items 600.0" in text
        record, artifact = await store.models.get(1)
        model = load_verified(artifact, sha256=record.sha256, signature=record.signature,
                              key=settings.signing_key.get_secret_value().encode())
        assert model.n_learned == 45
        assert model.unlabeled_weight == pytest.approx(0.05 * 600)


async def test_refinement_can_be_turned_off(bus, store, topics, running):
    settings = TrainerSettings(publish_every_labels=20, publish_every_s=30.0,
                               semisup_enabled=False)
    async with running(build_trainer(settings, bus, store)) as r:
        events = [event(i) for i in range(20)]
        await bus.publish_many(topics.labels, [(e.item_id, e) for e in events])

        async def published() -> bool:
            return (await r.client.get("/v1/status")).json()["model_version"] >= 1

        await eventually(published)
        text = (await r.client.get("/metrics")).text
        assert "alstream_trainer_refinements_total{" not in text  # never counted
        assert r.service.state["trainer"].refiner is None


async def test_an_observation_from_another_encoder_is_dead_lettered(bus, store, topics, running):
    from services.common.schemas import Observation

    settings = TrainerSettings(publish_every_labels=20, publish_every_s=30.0)
    good = [Observation(item_id=f"g{i}", embedding=[float(i)] * 16) for i in range(10)]
    odd = Observation(item_id="odd", embedding=[1.0] * 8)
    async with running(build_trainer(settings, bus, store)) as r:
        batch = [*good[:5], odd, *good[5:]]
        await bus.publish_many(topics.observations, [(o.item_id, o) for o in batch])

        async def settled() -> bool:
            text = (await r.client.get("/metrics")).text
            return "alstream_trainer_unlabeled_window_items 10.0" in text

        await eventually(settled)
        letters = await drain(bus, topics.dead_letter)
        assert len(letters) == 1 and b"odd" in letters[0]


def test_refinement_settings_reach_the_refine_config(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ALSTREAM_SEMISUP_BALANCED", "false")
    monkeypatch.setenv("ALSTREAM_SEMISUP_TEMPERATURE_FOLDS", "0")
    config = TrainerSettings().refine_config()
    assert config.balanced is False and config.temperature_folds == 0
    default = TrainerSettings.model_construct().refine_config()
    assert default.balanced is True and default.temperature_folds == 5
    monkeypatch.setenv("ALSTREAM_SEMISUP_TEMPERATURE_FOLDS", "-1")
    with pytest.raises(ValueError, match="temperature_folds"):
        TrainerSettings()
