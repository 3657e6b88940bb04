"""The promotion gate: a reviewer sending deliberately wrong labels does not lower the served
model's holdout accuracy by more than the tolerance; with the gate off it does."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.bus import MemoryBus
from services.common.bus.base import Record
from services.common.bus.runner import Item
from services.common.model import load_verified
from services.common.schemas import LabelEvent
from services.common.store import MemoryStore
from services.trainer.checkpoint import Checkpointer
from services.trainer.metrics import TrainerMetrics
from services.trainer.publisher import Publisher
from services.trainer.service import new_learner
from services.trainer.settings import TrainerSettings
from services.trainer.trainer import Trainer
from tests.unit.lifecycle.synth import Stream, label

KEY = b"gate-test"
TOLERANCE = 0.03


def scenario(seed: int) -> tuple[Stream, list[LabelEvent], list[LabelEvent]]:
    """300 good labels, then a good reviewer and a bad one alternate for 200 labels each: the
    bad one always answers the class next to the true one (deliberately wrong)."""
    s = Stream(k=4, dim=32, noise=0.3, seed=seed)
    good = s.events(500)
    Xb, yb = s.sample(200)
    bad = [label(f"bad-{i}", s.labels[(s.labels.index(y) + 1) % 4], x, reviewer="mallory")
           for i, (x, y) in enumerate(zip(Xb, yb, strict=True))]
    tail = [e for pair in zip(good[300:], bad, strict=True) for e in pair]
    return s, good[:300], tail


async def served_accuracy(trainer: Trainer, store: MemoryStore, X, y) -> float:
    serving = await store.models.serving()
    assert serving is not None
    record, artifact = await store.models.get(serving.version)
    model = load_verified(artifact, sha256=record.sha256, signature=record.signature, key=KEY)
    return float(np.mean([p == t for p, t in zip(model.predict_many(X), y, strict=True)]))


async def run(gate: bool, seed: int) -> tuple[float, float, Trainer]:
    s, before, tail = scenario(seed)
    X, y = s.sample(2000)
    settings = TrainerSettings(gate_enabled=gate, gate_tolerance=TOLERANCE, gate_window=200,
                               publish_interval_ms=200)
    store, bus = MemoryStore(), MemoryBus(partitions=1)
    trainer = Trainer(settings, new_learner(settings), Publisher(bus, store.models, "m", KEY),
                      TrainerMetrics(), Checkpointer(store.kv, "ckpt", KEY), bus=bus,
                      new_learner=lambda: new_learner(settings))
    offset = 0

    async def feed(events: list[LabelEvent]) -> None:
        nonlocal offset
        for i in range(0, len(events), 10):  # what a debounced publisher sees: small batches
            batch = []
            for e in events[i:i + 10]:
                batch.append(Item(Record("alstream.labels", 0, offset, e.item_id, b""), e))
                offset += 1
            await trainer.handle(batch)
            async with trainer._lock:
                await trainer._publish()

    await feed(before)
    acc_before = await served_accuracy(trainer, store, X, y)
    await feed(tail)
    return acc_before, await served_accuracy(trainer, store, X, y), trainer


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_wrong_labels_are_held_by_the_gate_and_served_without_it(seed: int) -> None:
    before, after_gated, trainer = await run(gate=True, seed=seed)
    before_off, after_ungated, _ = await run(gate=False, seed=seed)
    assert before == before_off  # the same 300 good labels, the same model
    print(f"seed {seed}: before {before:.3f}, with gate {after_gated:.3f}, "
          f"without {after_ungated:.3f}")
    assert after_gated >= before - TOLERANCE
    assert after_ungated < before - TOLERANCE
    # The held candidates say why; decisions are counted.
    held = [r for r in await trainer.registry.versions() if r.decision == "held"]
    assert held and all("mallory" in r.reason for r in held)
    text = trainer.metrics.render().decode()
    assert 'alstream_gate_decisions_total{decision="held"}' in text


async def test_honest_reviewers_and_a_new_class_are_not_held() -> None:
    s = Stream(k=4, dim=32, noise=0.3, seed=9)
    events = [e.model_copy(update={"reviewer": f"r{i % 3}"}) for i, e in
              enumerate(e for e in s.events(900) if e.label != "c3" or int(e.item_id[1:]) > 450)]
    settings = TrainerSettings(publish_interval_ms=200)
    store, bus = MemoryStore(), MemoryBus(partitions=1)
    trainer = Trainer(settings, new_learner(settings), Publisher(bus, store.models, "m", KEY),
                      TrainerMetrics(), None, bus=bus)
    for i in range(0, len(events), 10):
        await trainer.handle([Item(Record("alstream.labels", 0, i + j, e.item_id, b""), e)
                              for j, e in enumerate(events[i:i + 10])])
        async with trainer._lock:
            await trainer._publish()
    decisions = [r.decision for r in await store.models.versions()]
    assert decisions.count("held") == 0, [r.reason for r in await store.models.versions()
                                          if r.decision == "held"]
    assert "c3" in (await store.models.latest()).classes
