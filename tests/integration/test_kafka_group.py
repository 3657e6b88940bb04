"""Kafka's group protocol on a real broker, beyond the shared contract: rebalance drain, late
commits, and loud offset resets (retention deleted what the group had not read yet; a
committed offset beyond the log end)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from services.common.bus.base import Record
from services.common.bus.kafka import KafkaBus
from services.common.bus.kafka_group import KafkaConsumer
from services.common.bus.runner import ConsumerLoop
from services.common.observability import Metrics
from services.common.schemas import Document
from services.common.settings import CommonSettings
from tests.fixtures.kafka import KafkaCluster

pytestmark = pytest.mark.integration


@pytest.fixture
async def kafka(kafka_broker: KafkaCluster) -> AsyncIterator[KafkaBus]:
    settings = CommonSettings(
        bus="kafka", kafka_bootstrap=kafka_broker.bootstrap, partitions=4,
        topic_prefix=f"rebalance-{uuid.uuid4().hex[:8]}.", replication_factor=1,
        min_insync_replicas=1, kafka_session_timeout_ms=6000, kafka_heartbeat_interval_ms=300,
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


async def take(consumer: KafkaConsumer, n: int, seconds: float = 20) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + seconds
    while len(out) < n and time.monotonic() < deadline:
        out += await consumer.poll(100, 0.2)
    return out


async def test_rebalance_drains_the_batch_in_hand(kafka: KafkaBus) -> None:
    """A member still processing when a rebalance starts finishes and commits first: the new
    member starts after that commit, so nothing is lost and nothing is processed twice."""
    topic = kafka.settings.topics.documents
    await kafka.publish_many(topic, [(f"k{i}", f"{i}".encode()) for i in range(40)])
    a = KafkaConsumer(kafka.settings, [topic], "drain", True, drain_timeout_s=15)
    await a.start()
    in_hand = await take(a, 40)
    assert len(in_hand) == 40

    async def finish_processing() -> None:
        await asyncio.sleep(2.0)  # the handler is still busy when b joins
        await a.commit(in_hand)

    processing = asyncio.create_task(finish_processing())
    b = KafkaConsumer(kafka.settings, [topic], "drain", True)
    joining = asyncio.create_task(b.start())
    try:
        # a keeps polling (its heartbeat and revoke callback run inside the client) until the
        # group settles; its revoke callback waits for the commit.
        deadline = time.monotonic() + 40
        while not joining.done() and time.monotonic() < deadline:
            assert await a.poll(100, 0.2) == []  # nothing new was published
        await joining
        await processing
        assert b.assignment(), "b got no partitions"
        again = await poll_all([a, b], 3.0)
    finally:
        await a.stop()
        await b.stop()
    assert again == [], f"{len(again)} records processed twice after a drained rebalance"


async def test_late_commit_after_losing_partitions_is_swallowed(kafka: KafkaBus) -> None:
    """When the drain times out, a's batch goes to b uncommitted and b redoes exactly that."""
    topic = kafka.settings.topics.documents
    await kafka.publish_many(topic, [(f"k{i}", f"{i}".encode()) for i in range(40)])
    a = KafkaConsumer(kafka.settings, [topic], "late", True, drain_timeout_s=0.3)
    await a.start()
    in_hand = await take(a, 40)
    b = KafkaConsumer(kafka.settings, [topic], "late", True)
    joining = asyncio.create_task(b.start())
    deadline = time.monotonic() + 40
    while not joining.done() and time.monotonic() < deadline:
        await a.poll(100, 0.2)
    await joining  # a's drain timed out: its partitions moved with the batch uncommitted
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


async def _commit_raw(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    """Commit an arbitrary offset for a group, as a stale or foreign client might."""
    raw = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                           enable_auto_commit=False)
    await raw.start()
    try:
        raw.assign([tp])
        await raw.commit({tp: offset})
    finally:
        await raw.stop()


