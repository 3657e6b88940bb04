"""The outbox relay (services/common/outbox_relay.py): order, removal only after the ack, one
drainer at a time, failures that only delay, and its gauges."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from pydantic import BaseModel

from services.common.bus import MemoryBus
from services.common.errors import BackendUnavailable
from services.common.observability import Metrics
from services.common.outbox_relay import OutboxRelay
from services.common.schemas import LabelEvent, Reason
from services.common.store import MemoryStore
from tests.unit.conftest import drain

TOPIC = "labels"


def event(i: int) -> LabelEvent:
    return LabelEvent(event_id=f"e{i}", item_id=f"item-{i % 7}", label="x", embedding=[0.5],
                      reviewer="r", reason=Reason.UNCERTAINTY)


class CountingBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__(partitions=1)
        self.calls: list[int] = []
        self.down = False

    async def publish_many(self, topic: str,
                           items: Sequence[tuple[str | None, BaseModel | bytes]]) -> None:
        if self.down:
            raise BackendUnavailable("broker down")
        self.calls.append(len(items))
        await super().publish_many(topic, items)


def relay_for(store: MemoryStore, bus: MemoryBus, **kw: float) -> OutboxRelay:
    return OutboxRelay(store.outbox, bus, TOPIC, Metrics(), **kw)  # type: ignore[arg-type]


async def on_topic(bus: MemoryBus) -> list[str]:
    return [LabelEvent.model_validate_json(v).event_id
            for v in await drain(bus, TOPIC, group=f"g-{uuid.uuid4().hex}")]


def value(metric: object) -> float:
    return metric._value.get()  # type: ignore[attr-defined,no-any-return]


async def test_flush_publishes_in_order_in_batches_and_empties_the_outbox() -> None:
    store, bus = MemoryStore(), CountingBus()
    await store.outbox.add([event(i) for i in range(250)])
    relay = relay_for(store, bus, batch=100)
    assert await relay.flush() == 250
    assert bus.calls == [100, 100, 50]
    assert await on_topic(bus) == [f"e{i}" for i in range(250)]
    assert (await store.outbox.stats()).pending == 0
    assert value(relay.metrics.published) == 250
    assert await relay.flush() == 0  # nothing left: nothing sent again


async def test_a_bus_failure_only_delays() -> None:
    store, bus = MemoryStore(), CountingBus()
    await store.outbox.add([event(1), event(2)])
    relay = relay_for(store, bus)
    bus.down = True
    assert await relay.flush() == 0  # no exception: the events are safe in the store
    assert value(relay.metrics.errors) == 1
    stats = await relay.refresh()
    assert stats.pending == 2 and value(relay.metrics.pending) == 2
    bus.down = False
    assert await relay.flush() == 2
    assert await on_topic(bus) == ["e1", "e2"]
    assert (await relay.refresh()).pending == 0 and value(relay.metrics.oldest_age) == 0


async def test_one_drainer_at_a_time() -> None:
    store, bus = MemoryStore(), CountingBus()
    await store.outbox.add([event(1)])
    assert await store.outbox.claim("another-relay", 30)
    relay = relay_for(store, bus, wait_s=0.1)
    assert await relay.flush() == 0  # the other one holds the lease (and will send ours)
    assert await on_topic(bus) == []

    async def release_soon() -> None:
        await asyncio.sleep(0.1)
        await store.outbox.release("another-relay")

    relay.wait_s = 2.0
    _, sent = await asyncio.gather(release_soon(), relay.flush())
    assert sent == 1 and await on_topic(bus) == ["e1"]
    assert await store.outbox.claim("another-relay", 30)  # the relay gave its lease back


async def test_a_relay_that_lost_its_lease_stops_after_the_batch_in_hand() -> None:
    store, bus = MemoryStore(), CountingBus()
    await store.outbox.add([event(i) for i in range(5)])
    relay = relay_for(store, bus, batch=2)
    claims = 0
    claim = store.outbox.claim

    async def expiring(owner: str, ttl_s: float) -> bool:
        nonlocal claims
        claims += 1
        return claims == 1 and await claim(owner, ttl_s)  # the renewal after a batch fails

    store.outbox.claim = expiring  # type: ignore[method-assign]
    assert await relay.flush() == 2
    assert await on_topic(bus) == ["e0", "e1"]
    assert [e.event.event_id for e in await store.outbox.pending(10)] == ["e2", "e3", "e4"]


async def test_concurrent_flushes_send_each_entry_once() -> None:
    store, bus = MemoryStore(), CountingBus()
    relays = [relay_for(store, bus), relay_for(store, bus)]  # two processes on one store

    async def request(i: int) -> int:
        await store.outbox.add([event(i)])
        return await relays[i % 2].flush()

    sent = await asyncio.gather(*(request(i) for i in range(40)))
    assert sum(sent) == 40
    assert sorted(await on_topic(bus)) == sorted(f"e{i}" for i in range(40))


async def test_the_loop_sends_what_was_left_at_start_and_once_more_on_stop() -> None:
    store, bus = MemoryStore(), CountingBus()
    await store.outbox.add([event(1)])  # left behind by a crashed process
    relay = relay_for(store, bus, interval_s=3600)
    stop = asyncio.Event()
    loop = asyncio.create_task(relay.run(stop))
    for _ in range(100):
        if await on_topic(bus):
            break
        await asyncio.sleep(0.01)
    assert await on_topic(bus) == ["e1"]
    await store.outbox.add([event(2)])  # the request's own flush never ran
    stop.set()
    await asyncio.wait_for(loop, 5)
    assert await on_topic(bus) == ["e1", "e2"]


class StuckBus(MemoryBus):
    """A broker that accepts the connection and never answers (until released)."""

    def __init__(self) -> None:
        super().__init__(partitions=1)
        self.release = asyncio.Event()

    async def publish_many(self, topic: str,
                           items: Sequence[tuple[str | None, BaseModel | bytes]]) -> None:
        await self.release.wait()
        await super().publish_many(topic, items)


async def test_requests_share_flushes_and_wait_at_most_wait_s_for_a_stuck_bus() -> None:
    store, bus = MemoryStore(), StuckBus()
    relay = relay_for(store, bus, wait_s=0.3)
    loop = asyncio.get_running_loop()

    async def request(i: int) -> float:
        await store.outbox.add([event(i)])
        started = loop.time()
        await relay.send_soon()
        return loop.time() - started

    waited = await asyncio.gather(*(request(i) for i in range(20)))
    # Each answered after wait_s, not after the requests ahead of it in a queue.
    assert max(waited) < 1.0 and min(waited) >= 0.29
    bus.release.set()  # the broker answers again: the one flush in flight sends everything
    await relay.send_soon()
    assert sorted(await on_topic(bus)) == sorted(f"e{i}" for i in range(20))
    assert (await store.outbox.stats()).pending == 0


async def test_concurrent_requests_are_all_published_before_they_answer() -> None:
    store, bus = MemoryStore(), CountingBus()
    relay = relay_for(store, bus)

    async def request(i: int) -> bool:
        await store.outbox.add([event(i)])
        await relay.send_soon()
        return f"e{i}" in await on_topic(bus)  # on the topic when the request answers

    assert all(await asyncio.gather(*(request(i) for i in range(30))))
    assert len(bus.calls) < 30  # requests shared flushes


async def test_stopping_with_a_flush_stuck_on_the_bus_ends_and_keeps_the_entries() -> None:
    store, bus = MemoryStore(), StuckBus()
    relay = relay_for(store, bus, wait_s=0.2, interval_s=3600)
    stop = asyncio.Event()
    loop = asyncio.create_task(relay.run(stop))
    await store.outbox.add([event(1)])
    await relay.send_soon()  # times out: the flusher hangs on the bus
    stop.set()
    await asyncio.wait_for(loop, 2.0)  # the stop waits wait_s per step, not for the broker
    assert (await store.outbox.stats()).pending == 1  # stored, for the next start
    assert await store.outbox.claim("next-start", 10)  # and the lease was given back
