"""Kafka's group protocol (kafka_assignment=group) beyond the shared contract.

On a real Kafka cluster the consumer also drains its batch in hand before giving partitions away
(the revoke callback waits for the commit). noida-db refuses commits once a rebalance has begun
(ILLEGAL_GENERATION), so that path is not tested here; see docs/production.md.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from services.common.bus.base import Record
from services.common.bus.kafka import KafkaBus
from services.common.bus.kafka_group import KafkaConsumer
from services.common.settings import CommonSettings
from tests.fixtures.kafka import NoidaKafka

pytestmark = pytest.mark.integration


@pytest.fixture
async def kafka(kafka_broker: NoidaKafka) -> AsyncIterator[KafkaBus]:
    settings = CommonSettings(
        bus="kafka", kafka_bootstrap=kafka_broker.bootstrap, partitions=4,
        topic_prefix=f"rebalance-{uuid.uuid4().hex[:8]}.",
        kafka_session_timeout_ms=6000, kafka_heartbeat_interval_ms=300,
    )
    bus = KafkaBus(settings)
    await bus.start()
    await bus.ensure_topics(settings.topics)
    try:
        yield bus
    finally:
        await bus.stop()


async def poll_all(consumers: list[KafkaConsumer], seconds: float) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for batch in await asyncio.gather(*(c.poll(100, 0.2) for c in consumers)):
            out.extend(batch)
            await asyncio.gather(*(c.commit(batch) for c in consumers if batch))
    return out


async def test_late_commit_after_losing_partitions_is_swallowed(kafka: KafkaBus) -> None:
    topic = kafka.settings.topics.documents
    await kafka.publish_many(topic, [(f"k{i}", f"{i}".encode()) for i in range(40)])
    a = KafkaConsumer(kafka.settings, [topic], "late", True, drain_timeout_s=0.3)
    await a.start()
    in_hand: list[Record] = []
    deadline = time.monotonic() + 10
    while len(in_hand) < 40 and time.monotonic() < deadline:
        in_hand += await a.poll(100, 0.2)
    b = KafkaConsumer(kafka.settings, [topic], "late", True)
    await b.start()  # a's drain times out: its partitions move with the batch uncommitted
    try:
        await a.commit(in_hand)  # refused by the group or filtered out: must not raise
        owned_by_b = b.assignment()
        assert owned_by_b
        again = await poll_all([b], 3.0)
    finally:
        await a.stop()
        await b.stop()
    # b owns part of a's uncommitted batch now and processes exactly those records again.
    expected = [r.value for r in in_hand if (r.topic, r.partition) in owned_by_b]
    assert sorted(r.value for r in again) == sorted(expected)
