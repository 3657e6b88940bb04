"""Trainer checkpoints: learner + offsets restored after a crash, nothing learned twice."""

from __future__ import annotations

import numpy as np
import pytest

from services.common.bus import MemoryBus
from services.common.bus.base import Record
from services.common.bus.runner import Item
from services.common.errors import SignatureError
from services.common.model import OnlineClassifier
from services.common.schemas import LabelEvent, Reason
from services.common.store import MemoryStore
from services.trainer.checkpoint import Checkpointer
from services.trainer.learner import Learner
from services.trainer.metrics import TrainerMetrics
from services.trainer.publisher import Publisher
from services.trainer.settings import TrainerSettings
from services.trainer.trainer import Trainer

KEY = b"test-key"


def item(i: int, offset: int, partition: int = 0) -> Item[LabelEvent]:
    label = "ab"[i % 2]
    vec = np.zeros(4)
    vec[i % 2] = 1.0
    event = LabelEvent(item_id=f"i{i}", label=label, embedding=list(vec + 0.01 * i),
                       reviewer="r", reason=Reason.UNCERTAINTY)
    record = Record("labels", partition, offset, event.item_id, event.model_dump_json().encode())
    return Item(record, event)


def trainer(store: MemoryStore, bus: MemoryBus) -> Trainer:
    settings = TrainerSettings(publish_every_labels=1000)
    return Trainer(
        settings, Learner(OnlineClassifier()), Publisher(bus, store.models, "models", KEY),
        TrainerMetrics(), Checkpointer(store.kv, "trainer:ckpt", KEY),
    )


async def test_restart_restores_the_learner_and_skips_what_it_reflects(bus: MemoryBus) -> None:
    store = MemoryStore()
    first = trainer(store, bus)
    await first.handle([item(i, i) for i in range(6)])
    await first.handle([item(i, i - 6, partition=1) for i in range(6, 9)])
    # "Crash": the consumer loop never committed; everything is redelivered to a new process.
    second = trainer(store, bus)
    assert await second.restore()
    assert second.learner.n_learned == 9
    await second.handle([item(i, i) for i in range(6)] + [item(9, 6)])
    await second.handle([item(i, i - 6, partition=1) for i in range(6, 9)])
    assert second.learner.n_learned == 10
    assert second.learner.model.n_learned == 10  # nothing learned twice
    assert second.state.offsets == {("labels", 0): 7, ("labels", 1): 3}
    assert second.metrics.duplicates._value.get() == 9


async def test_a_tampered_checkpoint_is_refused(bus: MemoryBus) -> None:
    store = MemoryStore()
    first = trainer(store, bus)
    await first.handle([item(0, 0)])
    blob = await store.kv.get("trainer:ckpt")
    assert blob is not None
    await store.kv.set("trainer:ckpt", blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(SignatureError):
        await trainer(store, bus).restore()


async def test_no_checkpoint_starts_blank(bus: MemoryBus) -> None:
    fresh = trainer(MemoryStore(), bus)
    assert not await fresh.restore()
    assert fresh.learner.n_learned == 0
