"""Lease-based group membership (kafka_assignment=leases): hand-over and crashed members."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from services.common.bus.base import Consumer, Record
from services.common.bus.kafka import KafkaBus
from services.common.bus.kafka_leased import LeasedKafkaConsumer
from services.common.settings import CommonSettings
from tests.fixtures.kafka import NoidaKafka

pytestmark = pytest.mark.integration
TTL_MS = 2000


@pytest.fixture
async def kafka(
    kafka_broker: NoidaKafka, redis_url: str, redis_prefix: str
) -> AsyncIterator[KafkaBus]:
    settings = CommonSettings(
        bus="kafka", kafka_bootstrap=kafka_broker.bootstrap, partitions=4,
        topic_prefix=f"leases-{uuid.uuid4().hex[:8]}.", kafka_assignment="leases",
        kafka_lease_ttl_ms=TTL_MS, redis_url=redis_url, redis_prefix=redis_prefix,
    )
    bus = KafkaBus(settings)
    await bus.start()
    await bus.ensure_topics(settings.topics)
    try:
        yield bus
    finally:
        await bus.stop()


async def poll_until(consumer: Consumer, n: int, timeout_s: float = 15) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        out += await consumer.poll(100, 0.2)
    return out


async def run_loop(consumer: Consumer, sink: list[Record], stop: asyncio.Event) -> None:
    """What ConsumerLoop does: poll, process, commit."""
    while not stop.is_set():
        batch = await consumer.poll(50, 0.2)
        sink.extend(batch)
        await consumer.commit(batch)


async def test_partition_moves_only_after_the_batch_in_hand_is_committed(kafka: KafkaBus) -> None:
    topic = kafka.settings.topics.documents
    await kafka.publish_many(topic, [(f"k{i}", f"{i}".encode()) for i in range(80)])
    a = kafka.consumer([topic], "handover")
    await a.start()
    in_hand = await poll_until(a, 80)
    assert len(in_hand) == 80 and len(a.assignment()) == 4

    b = kafka.consumer([topic], "handover")
    await b.start()
    await asyncio.sleep(TTL_MS / 1000)  # several heartbeats: a knows it should give half away
    assert await a.poll(100, 0.2) == []  # a keeps its partitions while the batch is in hand
    assert b.assignment() == set()
    await a.commit(in_hand)

    got_a: list[Record] = []
    got_b: list[Record] = []
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_loop(a, got_a, stop)),
             asyncio.create_task(run_loop(b, got_b, stop))]
    deadline = time.monotonic() + 15
    while not (a.assignment() and b.assignment()) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await kafka.publish_many(topic, [(f"k{i}", f"new-{i}".encode()) for i in range(40)])
    while len(got_a) + len(got_b) < 40 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks)
    try:
        assert len(a.assignment()) == 2 and len(b.assignment()) == 2
        assert a.assignment().isdisjoint(b.assignment())
        values = sorted(r.value for r in got_a + got_b)
        assert values == sorted(f"new-{i}".encode() for i in range(40))  # nothing old, no dupes
        assert {(r.topic, r.partition) for r in got_b} <= b.assignment()
    finally:
        await a.stop()
        await b.stop()


async def test_crashed_member_partitions_move_after_the_ttl(kafka: KafkaBus) -> None:
    topic = kafka.settings.topics.documents
    await kafka.publish_many(topic, [(f"k{i}", f"{i}".encode()) for i in range(60)])
    crashed = kafka.consumer([topic], "crash")
    assert isinstance(crashed, LeasedKafkaConsumer)
    await crashed.start()
    taken = await poll_until(crashed, 60)
    await crashed.commit(taken[:20])  # processed a third, then "kill -9": no release, no leave
    assert crashed._heartbeat is not None and crashed._consumer is not None
    crashed._heartbeat.cancel()
    await crashed._consumer.stop()

    survivor = kafka.consumer([topic], "crash")
    started = time.monotonic()
    await survivor.start()
    try:
        again = await poll_until(survivor, 40, timeout_s=TTL_MS / 1000 * 4)
        took = time.monotonic() - started
        assert sorted(r.value for r in again) == sorted(r.value for r in taken[20:])
        assert took < TTL_MS / 1000 * 3
        assert len(survivor.assignment()) == 4
    finally:
        await survivor.stop()


async def test_commits_are_kafka_group_offsets(kafka: KafkaBus) -> None:
    """Offsets live in Kafka under the group id, so a restarted member resumes there."""
    topic = kafka.settings.topics.labels
    await kafka.publish_many(topic, [("one-key", f"{i}".encode()) for i in range(10)])
    first = kafka.consumer([topic], "resume")
    await first.start()
    records = await poll_until(first, 10)
    await first.commit(records[:6])
    await first.stop()
    second = kafka.consumer([topic], "resume")
    await second.start()
    try:
        rest = await poll_until(second, 4)
        assert [r.value for r in rest] == [f"{i}".encode() for i in range(6, 10)]
    finally:
        await second.stop()
