"""Replay of the labels log equals the live trainer's model: 10,000 labels with corrections,
retractions and a rename, through the in-process bus and the real trainer service."""

from __future__ import annotations

import random
import time

from services.common.schemas import LabelEvent
from services.trainer.replay import fold_records, read_log, state_distance
from services.trainer.service import build_trainer, checkpointer_for, new_learner
from services.trainer.settings import TrainerSettings
from tests.unit.conftest import eventually
from tests.unit.lifecycle.synth import Stream, label, label_set, retract


def history(n: int, seed: int = 0) -> list[LabelEvent]:
    """n label records; about 4% corrections, 3% retractions, one rename midway."""
    rng = random.Random(seed)
    s = Stream(k=5, dim=32, seed=seed)
    out: list[LabelEvent] = []
    current: dict[str, LabelEvent] = {}
    fresh = iter(s.events(n))
    while len(out) < n:
        roll = rng.random()
        if roll < 0.04 and current:
            old = current[rng.choice(list(current))]
            fix = label(old.item_id, rng.choice(s.labels), old.embedding, retracts=old.event_id)
            current[old.item_id] = fix
            out.append(fix)
        elif roll < 0.07 and current:
            old = current.pop(rng.choice(list(current)))
            out.append(retract(old))
        else:
            e = next(fresh)
            current[e.item_id] = e
            out.append(e)
        if len(out) == n // 2:
            out.append(label_set("rename", "c4", "four"))
            s.labels[4] = "four"
    return out


async def test_replay_of_10000_labels_equals_the_live_model(bus1, store, topics, running):
    settings = TrainerSettings(publish_interval_ms=100, lineage_predictions=False)
    events = history(10_000)
    async with running(build_trainer(settings, bus1, store)) as r:
        for i in range(0, len(events), 500):
            await bus1.publish_many(topics.labels, [(e.item_id, e) for e in events[i:i + 500]])
        trainer = r.service.state["trainer"]

        async def caught_up() -> bool:
            return trainer.state.offsets.get((topics.labels, 0), 0) == len(events)

        await eventually(caught_up, timeout_s=240, what="trainer consumed every label")
        live = trainer.learner

    replayed = new_learner(settings)
    started = time.perf_counter()
    async for records in read_log(bus1, topics.labels, idle_s=0.5):
        fold_records(replayed, records, [])
    seconds = time.perf_counter() - started
    # The same records in the same order through the same code: identical, not just close.
    assert state_distance(replayed.model, live.model) == 0.0
    assert replayed.fold.items == live.fold.items
    assert "four" in live.model.classes and "c4" not in live.model.classes
    assert live.n_learned == len(replayed.fold.items) < 10_000  # retractions removed items
    # The checkpoint (what a restarted trainer resumes from) holds the same model.
    checkpoint = await checkpointer_for(settings, store).load()
    assert checkpoint is not None
    assert state_distance(checkpoint.learner.model, live.model) == 0.0
    print(f"replayed {len(events)} records in {seconds:.2f}s "
          f"({len(events) / seconds:.0f}/s, 32-d)")


async def test_replay_from_a_checkpoint_continues_to_the_same_model(bus1, store, topics,
                                                                     running):
    settings = TrainerSettings(publish_interval_ms=50, lineage_predictions=False)
    events = history(1200, seed=4)
    async with running(build_trainer(settings, bus1, store)) as r:
        trainer = r.service.state["trainer"]
        await bus1.publish_many(topics.labels, [(e.item_id, e) for e in events[:700]])
        await eventually(lambda: _at(trainer, topics, 700))
        checkpointer = checkpointer_for(settings, store)

        async def saved() -> bool:  # offsets advance just before the checkpoint is written
            c = await checkpointer.load()
            return c is not None and c.offsets.get((topics.labels, 0)) == 700
        await eventually(saved)
        checkpoint = await checkpointer.load()
        await bus1.publish_many(topics.labels, [(e.item_id, e) for e in events[700:]])
        await eventually(lambda: _at(trainer, topics, len(events)))
        live = trainer.learner
    assert checkpoint is not None
    start = {p: o for (_, p), o in checkpoint.offsets.items()}
    assert start == {0: 700}
    learner = checkpoint.learner
    async for records in read_log(bus1, topics.labels, start=start, idle_s=0.5):
        fold_records(learner, records, [])
    # Within float tolerance, not bit for bit: a loaded model rebuilds its scatter matrix by
    # inverting the stored inverse, and the periodic refresh inverts that scatter again.
    assert state_distance(learner.model, live.model) < 1e-9
    assert learner.fold.items == live.fold.items


async def _at(trainer, topics, n: int) -> bool:
    return trainer.state.offsets.get((topics.labels, 0), 0) == n
