"""A crash between the store change and the publish, then a restart: the label event reaches the
trainer's model exactly once. On the memory store and on Redis (the store is what survives the
crash), with the in-process bus failing on the labels topic the way a dying process sees it:

- ``before``: the process died before its publish reached the broker;
- ``after``: the broker wrote the record but the process died before it heard the ack (and so
  before it marked the entry done): the restart publishes it a second time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import pytest
from pydantic import BaseModel

from services.common.bus import MemoryBus
from services.common.errors import BackendUnavailable
from services.common.schemas import LabelEvent, Reason, ReviewRequest
from services.common.store import Store
from services.common.topics import Topics
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings
from services.trainer.trainer import Trainer
from tests.unit.conftest import Running, drain
from tests.unit.review_api.conftest import ADMIN, ALICE, HeaderRoles


class CrashingBus(MemoryBus):
    """The in-process bus, failing on the labels topic before or after writing the record."""

    def __init__(self, labels: str) -> None:
        super().__init__(partitions=3)
        self.labels = labels
        self.fail: str | None = None  # None | "before" | "after"

    async def publish_many(self, topic: str,
                           items: Sequence[tuple[str | None, BaseModel | bytes]]) -> None:
        if topic == self.labels and self.fail == "before":
            raise BackendUnavailable("the process died before publishing")
        await super().publish_many(topic, items)
        if topic == self.labels and self.fail == "after":
            raise BackendUnavailable("the process died before the ack came back")


@pytest.fixture
async def bus() -> CrashingBus:
    topics = Topics()
    b = CrashingBus(topics.labels)
    await b.ensure_topics(topics)
    await b.publish_many(topics.review_requests, [(i, ReviewRequest(
        item_id=i, text=f"text of {i}", embedding=[0.1, 0.2 * n], priority=0.5,
        reason=Reason.UNCERTAINTY)) for n, i in enumerate(["one", "two"], 1)])
    return b


async def review_api(bus: CrashingBus, store: Store) -> Running:
    # The periodic relay waits an hour: only the crash and the restart decide what is sent.
    settings = ReviewSettings(auth=False, rate_limits=False, lease_ttl_s=60,
                              outbox_interval_s=3600, label_set=["sports", "space"])
    service = build_review_api(settings, bus, store)
    service.app.state.authenticator = HeaderRoles()
    running = await Running(service).__aenter__()
    for _ in range(200):  # both review requests queued (at the first start)
        if await store.queue.get("two") is not None:
            break
        await asyncio.sleep(0.02)
    return running


async def labels_on_topic(bus: CrashingBus) -> list[LabelEvent]:
    values = await drain(bus, bus.labels, group=f"reader-{uuid.uuid4().hex}")  # from the start
    return [LabelEvent.model_validate_json(v) for v in values]


async def label_one(api: Running, value: str) -> dict:  # type: ignore[type-arg]
    item = (await api.client.post("/v1/review/next", headers=ALICE)).json()
    resp = await api.client.post(f"/v1/review/leases/{item['lease_id']}/label",
                                 json={"label": value}, headers=ALICE)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def trained(bus: CrashingBus, store: Store) -> Trainer:
    """A trainer started after everything, folding the whole labels topic."""
    service = build_trainer(TrainerSettings(auth=False, rate_limits=False), bus, store)
    async with Running(service):
        trainer: Trainer = service.state["trainer"]
        expected = len(await labels_on_topic(bus))
        for _ in range(250):
            if sum(trainer.state.offsets.values()) >= expected:
                break
            await asyncio.sleep(0.02)
        assert sum(trainer.state.offsets.values()) == expected
        return trainer


def applied(trainer: Trainer, outcome: str) -> float:
    return trainer.metrics.applied.labels(outcome)._value.get()  # type: ignore[no-any-return]


async def test_an_undo_lost_in_a_crash_is_retracted_exactly_once(bus, store: Store) -> None:
    api = await review_api(bus, store)
    first = await label_one(api, "sports")
    bus.fail = "before"
    undo = await api.client.post(f"/v1/review/labels/{first['event_id']}/undo", headers=ALICE)
    # The store took the undo (and its retraction, in the outbox): the answer says so.
    assert undo.status_code == 200, undo.text
    retract_id = undo.json()["published_event_id"]
    assert [e.event_id for e in await labels_on_topic(bus)] == [first["event_id"]]
    await api.service.state["deps"].relay.refresh()
    scrape = (await api.client.get("/metrics")).text
    assert "alstream_labels_outbox_pending 1.0" in scrape
    await api.__aexit__()  # the crash: the last flush on the way out fails too

    bus.fail = None
    restarted = await review_api(bus, store)  # its relay publishes what is pending, at once
    for _ in range(100):
        if len(await labels_on_topic(bus)) == 2:
            break
        await asyncio.sleep(0.02)
    on_topic = await labels_on_topic(bus)
    assert [e.event_id for e in on_topic] == [first["event_id"], retract_id]
    assert on_topic[1].retracts == first["event_id"]
    assert (await store.outbox.stats()).pending == 0
    await restarted.__aexit__()

    trainer = await trained(bus, store)
    assert (applied(trainer, "learned"), applied(trainer, "retracted")) == (1, 1)
    assert trainer.learner.n_learned == 0 and trainer.learner.model.n_learned == 0
    assert trainer.learner.model.class_counts.get("sports", 0) == 0


async def test_a_correction_whose_ack_was_lost_is_learned_once(bus, store: Store) -> None:
    api = await review_api(bus, store)
    first = await label_one(api, "sports")
    bus.fail = "after"
    change = await api.client.put(f"/v1/review/labels/{first['event_id']}",
                                  json={"label": "space"}, headers=ALICE)
    assert change.status_code == 200, change.text
    correction_id = change.json()["published_event_id"]
    assert (await store.outbox.stats()).pending == 1  # on the topic, but never acknowledged
    bus.fail = "before"  # the crash: nothing more leaves this process
    await api.__aexit__()

    bus.fail = None
    restarted = await review_api(bus, store)
    for _ in range(100):
        if (await store.outbox.stats()).pending == 0:
            break
        await asyncio.sleep(0.02)
    await restarted.__aexit__()
    # The broker got it twice: once before the crash, once from the restarted relay.
    ids = [e.event_id for e in await labels_on_topic(bus)]
    assert ids == [first["event_id"], correction_id, correction_id]

    trainer = await trained(bus, store)
    assert (applied(trainer, "replaced"), applied(trainer, "duplicate")) == (1, 1)
    assert trainer.learner.n_learned == 1 and trainer.learner.model.n_learned == 1
    counts = trainer.learner.model.class_counts
    assert (counts.get("sports", 0), counts["space"]) == (0, 1)


async def test_a_label_and_a_label_set_change_survive_a_crash(bus, store: Store) -> None:
    api = await review_api(bus, store)
    bus.fail = "before"
    first = await label_one(api, "sports")
    assert first["status"] == "published"  # stored with its outbox entry: it will be
    rename = await api.client.post("/v1/labels/changes", headers=ADMIN,
                                   json={"op": "rename", "label": "sports", "into": "athletics"})
    assert rename.status_code == 200, rename.text
    assert await labels_on_topic(bus) == []
    await api.__aexit__()

    bus.fail = None
    restarted = await review_api(bus, store)
    for _ in range(100):
        if len(await labels_on_topic(bus)) == 2:
            break
        await asyncio.sleep(0.02)
    await restarted.__aexit__()
    on_topic = await labels_on_topic(bus)
    assert [e.event_id for e in on_topic] == [first["event_id"], rename.json()["event_id"]]

    trainer = await trained(bus, store)
    assert trainer.learner.n_learned == 1
    assert trainer.learner.model.class_counts == {"athletics": 1}
