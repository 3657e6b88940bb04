"""The bus contract on Kafka (aiokafka).

- Topics are created through the admin API with explicit partitions (idempotent).
- The producer runs with ``acks=all`` and idempotence, so a publish returns only once the record
  is on every in-sync replica and the producer's own retries never duplicate a record. A
  producer the broker stopped recognising (e.g. after a broker restart) is replaced and the
  batch sent again: at-least-once, like everything else here.
- Consumers: which member reads which partition is decided by Kafka's group protocol
  (``kafka_assignment=group``, kafka_group.py) or by leases in Redis (``leases``,
  kafka_leased.py + kafka_leases.py; docs/production.md). Group ids are namespaced by the
  topic prefix.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.bus.base import Bus, Consumer, encode_value
from services.common.bus.kafka_config import client_options, unavailable
from services.common.bus.kafka_group import KafkaConsumer
from services.common.bus.kafka_leased import LeasedKafkaConsumer
from services.common.errors import AlstreamError, BackendUnavailable
from services.common.settings import CommonSettings
from services.common.store.redis import redact
from services.common.topics import Topics

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
# Errors after which an idempotent producer never recovers by itself.
_PRODUCER_STATE_LOST = (
    OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, InvalidProducerIdMapping,
    ProducerFenced,
)


class KafkaBus(Bus):
    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        # Lease-based assignment keeps group membership in Redis (see kafka_leases.py). The
        # client connects lazily: consumers may be created before start().
        self._redis: Redis | None = None
        if settings.kafka_assignment == "leases":
            self._redis = Redis.from_url(settings.redis_url, socket_connect_timeout=5)

    async def start(self) -> None:
        if self._producer is not None:
            return
        if self._redis is not None:
            try:
                await self._redis.ping()
            except RedisError as exc:
                raise BackendUnavailable(
                    f"Redis for consumer leases at {redact(self.settings.redis_url)}: {exc}"
                ) from exc
        self._producer = await self._new_producer()

    async def _new_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            acks="all", enable_idempotence=True, linger_ms=5, **client_options(self.settings)
        )
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise unavailable(self.settings, "producer start", exc) from exc
        return producer

    async def _replace_producer(self, broken: AIOKafkaProducer, why: BaseException) -> None:
        """A producer whose idempotence state the broker no longer knows is dead for good."""
        async with self._producer_lock:
            replaced = self._producer is not broken  # by another publisher meanwhile
            if not replaced:
                log.warning("Kafka producer failed (%r); starting a new one", why)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(broken.stop(), 5)
                self._producer = await self._new_producer()

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()  # flushes what is still buffered
        if self._redis is not None:
            await self._redis.aclose()

    async def ensure_topics(self, topics: Topics) -> None:
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        try:
            await admin.start()
        except KafkaError as exc:
            await admin.close()
            raise unavailable(self.settings, "admin start", exc) from exc
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in topics.all() if t not in existing]
            if missing:
                new = [
                    NewTopic(t, self.settings.partitions, self.settings.replication_factor)
                    for t in missing
                ]
                response = await admin.create_topics(new)
                for topic, code, message in _topic_errors(response):
                    # Another process may have created it between list and create: that's fine.
                    if code not in (0, _TOPIC_ALREADY_EXISTS):
                        raise AlstreamError(f"cannot create topic {topic!r}: {code} {message}")
                log.info("created topics %s with %d partitions", missing, self.settings.partitions)
        finally:
            await admin.close()

    def _require_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise AlstreamError("KafkaBus.start() was not called")
        return self._producer

    async def publish(self, topic: str, value: BaseModel | bytes, key: str | None = None) -> None:
        await self.publish_many(topic, [(key, value)])

    async def publish_many(
        self, topic: str, items: Sequence[tuple[str | None, BaseModel | bytes]]
    ) -> None:
        records = [(None if k is None else k.encode(), encode_value(v)) for k, v in items]
        for attempt in (1, 2):
            producer = self._require_producer()
            try:
                # Queue everything first, then wait for all acks: one round trip per batch,
                # not per record.
                futures = [await producer.send(topic, value, key=key) for key, value in records]
                await asyncio.gather(*futures)
                return
            except _PRODUCER_STATE_LOST as exc:
                # E.g. a broker restarted without the producer's sequence numbers. Retrying on
                # a new producer may write some records twice: consumers are idempotent.
                if attempt == 2:
                    raise unavailable(self.settings, f"publish to {topic}", exc) from exc
                await self._replace_producer(producer, exc)
            except KafkaError as exc:
                raise unavailable(self.settings, f"publish to {topic}", exc) from exc

    def consumer(
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = True,
        fetch_wait_ms: int | None = None,
    ) -> Consumer:
        # Groups are namespaced like topics, so deployments sharing a cluster never share a
        # group (and committed offsets) by accident.
        group = f"{self.settings.topic_prefix}{group_id}"
        settings = self.settings if fetch_wait_ms is None else self.settings.model_copy(
            update={"kafka_fetch_max_wait_ms": fetch_wait_ms})
        if self._redis is not None:
            return LeasedKafkaConsumer(settings, self._redis, list(topics), group, from_beginning)
        return KafkaConsumer(settings, list(topics), group, from_beginning)


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    out = []
    for entry in getattr(response, "topic_errors", []):
        topic, code = entry[0], entry[1]
        out.append((topic, code, entry[2] if len(entry) > 2 else None))
    return out
