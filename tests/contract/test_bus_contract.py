"""The bus contract (services/common/bus/base.py), run on the in-process bus and on Kafka."""

from __future__ import annotations

import asyncio
import time

from services.common.bus import Consumer, Record
from services.common.bus.runner import ConsumerLoop, Item
from services.common.observability import Metrics
from services.common.schemas import DeadLetter, Document
from tests.contract.conftest import BusUnderTest


async def drain(consumer: Consumer, n: int, timeout_s: float = 20.0) -> list[Record]:
    """Poll until n records arrived (or the timeout); returns what arrived."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        out.extend(await consumer.poll(100, 0.2))
    return out


async def quiet(consumer: Consumer, seconds: float) -> list[Record]:
    """Whatever arrives within a short window (expected: nothing)."""
    out: list[Record] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out.extend(await consumer.poll(100, 0.2))
    return out


def doc(i: int) -> Document:
    return Document(id=f"doc-{i}", text=f"text number {i}")


async def test_round_trip_keeps_keys_and_values(bus: BusUnderTest) -> None:
    topic = bus.topics.documents
    sent = {f"doc-{i}": doc(i) for i in range(40)}
    await bus.bus.publish_many(topic, list(sent.items()))
    consumer = bus.bus.consumer([topic], "g")
    await consumer.start()
    try:
        records = await drain(consumer, 40)
    finally:
        await consumer.stop()
    assert len(records) == 40
    got = {r.key: Document.model_validate_json(r.value) for r in records}
    assert got == sent
    assert all(r.topic == topic and 0 <= r.partition < bus.partitions for r in records)


async def test_same_key_same_partition_in_order(bus: BusUnderTest) -> None:
    topic = bus.topics.documents
    items = [(k, f"{k}-{i}".encode()) for i in range(25) for k in ("alpha", "beta", "gamma")]
    for key, value in items:
        await bus.bus.publish(topic, value, key=key)
    consumer = bus.bus.consumer([topic], "g")
    await consumer.start()
    try:
        records = await drain(consumer, len(items))
    finally:
        await consumer.stop()
    assert len(records) == len(items)
    for key in ("alpha", "beta", "gamma"):
        mine = [r for r in records if r.key == key]
        assert len({r.partition for r in mine}) == 1, f"{key} spread over partitions"
        mine.sort(key=lambda r: r.offset)
        assert [r.value for r in mine] == [f"{key}-{i}".encode() for i in range(25)]


async def test_labels_and_models_are_one_ordered_partition(bus: BusUnderTest) -> None:
    """The labels topic is the model's log: every reader must see one total order."""
    for topic in (bus.topics.labels, bus.topics.models):
        items = [(f"item-{i}", f"{i}".encode()) for i in range(30)]  # 30 different keys
        await bus.bus.publish_many(topic, items)
        consumer = bus.bus.consumer([topic], "order")
        await consumer.start()
        try:
            records = await drain(consumer, 30)
        finally:
            await consumer.stop()
        assert {r.partition for r in records} == {0}, topic
        assert [r.value for r in sorted(records, key=lambda r: r.offset)] == [v for _, v in items]


async def test_uncommitted_records_go_to_the_next_member(bus: BusUnderTest) -> None:
    topic = bus.topics.documents
    await bus.bus.publish_many(topic, [(f"k{i}", f"v{i}".encode()) for i in range(30)])
    first = bus.bus.consumer([topic], "workers")
    await first.start()
    records = await drain(first, 30)
    assert len(records) == 30
    done = records[:12]  # "processed" only these; the rest is in hand when the member stops
    await first.commit(done)
    await first.stop()

    second = bus.bus.consumer([topic], "workers")
    await second.start()
    try:
        again = await drain(second, 18)
        extra = await quiet(second, bus.settle_s)
    finally:
        await second.stop()
    assert {r.value for r in again + extra} == {r.value for r in records[12:]}


async def test_committed_records_are_not_redelivered(bus: BusUnderTest) -> None:
    topic = bus.topics.documents
    await bus.bus.publish_many(topic, [(f"k{i}", b"x") for i in range(10)])
    first = bus.bus.consumer([topic], "workers")
    await first.start()
    await first.commit(await drain(first, 10))
    await first.stop()
    second = bus.bus.consumer([topic], "workers")
    await second.start()
    try:
        assert await quiet(second, bus.settle_s) == []
    finally:
        await second.stop()


