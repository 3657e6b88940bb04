"""Production-backend behaviour that needs no running Kafka or Redis."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from services.common.bus import MemoryBus, Record
from services.common.bus.kafka import KafkaBus
from services.common.bus.kafka_config import bounded, client_options, fetch
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
    await asyncio.sleep(0.05)
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


MESSAGE = SimpleNamespace(topic="t", partition=1, offset=7, key=b"k", value=b"v", timestamp=5)
RECORD = Record("t", 1, 7, "k", b"v", 5)


class FakeFetcher:
    """The slice of AIOKafkaConsumer that fetch() uses; records arrive on the 3rd fetch."""

    def __init__(self, assigned: set) -> None:
        self.assigned, self._paused, self.calls = set(assigned), set(), 0
        self.paused_while_sleeping: list[set] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        assert not self._paused, "fetched while partitions were paused"
        self.calls += 1
        return {"tp": [MESSAGE]} if self.calls == 3 else {}

    def assignment(self) -> set:
        return set(self.assigned)

    def paused(self) -> set:
        return set(self._paused)

    def pause(self, *tps) -> None:
        self._paused |= set(tps)
        self.paused_while_sleeping.append(set(tps))

    def resume(self, *tps) -> None:
        assert set(tps) <= self.assigned, "resumed a partition we no longer own"
        self._paused -= set(tps)


async def test_idle_backoff_pauses_between_short_fetches() -> None:
    consumer = FakeFetcher({"a", "b"})
    settings = CommonSettings(kafka_idle_backoff_ms=10)
    assert await fetch(settings, consumer, 5.0, 10) == [RECORD]  # type: ignore[arg-type]
    assert consumer.calls == 3 and consumer.paused_while_sleeping == [{"a", "b"}] * 2
    assert consumer.paused() == set()
    # Off (the default): one plain getmany, nothing paused.
    plain = FakeFetcher({"a"})
    assert await fetch(CommonSettings(), plain, 0.01, 10) == []  # type: ignore[arg-type]
    assert plain.calls == 1 and plain.paused_while_sleeping == []


async def test_idle_backoff_never_resumes_a_partition_taken_away_meanwhile() -> None:
    consumer = FakeFetcher({"a", "b"})
    original_pause = consumer.pause

    def pause_then_lose_b(*tps) -> None:
        original_pause(*tps)
        consumer.assigned.discard("b")  # a rebalance during the pause
        consumer._paused.discard("b")

    consumer.pause = pause_then_lose_b  # type: ignore[method-assign]
    settings = CommonSettings(kafka_idle_backoff_ms=10)
    assert await fetch(settings, consumer, 0.05, 10) in ([], [RECORD])  # type: ignore[arg-type]
    assert consumer.paused() == set()
