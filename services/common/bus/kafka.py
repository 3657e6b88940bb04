"""The bus contract on Kafka (aiokafka).

- Topics are created through the admin API with explicit partitions (idempotent).
- The producer runs with ``acks=all`` and idempotence, so a publish returns only once the record
  is on every in-sync replica and the producer's own retries never duplicate a record. A
  producer the broker stopped recognising (e.g. after a broker restart) is replaced and the
  batch sent again: at-least-once, like everything else here.
- Consumers never auto-commit. ``commit`` commits the next offsets of the records the service
  finished, and only for partitions this member still owns. With Kafka's group protocol
  (``kafka_assignment=group``) a member first waits (bounded) on a rebalance for its in-flight
  batch to be committed, so a normal rebalance neither loses nor redelivers a batch; if the wait
  times out, the late commit is refused by the broker, we log it, and the new owner processes
  those records again (handlers are idempotent). ``kafka_assignment=leases`` coordinates through
  Redis instead (kafka_leases.py, docs/production.md).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
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

from services.common.bus.base import Bus, Consumer, Record, encode_value, next_offsets
from services.common.bus.kafka_config import bounded, client_options, stop_quietly, unavailable
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
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = True
    ) -> Consumer:
        # Groups are namespaced like topics, so deployments sharing a cluster never share a
        # group (and committed offsets) by accident.
        group = f"{self.settings.topic_prefix}{group_id}"
        if self._redis is not None:
            return LeasedKafkaConsumer(
                self.settings, self._redis, list(topics), group, from_beginning
            )
        return KafkaConsumer(self.settings, list(topics), group, from_beginning)


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    out = []
    for entry in getattr(response, "topic_errors", []):
        topic, code = entry[0], entry[1]
        out.append((topic, code, entry[2] if len(entry) > 2 else None))
    return out


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: KafkaConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner._drain({(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.owner._on_assigned({(tp.topic, tp.partition) for tp in assigned})


class KafkaConsumer(Consumer):
    """One member of a Kafka consumer group; see the module docstring for commit semantics."""

    def __init__(
        self,
        settings: CommonSettings,
        topics: list[str],
        group_id: str,
        from_beginning: bool,
        drain_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.from_beginning = from_beginning
        self.drain_timeout_s = drain_timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._assigned: set[tuple[str, int]] = set()
        self._inflight: dict[tuple[str, int], int] = {}  # partition -> next offset not committed
        self._committed_event = asyncio.Event()

    async def start(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self.from_beginning else "latest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
            **client_options(self.settings),
        )
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        try:
            await consumer.start()  # returns once the group assigned this member its share
            # Resolve positions now: with "latest", a record published after start() returns
            # must be seen, as with the in-process bus.
            for tp in consumer.assignment():
                await bounded(self.settings, f"the position of {tp}", consumer.position(tp))
        except (KafkaError, BackendUnavailable) as exc:
            await stop_quietly(self.settings, consumer, self.group_id)
            if isinstance(exc, BackendUnavailable):
                raise
            raise unavailable(self.settings, f"consumer {self.group_id}", exc) from exc
        self._consumer = consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            self._inflight.clear()
            self._committed_event.set()  # nothing left to wait for
            await stop_quietly(self.settings, consumer, self.group_id)
            self._assigned = set()

    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        if self._consumer is None:
            return []
        batches = await self._consumer.getmany(
            timeout_ms=int(timeout_s * 1000), max_records=max_records
        )
        records = [
            Record(
                topic=m.topic,
                partition=m.partition,
                offset=m.offset,
                key=None if m.key is None else m.key.decode("utf-8", errors="replace"),
                value=m.value if m.value is not None else b"",
                timestamp_ms=m.timestamp,
            )
            for msgs in batches.values()
            for m in msgs
        ]
        for tp, off in next_offsets(records).items():
            self._inflight[tp] = max(self._inflight.get(tp, 0), off)
        if records:
            self._committed_event.clear()
        return records

    async def commit(self, records: Sequence[Record]) -> None:
        if self._consumer is None or not records:
            return
        # Partitions revoked (drained) or reassigned are not ours to commit any more.
        owned = self._assigned & {(tp.topic, tp.partition) for tp in self._consumer.assignment()}
        offsets = {tp: o for tp, o in next_offsets(records).items() if tp in owned}
        if offsets:
            try:
                await bounded(self.settings, f"a commit in {self.group_id}", self._consumer.commit(
                    {TopicPartition(t, p): o for (t, p), o in offsets.items()}
                ))
            except (CommitFailedError, IllegalStateError) as exc:
                # The group moved on: these partitions belong to another member now, which
                # starts from the last successful commit and redoes the (idempotent) work.
                log.warning("commit refused after a rebalance in %s: %s", self.group_id, exc)
            except (KafkaError, BackendUnavailable) as exc:
                log.warning("commit failed in %s (records will be read again): %r",
                            self.group_id, exc)
        for tp, off in next_offsets(records).items():
            if self._inflight.get(tp, -1) <= off:
                self._inflight.pop(tp, None)
        if not self._inflight:
            self._committed_event.set()

    def assignment(self) -> set[tuple[str, int]]:
        return set(self._assigned)

    # -- rebalance hooks --------------------------------------------------------------
    async def _drain(self, revoked: set[tuple[str, int]]) -> None:
        """Before giving partitions away, let the batch in hand finish and commit."""
        deadline = time.monotonic() + self.drain_timeout_s
        while revoked & set(self._inflight) and time.monotonic() < deadline:
            try:
                await asyncio.wait_for(
                    self._committed_event.wait(), max(0.0, deadline - time.monotonic())
                )
            except TimeoutError:
                break
            if revoked & set(self._inflight):
                await asyncio.sleep(0.01)
        for tp in revoked:
            self._inflight.pop(tp, None)  # whatever is left will be redelivered to the new owner
        self._assigned -= revoked

    def _on_assigned(self, assigned: set[tuple[str, int]]) -> None:
        self._assigned = set(assigned)
