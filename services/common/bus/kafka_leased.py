"""A Kafka consumer whose partitions come from Redis leases (see kafka_leases.py).

Assignment changes are applied at the start of ``poll``, when the previous batch has been
committed, so a partition is handed over only after its last batch is done: the next owner
starts exactly at the committed offset. If the batch in hand is not committed within
``drain_timeout_s`` the partition is handed over anyway and the new owner processes the
uncommitted records again (at-least-once; handlers are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.aio import cancel_and_wait
from services.common.bus.base import Consumer, Record, next_offsets
from services.common.bus.kafka_config import (
    bounded,
    client_options,
    fetch,
    stop_quietly,
    unavailable,
)
from services.common.bus.kafka_leases import LeaseView, PartitionLeases
from services.common.errors import BackendUnavailable
from services.common.settings import CommonSettings

log = logging.getLogger(__name__)
TP = tuple[str, int]


class LeasedKafkaConsumer(Consumer):
    def __init__(
        self,
        settings: CommonSettings,
        redis: Redis,
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
        self.ttl_s = settings.kafka_lease_ttl_ms / 1000
        # Heartbeats well inside the TTL, so a live member never loses a lease by accident.
        self.heartbeat_s = min(1.0, self.ttl_s / 4)
        member = f"{settings.instance_id}-{uuid.uuid4().hex[:8]}"
        self._leases = PartitionLeases(
            redis, settings.redis_prefix, group_id, member, settings.kafka_lease_ttl_ms
        )
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TP] = []
        self._owned: set[TP] = set()
        self._pending: LeaseView | None = None
        self._pending_since = 0.0
        self._valid_until = 0.0  # leases are trusted until this monotonic time
        self._inflight: dict[TP, int] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            group_id=self.group_id,  # used for offset commits only: no group join
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self.from_beginning else "latest",
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            **client_options(self.settings),
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await stop_quietly(self.settings, consumer, self.group_id)
            raise unavailable(self.settings, f"consumer {self.group_id}", exc) from exc
        self._consumer = consumer
        try:
            await self._refresh_partitions()
            await self._sync()
            await self._apply(force=True)
        except BaseException:
            await self.stop()  # hands back what the sync took
            raise
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="lease-heartbeat")

    async def stop(self) -> None:
        if self._consumer is None:
            return
        consumer, self._consumer = self._consumer, None
        if self._heartbeat is not None:
            # Ended for sure before leaving: a late heartbeat would take the leases back.
            await cancel_and_wait(self._heartbeat)
            self._heartbeat = None
        try:
            await self._leases.leave(self._owned)  # hand everything over right away
        except RedisError as exc:
            log.warning("could not release leases of %s (they expire): %s", self.group_id, exc)
        self._owned = set()
        self._inflight.clear()
        await stop_quietly(self.settings, consumer, self.group_id)

    # -- leases -------------------------------------------------------------------------
    async def _sync(self) -> None:
        view = await self._leases.sync(self._partitions)
        self._valid_until = time.monotonic() + self.ttl_s * 0.8
        if view.held != self._owned or view.release:
            if self._pending is None:
                self._pending_since = time.monotonic()
            self._pending = view

    async def _heartbeat_loop(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self.heartbeat_s)
            if self._consumer is None:  # stopped: ends even if a cancellation got swallowed
                return
            beats += 1
            if not self._partitions or beats % 60 == 0:
                await self._refresh_partitions()  # topics created late, partitions added
            try:
                await self._sync()
            except RedisError as exc:
                log.warning("lease heartbeat for %s failed: %s", self.group_id, exc)

    async def _refresh_partitions(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        try:
            await consumer.topics()  # refreshes metadata
        except KafkaError as exc:
            log.warning("metadata refresh for %s failed: %r", self.group_id, exc)
            return
        self._partitions = sorted(
            (t, p) for t in self.topics for p in (consumer.partitions_for_topic(t) or ())
        )

    async def _apply(self, force: bool = False) -> None:
        """Take on the pending assignment once nothing leaving us is in flight."""
        view, consumer = self._pending, self._consumer
        if view is None or consumer is None:
            return
        leaving = self._owned - view.held
        busy = leaving & set(self._inflight)
        if busy and not force and time.monotonic() - self._pending_since < self.drain_timeout_s:
            return
        if view.held != self._owned:
            # Partitions we keep continue from where we are, not from the last commit.
            kept = {tp: await self._position(consumer, tp) for tp in self._owned & view.held}
            consumer.assign([TopicPartition(*tp) for tp in sorted(view.held)])
            for tp, position in kept.items():
                consumer.seek(TopicPartition(*tp), position)
            for tp in view.held - self._owned:
                # Resolves the committed offset (or "latest") now. If the broker does not
                # answer, the view stays pending and the next poll tries again.
                await self._position(consumer, tp)
            for tp in leaving:
                self._inflight.pop(tp, None)
            log.info("%s now reads %d partitions (was %d)", self.group_id, len(view.held),
                     len(self._owned))
            self._owned = set(view.held)
        self._pending = None
        if view.release:
            try:
                await self._leases.release(view.release)
            except RedisError as exc:  # they expire after the TTL instead
                log.warning("could not release leases of %s: %s", self.group_id, exc)

    async def _position(self, consumer: AIOKafkaConsumer, tp: TP) -> int:
        where = f"the position of {tp[0]}[{tp[1]}] for {self.group_id}"
        position: int = await bounded(self.settings, where, consumer.position(TopicPartition(*tp)))
        return position

    # -- consumer contract ------------------------------------------------------------
    async def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        consumer = self._consumer
        if consumer is None:
            return []
        try:
            await self._apply()
        except BackendUnavailable as exc:
            log.warning("reassignment of %s postponed: %s", self.group_id, exc)
            await asyncio.sleep(timeout_s)
            return []
        if not self._owned or time.monotonic() > self._valid_until:
            # Nothing to read, or our leases may have expired (Redis unreachable): wait.
            await asyncio.sleep(timeout_s)
            return []
        records = await fetch(self.settings, consumer, timeout_s, max_records)
        for tp, off in next_offsets(records).items():
            self._inflight[tp] = max(self._inflight.get(tp, 0), off)
        return records

    async def commit(self, records: Sequence[Record]) -> None:
        consumer = self._consumer
        if consumer is None or not records:
            return
        offsets = {tp: o for tp, o in next_offsets(records).items() if tp in self._owned}
        if offsets:
            try:
                await bounded(self.settings, f"a commit in {self.group_id}", consumer.commit(
                    {TopicPartition(*tp): o for tp, o in offsets.items()}))
            except (KafkaError, BackendUnavailable) as exc:
                # Not committed: the records are read again later (at-least-once).
                log.warning("commit failed in %s: %r", self.group_id, exc)
        for tp, off in next_offsets(records).items():
            if self._inflight.get(tp, -1) <= off:
                self._inflight.pop(tp, None)

    def assignment(self) -> set[TP]:
        return set(self._owned)