@pytest.mark.parametrize("case", ["deleted", "beyond-end"])
async def test_offset_reset_is_loud_and_moves_to_the_nearest_offset(
    kafka: KafkaBus, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Retention deleted records the group had not read (committed 5, log starts at 15): it
    continues at 15, skipping only deleted records. A committed offset beyond the log end: it
    continues at the end, replaying nothing (aiokafka's "earliest" would re-read it all)."""
    topic = kafka.settings.topics.review_requests
    key = "one-key"  # everything in one partition
    docs = [Document(id=f"d{i}", text=f"text {i}") for i in range(20)]
    await kafka.publish_many(topic, [(key, d) for d in docs])
    group = f"{kafka.settings.topic_prefix}resets"
    probe = kafka.consumer([topic], "probe")
    await probe.start()
    first = await take(probe, 20)  # type: ignore[arg-type]
    await probe.stop()
    tp = TopicPartition(topic, first[0].partition)
    if case == "deleted":
        await _commit_raw(kafka.settings.kafka_bootstrap, group, tp, 5)
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_records({tp: RecordsToDelete(before_offset=15)})
        finally:
            await admin.close()
        expected, old, new = [f"d{i}" for i in range(15, 20)], 5, 15
    else:
        await _commit_raw(kafka.settings.kafka_bootstrap, group, tp, 500)
        await kafka.publish(topic, Document(id="d20", text="after"), key=key)
        expected, old, new = [], 500, 21

    seen: list[str] = []

    async def handler(items: list) -> None:  # type: ignore[type-arg]
        seen.extend(item.message.id for item in items)

    metrics = Metrics()
    loop = ConsumerLoop(kafka, kafka.consumer([topic], "resets"), Document, handler,
                        kafka.settings.topics.dead_letter, "resets", metrics, poll_timeout_s=0.2)
    with caplog.at_level(logging.WARNING, logger="services.common.bus.kafka_group"):
        task = asyncio.create_task(loop.run())
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (
                    metrics.offset_resets.labels(topic, str(tp.partition))._value.get()
                    and len(seen) >= len(expected)):
                await asyncio.sleep(0.1)
            if case == "beyond-end":  # a record after the reset point arrives, nothing older
                await kafka.publish(topic, Document(id="d21", text="new"), key=key)
                expected = ["d21"]
                while time.monotonic() < deadline and len(seen) < 1:
                    await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # anything replayed by mistake arrives now
        finally:
            loop.stop()
            await task
    assert seen == expected, Counter(seen)
    assert metrics.offset_resets.labels(topic, str(tp.partition))._value.get() == 1
    warnings = [r.getMessage() for r in caplog.records if "OFFSET RESET" in r.getMessage()]
    assert len(warnings) == 1
    assert f"{topic}[{tp.partition}] position {old}" in warnings[0]
    assert f"continuing at {new}" in warnings[0]


async def test_labels_topic_created_with_several_partitions_is_reported(
    kafka_broker: KafkaCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """An old deployment's labels topic with 3 partitions cannot be shrunk: warn at start."""
    from aiokafka.admin import NewTopic

    settings = CommonSettings(bus="kafka", kafka_bootstrap=kafka_broker.bootstrap,
                              topic_prefix=f"old-{uuid.uuid4().hex[:8]}.", replication_factor=1,
                              min_insync_replicas=1)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topics.labels, 3, 1)])
    finally:
        await admin.close()
    bus = KafkaBus(settings)
    with caplog.at_level(logging.WARNING, logger="services.common.bus.kafka"):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "has 3 partitions" not in caplog.text:
            await bus.ensure_topics(settings.topics)  # metadata may lag the creation
            await asyncio.sleep(0.2)
    assert f"topic {settings.topics.labels} has 3 partitions" in caplog.text


async def test_observations_topic_is_created_with_bounded_retention(
    kafka_broker: KafkaCluster,
) -> None:
    """Soft state: a trainer back from an outage must not read every embedding since."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    settings = CommonSettings(bus="kafka", kafka_bootstrap=kafka_broker.bootstrap,
                              topic_prefix=f"ret-{uuid.uuid4().hex[:8]}.", replication_factor=1,
                              min_insync_replicas=1)
    await KafkaBus(settings).ensure_topics(settings.topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        names = [settings.topics.observations, settings.topics.labels]
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    finally:
        await admin.close()
    found = {r[3]: {c[0]: c[1] for c in r[4]} for r in response.resources}
    assert found[settings.topics.observations]["retention.ms"] == str(6 * 3_600_000)
    assert found[settings.topics.observations]["segment.ms"] == str(3_600_000)
    assert found[settings.topics.labels]["retention.ms"] != str(6 * 3_600_000)  # the log stays