async def test_two_members_split_the_partitions(bus: BusUnderTest) -> None:
    topic = bus.topics.documents
    a = bus.bus.consumer([topic], "split")
    b = bus.bus.consumer([topic], "split")
    await a.start()
    await b.start()
    try:
        everything = {(topic, p) for p in range(bus.partitions)}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            # Polling keeps a Kafka member active while the group settles.
            await asyncio.gather(a.poll(10, 0.1), b.poll(10, 0.1))
            if a.assignment() and b.assignment() and a.assignment() | b.assignment() == everything:
                break
        assert a.assignment() and b.assignment()
        assert a.assignment() & b.assignment() == set()
        assert a.assignment() | b.assignment() == everything

        await bus.bus.publish_many(topic, [(f"key-{i}", f"{i}".encode()) for i in range(60)])
        got_a: list[Record] = []
        got_b: list[Record] = []
        deadline = time.monotonic() + 20
        while len(got_a) + len(got_b) < 60 and time.monotonic() < deadline:
            ra, rb = await asyncio.gather(a.poll(100, 0.2), b.poll(100, 0.2))
            got_a += ra
            got_b += rb
        assert {(r.topic, r.partition) for r in got_a} <= a.assignment()
        assert {(r.topic, r.partition) for r in got_b} <= b.assignment()
        values = [r.value for r in got_a + got_b]
        assert sorted(values) == sorted(f"{i}".encode() for i in range(60))
    finally:
        await a.stop()
        await b.stop()


async def test_not_from_beginning_sees_only_new_records(bus: BusUnderTest) -> None:
    topic = bus.topics.models
    await bus.bus.publish_many(topic, [(None, b"old-1"), (None, b"old-2")])
    consumer = bus.bus.consumer([topic], "broadcast", from_beginning=False)
    await consumer.start()
    try:
        await bus.bus.publish(topic, b"new-1")
        records = await drain(consumer, 1)
        records += await quiet(consumer, bus.settle_s)
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [b"new-1"]


async def test_from_beginning_sees_history(bus: BusUnderTest) -> None:
    topic = bus.topics.models
    await bus.bus.publish_many(topic, [(None, b"old-1"), (None, b"old-2")])
    consumer = bus.bus.consumer([topic], "history", from_beginning=True)
    await consumer.start()
    try:
        records = await drain(consumer, 2)
    finally:
        await consumer.stop()
    assert sorted(r.value for r in records) == [b"old-1", b"old-2"]


async def test_consumer_loop_dead_letters_bad_records_and_keeps_going(bus: BusUnderTest) -> None:
    topic, dlq = bus.topics.documents, bus.topics.dead_letter
    key = "one-key"  # one partition, so the bad record sits between good ones
    await bus.bus.publish(topic, doc(1), key=key)
    await bus.bus.publish(topic, b"{not json", key=key)
    await bus.bus.publish(topic, b'{"id": "x"}', key=key)  # valid JSON, invalid Document
    await bus.bus.publish(topic, doc(2), key=key)

    seen: list[str] = []

    async def handler(items: list[Item[Document]]) -> None:
        seen.extend(item.message.id for item in items)

    metrics = Metrics()
    loop = ConsumerLoop(
        bus.bus, bus.bus.consumer([topic], "loop"), Document, handler, dlq, "loop", metrics,
        poll_timeout_s=0.2,
    )
    task = asyncio.create_task(loop.run())
    try:
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await bus.bus.publish(topic, doc(3), key=key)  # still running after the bad ones
        while len(seen) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        loop.stop()
        await task
    assert seen == ["doc-1", "doc-2", "doc-3"]

    watcher = bus.bus.consumer([dlq], "dlq-watch")
    await watcher.start()
    try:
        letters = [DeadLetter.model_validate_json(r.value) for r in await drain(watcher, 2)]
    finally:
        await watcher.stop()
    assert len(letters) == 2
    partition = letters[0].partition
    assert all(x.source_topic == topic and x.consumer_group == "loop" for x in letters)
    assert all(x.partition == partition for x in letters)
    assert sorted(x.offset for x in letters) == [1, 2]  # their offsets in the source partition
    assert {x.payload for x in letters} == {"{not json", '{"id": "x"}'}
    assert all(x.error for x in letters)
    assert metrics.dead_letters.labels(topic, "loop")._value.get() == 2
