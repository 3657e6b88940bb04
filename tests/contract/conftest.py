"""Backends under contract test: each test runs on memory, and (integration) on Kafka/Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from services.common.bus import Bus, MemoryBus
from services.common.settings import CommonSettings
from services.common.store import MemoryStore, Store
from services.common.topics import Topics

PARTITIONS = 3


@dataclass
class BusUnderTest:
    backend: str
    bus: Bus
    topics: Topics
    partitions: int
    settle_s: float  # how long to watch for records that must not arrive


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[BusUnderTest]:
    """The in-process bus, and a real Kafka broker (KRaft, group protocol)."""
    # A fresh topic prefix per test: tests never see each other's records or groups.
    topics = Topics(prefix=f"contract-{uuid.uuid4().hex[:8]}.")
    impl: Bus
    if request.param == "memory":
        impl = MemoryBus(partitions=PARTITIONS)
    else:
        from services.common.bus.kafka import KafkaBus

        broker = request.getfixturevalue("kafka_broker")
        impl = KafkaBus(CommonSettings(
            bus="kafka", kafka_bootstrap=broker.bootstrap, topic_prefix=topics.prefix,
            partitions=PARTITIONS, kafka_session_timeout_ms=6000, kafka_heartbeat_interval_ms=300,
            replication_factor=1, min_insync_replicas=1,  # a single broker
        ))
    await impl.start()
    await impl.ensure_topics(topics)
    try:
        settle_s = 0.2 if request.param == "memory" else 1.0
        yield BusUnderTest(request.param, impl, topics, PARTITIONS, settle_s)
    finally:
        await impl.stop()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    impl: Store
    if request.param == "memory":
        impl = MemoryStore()
    else:
        from services.common.store.redis import RedisStore

        url = request.getfixturevalue("redis_url")
        impl = RedisStore(url, prefix=request.getfixturevalue("redis_prefix"))
    await impl.start()
    try:
        yield impl
    finally:
        await impl.stop()


@pytest.fixture
async def second_store(request: pytest.FixtureRequest, store: Store) -> AsyncIterator[Store]:
    """Another client on the same data, as a second process would have (memory: the same)."""
    from services.common.store.redis import RedisStore

    if not isinstance(store, RedisStore):
        yield store
        return
    other = RedisStore(store.url, prefix=store.prefix)
    await other.start()
    try:
        yield other
    finally:
        await other.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A contract test takes seconds; a hang (a broker that stops answering) should fail fast
    # rather than use up the suite-wide timeout.
    here = str(__file__).rsplit("/", 1)[0]
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.timeout(120))
