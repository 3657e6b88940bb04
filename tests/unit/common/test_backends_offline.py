"""Production-backend behaviour that needs no running Kafka or Redis."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import IllegalStateError, OffsetOutOfRangeError

from services.common.bus import MemoryBus
from services.common.bus.kafka import KafkaBus
from services.common.bus.kafka_config import bounded, client_options
from services.common.bus.kafka_group import KafkaConsumer
from services.common.bus.runner import ConsumerLoop, Item
from services.common.errors import BackendUnavailable
from services.common.observability import Metrics
from services.common.schemas import Document
from services.common.settings import CommonSettings
from services.common.store.redis import RedisStore, redact
from services.common.topics import Topics


async def test_backend_outage_retries_the_batch_instead_of_dead_lettering() -> None:
    topics = Topics(prefix="outage.")
    bus = MemoryBus(partitions=1)
    await bus.ensure_topics(topics)
    for i in range(3):
        await bus.publish(topics.documents, Document(id=f"d{i}", text="x"), key="k")
    attempts = 0
    done: list[str] = []

    async def handler(items: list[Item[Document]]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:  # the backend is down for the first two tries
            raise BackendUnavailable("redis is restarting")
        done.extend(i.message.id for i in items)

    metrics = Metrics()
    loop = ConsumerLoop(bus, bus.consumer([topics.documents], "g"), Document, handler,
                        topics.dead_letter, "g", metrics, retry_backoff_s=0.01,
                        poll_timeout_s=0.05)
    task = asyncio.create_task(loop.run())
    for _ in range(200):
        if len(done) == 3:
            break
        await asyncio.sleep(0.01)
    loop.stop()
    await task
    assert done == ["d0", "d1", "d2"]
    assert bus.end_offsets(topics.dead_letter) == [0]  # nothing dead-lettered
    assert bus.committed("g")[(topics.documents, 0)] == 3
    assert metrics.consumer_errors.labels("g")._value.get() == 2


class LateStart:
    """Wraps a consumer whose backend is unreachable for the first ``outages`` starts."""

    def __init__(self, inner, outages: int) -> None:
        self.inner, self.outages, self.starts = inner, outages, 0

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.outages:
            raise BackendUnavailable("kafka is still coming up")
        await self.inner.start()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


async def test_consumer_loop_waits_for_the_backend_at_start() -> None:
    topics = Topics(prefix="late.")
    bus = MemoryBus(partitions=1)
    await bus.ensure_topics(topics)
    await bus.publish(topics.documents, Document(id="d0", text="x"), key="k")
    done: list[str] = []

    async def handler(items: list[Item[Document]]) -> None:
        done.extend(i.message.id for i in items)

    consumer = LateStart(bus.consumer([topics.documents], "g"), outages=2)
    loop = ConsumerLoop(bus, consumer, Document, handler, topics.dead_letter, "g", Metrics(),
                        retry_backoff_s=0.01, poll_timeout_s=0.05)
    task = asyncio.create_task(loop.run())
    for _ in range(200):
        if done:
            break
        await asyncio.sleep(0.01)
    loop.stop()
    await task
    assert consumer.starts == 3
    assert done == ["d0"]


async def test_consumer_loop_stopped_during_an_outage_ends_without_consuming() -> None:
    bus = MemoryBus(partitions=1)
    consumer = LateStart(bus.consumer(["t"], "g"), outages=10**6)
    loop = ConsumerLoop(bus, consumer, Document, lambda items: None, "dlq", "g", Metrics(),
                        retry_backoff_s=0.01)
    task = asyncio.create_task(loop.run())
    for _ in range(500):  # poll, not a fixed sleep: a loaded CI machine may be slow
        if consumer.starts >= 2:
            break
        await asyncio.sleep(0.01)
    loop.stop()
    await asyncio.wait_for(task, 2)
    assert consumer.starts >= 2


async def test_a_kafka_call_that_never_answers_becomes_backend_unavailable() -> None:
    # aiokafka retries commits and offset lookups for as long as the coordinator says
    # "retriable"; bounded() is what keeps such a call from hanging a service forever.
    settings = CommonSettings(kafka_call_timeout_s=0.05)
    never = asyncio.get_running_loop().create_future()
    with pytest.raises(BackendUnavailable, match=r"did not answer a commit within 0\.05 s"):
        await bounded(settings, "a commit", never)
    assert never.cancelled()
    assert await bounded(settings, "a quick call", asyncio.sleep(0, result=7)) == 7


def test_consumer_groups_are_namespaced_by_the_topic_prefix() -> None:
    bus = KafkaBus(CommonSettings(bus="kafka", topic_prefix="tenant-a."))
    assert bus.consumer(["t"], "scorer").group_id == "tenant-a.scorer"  # type: ignore[attr-defined]


async def test_kafka_unreachable_is_a_clear_error() -> None:
    bus = KafkaBus(CommonSettings(bus="kafka", kafka_bootstrap="127.0.0.1:1"))
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1"):
        await bus.start()
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1"):
        await bus.ensure_topics(Topics())
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1"):
        await bus.consumer(["t"], "g").start()


async def test_redis_unreachable_is_a_clear_error() -> None:
    store = RedisStore("redis://:secret@127.0.0.1:1/0", retries=0)
    with pytest.raises(BackendUnavailable, match=r"127\.0\.0\.1:1") as info:
        await store.start()
    assert "secret" not in str(info.value)
    assert not await store.ping()
    await store.stop()


def test_redact_hides_only_the_password() -> None:
    assert redact("redis://user:pw@host:6380/2") == "redis://user:***@host:6380/2"
    assert redact("redis://host:6379/0") == "redis://host:6379/0"


def test_sasl_settings_are_passed_through() -> None:
    settings = CommonSettings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc", kafka_sasl_password="pw", instance_id="scorer-0",
    )
    opts = client_options(settings)
    assert opts["security_protocol"] == "SASL_PLAINTEXT"
    assert (opts["sasl_mechanism"], opts["sasl_plain_username"], opts["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "svc", "pw")
    assert opts["client_id"] == "alstream-scorer-0"
    assert "ssl_context" not in opts
    assert "sasl_mechanism" not in client_options(CommonSettings())


class FakeAioConsumer:
    """The slice of AIOKafkaConsumer that KafkaConsumer.poll uses; the log is [100, 250)."""

    def __init__(self, error: Exception) -> None:
        self.error: Exception | None = error
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return {}

    async def beginning_offsets(self, tps: list) -> dict:
        return dict.fromkeys(tps, 100)

    async def end_offsets(self, tps: list) -> dict:
        return dict.fromkeys(tps, 250)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))


@pytest.mark.parametrize(("position", "expected", "counted"), [
    (40, 100, True),     # retention deleted 40..99: skip only those
    (900, 250, True),    # beyond the end (truncated log): nothing to re-read, no replay
    (120, 120, False),   # inside the log again (a leader catching up): same offset, no reset
])
async def test_out_of_range_position_moves_to_the_nearest_offset_loudly(
    position: int, expected: int, counted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    tp = TopicPartition("alstream.documents", 2)
    fake = FakeAioConsumer(OffsetOutOfRangeError({tp: position}))
    consumer = KafkaConsumer(CommonSettings(), [tp.topic], "alstream.scorer", True)
    consumer._consumer = fake  # type: ignore[assignment]
    metrics = Metrics()
    loop = ConsumerLoop(MemoryBus(), consumer, Document, _noop, "dlq", "scorer", metrics)
    assert loop.consumer.on_offset_reset is not None
    with caplog.at_level(logging.WARNING):
        assert await consumer.poll(10, 0.01) == []
    assert fake.seeks == [(tp, expected)]
    resets = metrics.offset_resets.labels(tp.topic, "2")._value.get()
    assert resets == (1 if counted else 0)
    warning = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "alstream.documents[2]" in warning and str(position) in warning
    assert ("OFFSET RESET" in warning) == counted
    assert await consumer.poll(10, 0.01) == []  # and it goes on fetching


async def _noop(items: list) -> None:
    return None


async def test_a_partition_that_moved_away_before_its_reset_does_not_break_poll(
    caplog: pytest.LogCaptureFixture
) -> None:
    tp = TopicPartition("alstream.documents", 0)
    fake = FakeAioConsumer(OffsetOutOfRangeError({tp: 40}))

    def seek(tp: TopicPartition, offset: int) -> None:
        raise IllegalStateError(f"{tp} is not assigned")  # a rebalance took it meanwhile

    fake.seek = seek  # type: ignore[method-assign]
    consumer = KafkaConsumer(CommonSettings(), [tp.topic], "alstream.scorer", True)
    consumer._consumer = fake  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING):
        assert await consumer.poll(10, 0.01) == []
    assert "could not place" in caplog.text
    assert await consumer.poll(10, 0.01) == []
