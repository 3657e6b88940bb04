"""The bus contract on Kafka (aiokafka).

- Topics are created through the admin API with explicit partitions (idempotent).
- The producer runs with ``acks=all`` and idempotence, so a publish returns only once the record
  is on every in-sync replica and the producer's own retries never duplicate a record. A
  producer the broker stopped recognising (e.g. after a broker restart) is replaced and the
  batch sent again: at-least-once, like everything else here.
- Topics get the replication factor and ``min.insync.replicas`` from settings, so with the
  defaults (3 and 2) an acknowledged record survives the loss of any one broker.
- Consumers: Kafka's group protocol decides which member reads which partition
  (kafka_group.py). Group ids are namespaced by the topic prefix.
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

from services.common.bus.base import Bus, Consumer, encode_value
from services.common.bus.kafka_config import client_options, unavailable
from services.common.bus.kafka_group import KafkaConsumer
from services.common.errors import AlstreamError
from services.common.settings import CommonSettings
from services.common.topics import Topics

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36
_INVALID_REPLICATION_FACTOR = 38
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

    async def start(self) -> None:
        if self._producer is not None:
            return
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
            await _warn_if_not_one_partition(admin, topics, existing)
            if missing:
                s = self.settings
                new = [
                    NewTopic(t, topics.partitions(t, s.partitions), s.replication_factor,
                             topic_configs={"min.insync.replicas": str(s.min_insync_replicas),
                                            **topics.configs(t)})
                    for t in missing
                ]
                response = await admin.create_topics(new)
                for topic, code, message in _topic_errors(response):
                    # Another process may have created it between list and create: that's fine.
                    if code == _INVALID_REPLICATION_FACTOR:
                        raise AlstreamError(
                            f"cannot create topic {topic!r} with replication factor "
                            f"{s.replication_factor}: {message}. A cluster with fewer brokers "
                            "(a single dev broker) needs ALSTREAM_REPLICATION_FACTOR=1 and "
                            "ALSTREAM_MIN_INSYNC_REPLICAS=1")
                    if code not in (0, _TOPIC_ALREADY_EXISTS):
                        raise AlstreamError(f"cannot create topic {topic!r}: {code} {message}")
                log.info("created topics %s (partitions %d, labels and models 1; replication "
                         "factor %d, min.insync.replicas %d)", missing, s.partitions,
                         s.replication_factor, s.min_insync_replicas)
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
        return KafkaConsumer(settings, list(topics), group, from_beginning)


async def _warn_if_not_one_partition(admin: AIOKafkaAdminClient, topics: Topics,
                                     existing: set[str]) -> None:
    """Topics created before labels/models had one partition keep their partitions (Kafka
    cannot shrink them): say so loudly, replay order is not deterministic on them."""
    ordered = [t for t in (topics.labels, topics.models) if t in existing]
    if not ordered:
        return
    for described in await admin.describe_topics(ordered):
        n = len(described.get("partitions") or [])
        if n > 1:
            log.warning("topic %s has %d partitions; it needs exactly 1 for one order of "
                        "labels and models (recreate it, or copy it into a 1-partition topic)",
                        described.get("topic"), n)


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    out = []
    for entry in getattr(response, "topic_errors", []):
        topic, code = entry[0], entry[1]
        out.append((topic, code, entry[2] if len(entry) > 2 else None))
    return out
